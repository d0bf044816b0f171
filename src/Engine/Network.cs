using Engine.Data;
using Engine.Layers;
using Engine.Losses;
using Engine.Specs;
using Engine.Tensors;

namespace Engine;

/// <summary>
/// A <see cref="ModelSpec"/> made runnable: its layers in order, the loss, and the flat list of
/// parameters an optimizer steps. Not thread-safe: layers reuse their buffers across calls, so one
/// network serves one caller at a time (including <see cref="Predict"/>).
/// </summary>
public sealed class Network
{
    /// <summary>Rows per forward pass in <see cref="Predict"/>, so a large request does not grow every layer buffer to its size.</summary>
    private const int PredictChunk = 1024;

    private readonly Layer[] _layers;
    private readonly Parameter[] _parameters;

    private Network(ModelSpec spec, Layer[] layers, Loss loss, int inputWidth)
    {
        Spec = spec;
        _layers = layers;
        Loss = loss;
        InputWidth = inputWidth;
        _parameters = [.. layers.SelectMany(l => l.Parameters)];
    }

    public ModelSpec Spec { get; }
    public IReadOnlyList<Layer> Layers => _layers;
    public Loss Loss { get; }
    /// <summary>All learnable parameters, layer by layer, weight before bias.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;
    /// <summary>Features per sample: the product of <see cref="ModelSpec.Input"/> (dense layers flatten).</summary>
    public int InputWidth { get; }
    public int OutputWidth => _layers.Length == 0 ? InputWidth : _layers[^1].OutputWidth;
    /// <summary>Applied by <see cref="Predict"/> to raw inputs; training data is expected already transformed.</summary>
    public InputTransform? Transform { get; set; }

    /// <summary>
    /// Builds the layers and initializes weights from <paramref name="rng"/> layer by layer, so one seed
    /// gives the same weights. Dropout layers keep <paramref name="rng"/> and draw their masks from it.
    /// </summary>
    public static Network Create(ModelSpec spec, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(rng);
        if (spec.Input is not { Length: > 0 }) throw new ArgumentException("The input shape is empty.", nameof(spec));
        long inputWidth = 1;
        foreach (var d in spec.Input)
        {
            if (d <= 0) throw new ArgumentException($"Input dimension {d} is not positive.", nameof(spec));
            inputWidth = checked(inputWidth * d);
        }
        int width = checked((int)inputWidth);
        var layers = new Layer[spec.Layers.Count];
        for (int i = 0; i < layers.Length; i++)
        {
            layers[i] = CreateLayer(spec.Layers[i], i, width, rng);
            width = layers[i].OutputWidth;
        }
        return new Network(spec, layers, Loss.Create(spec.Loss), (int)inputWidth);
    }

    private static Layer CreateLayer(LayerSpec spec, int index, int width, Rng rng)
    {
        string prefix = $"layers.{index}.";
        switch (spec)
        {
            case DenseSpec d:
                var dense = new Dense(width, d.Units, prefix);
                Initializers.Fill(dense.Weight.Value, width, d.Units, d.Init, d.Std, rng);
                return dense;
            case ReluSpec: return new Relu(width);
            case LeakyReluSpec l: return new LeakyRelu(width, l.Alpha);
            case SigmoidSpec: return new Sigmoid(width);
            case TanhSpec: return new Tanh(width);
            case BatchNormSpec b: return new BatchNorm(width, b.Momentum, b.Epsilon, prefix);
            case DropoutSpec d: return new Dropout(width, d.Rate, rng);
            default: throw new ArgumentException($"Unknown layer type at index {index}: {spec.GetType().Name}.", nameof(spec));
        }
    }

    /// <summary>
    /// Runs every layer. The returned tensor belongs to the last layer; <paramref name="x"/> must stay
    /// unchanged until <see cref="Backward"/> (layers keep references to their inputs).
    /// </summary>
    public Tensor Forward(Tensor x, bool training)
    {
        if (x.Cols != InputWidth) throw new ArgumentException($"Expected {InputWidth} input columns, got {x.Cols}.", nameof(x));
        foreach (var layer in _layers) x = layer.Forward(x, training);
        return x;
    }

    /// <summary>Mean loss of <paramref name="output"/> (from <see cref="Forward"/>) against the batch's targets.</summary>
    public float ComputeLoss(Tensor output, Targets t) => Loss.Forward(output, t);

    /// <summary>Backpropagates the last <see cref="ComputeLoss"/> through all layers, accumulating (+=) parameter gradients.</summary>
    public void Backward()
    {
        var dy = Loss.Backward();
        for (int i = _layers.Length - 1; i >= 0; i--) dy = _layers[i].Backward(dy);
    }

    public void ZeroGrad()
    {
        foreach (var p in _parameters) p.ZeroGrad();
    }

    /// <summary>
    /// Predictions for <paramref name="count"/> raw samples: applies <see cref="Transform"/> to a copy,
    /// runs in evaluation mode and applies the loss's activation. Returns count × <see cref="OutputWidth"/>
    /// probabilities (softmax / sigmoid) or raw values (MSE).
    /// </summary>
    public float[] Predict(ReadOnlySpan<float> rawInputs, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (rawInputs.Length != (long)count * InputWidth)
            throw new ArgumentException($"Expected {count}×{InputWidth} = {(long)count * InputWidth} values, got {rawInputs.Length}.", nameof(rawInputs));
        var result = new float[checked(count * OutputWidth)];
        var input = new Tensor(Math.Min(count, PredictChunk), InputWidth);
        for (int start = 0; start < count; start += PredictChunk)
        {
            int rows = Math.Min(PredictChunk, count - start);
            input.Resize(rows, InputWidth);
            rawInputs.Slice(start * InputWidth, rows * InputWidth).CopyTo(input.Span);
            Transform?.Apply(input.Span, InputWidth);
            Forward(input, training: false).Span.CopyTo(result.AsSpan(start * OutputWidth));
        }
        Loss.Activate(result, OutputWidth);
        return result;
    }
}
