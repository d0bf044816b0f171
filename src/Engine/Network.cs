using Engine.Kernels;
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
    private readonly NamedBuffer[] _buffers;
    private readonly int _firstTrainable;
    private Rng _rng;

    private Network(ModelSpec spec, Layer[] layers, Loss loss, int inputWidth, Rng rng)
    {
        Spec = spec;
        _rng = rng;
        _layers = layers;
        Loss = loss;
        InputWidth = inputWidth;
        _parameters = [.. layers.SelectMany(l => l.Parameters)];
        _buffers = [.. layers.SelectMany(l => l.Buffers)];
        _firstTrainable = Array.FindIndex(layers, l => l.Parameters.Count > 0);
        _pooledRelu = new Relu?[layers.Length];
        for (int i = 0; i + 1 < layers.Length; i++)
            if (layers[i] is Relu && layers[i + 1] is MaxPool2d pool) _pooledRelu[i] = new Relu(pool.OutputWidth);
        _convPool = new MaxPool2d?[layers.Length];
        for (int i = 0; i + 2 < layers.Length; i++)
            if (layers[i] is Conv2d conv && _pooledRelu[i + 1] is not null && layers[i + 2] is MaxPool2d pool && conv.CanPoolDirectly(pool))
                _convPool[i] = pool;
    }

    /// <summary>
    /// For a conv whose swapped ReLU and 2×2 max pooling follow (index of the conv): the pooling, written by the conv itself
    /// (<see cref="Conv2d.ForwardPooled"/>) so that the conv's full-size output is never stored and read back, and whose
    /// gradient the conv takes directly.
    /// </summary>
    private readonly MaxPool2d?[] _convPool;

    /// <summary>
    /// For a ReLU followed by max pooling (index of the ReLU): a ReLU over the pooled width, run after the pooling instead.
    /// max(relu(x)) = relu(max(x)) with the same window maximum winning, so values and gradients keep their bits, and
    /// the ReLU's passes touch a quarter of the elements (a 2×2 pool).
    /// </summary>
    private readonly Relu?[] _pooledRelu;

    public ModelSpec Spec { get; }
    public IReadOnlyList<Layer> Layers => _layers;
    public Loss Loss { get; }
    /// <summary>All learnable parameters, layer by layer, weight before bias.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;
    /// <summary>Non-learnable state (BatchNorm running statistics), layer by layer.</summary>
    public IReadOnlyList<NamedBuffer> Buffers => _buffers;

    /// <summary>
    /// The random stream dropout masks are drawn from (the <see cref="Rng"/> given to <see cref="Create"/>).
    /// Setting it re-points every Dropout layer, e.g. to <c>Rng.FromState(saved)</c> when resuming.
    /// </summary>
    public Rng Rng
    {
        get => _rng;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            _rng = value;
            foreach (var dropout in _layers.OfType<Dropout>()) dropout.Rng = value;
        }
    }

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
        var shapes = ShapeInference.InputShapes(spec);
        var layers = new Layer[spec.Layers.Count];
        for (int i = 0; i < layers.Length; i++) layers[i] = CreateLayer(spec.Layers[i], i, shapes[i], rng);
        return new Network(spec, layers, Loss.Create(spec.Loss), (int)inputWidth, rng);
    }

    private static Layer CreateLayer(LayerSpec spec, int index, ActivationShape shape, Rng rng)
    {
        string prefix = $"layers.{index}.";
        int width = checked((int)shape.Width);
        int c = shape.Channels, h = shape.Dims.Length >= 2 ? shape.Dims[^2] : 1, w = shape.Dims[^1];
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
            case BatchNormSpec b when shape.Image: return new BatchNorm(c, b.Momentum, b.Epsilon, prefix, shape.Plane);
            case BatchNormSpec b: return new BatchNorm(width, b.Momentum, b.Epsilon, prefix);
            case Conv2dSpec cs:
                var conv = new Conv2d(c, h, w, cs.Filters, cs.Kernel, cs.Stride, cs.Padding.Resolve(cs.Kernel), cs.Bias, prefix);
                Initializers.Fill(conv.Weight.Value, conv.PatchSize, cs.Filters * cs.Kernel * cs.Kernel, cs.Init, cs.Std, rng);
                return conv;
            case MaxPool2dSpec m: return new MaxPool2d(c, h, w, m.Size, m.Stride ?? m.Size);
            case AvgPool2dSpec a: return new AvgPool2d(c, h, w, a.Size, a.Stride ?? a.Size);
            case GlobalAvgPool2dSpec: return new GlobalAvgPool2d(c, shape.Plane);
            case FlattenSpec: return new Flatten(width);
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
        for (int i = 0; i < _layers.Length; i++)
        {
            if (_convPool[i] is { } pool)
            {
                x = _pooledRelu[i + 1]!.Forward(((Conv2d)_layers[i]).ForwardPooled(x, pool), training);
                i += 2;
                continue;
            }
            if (_pooledRelu[i] is { } relu)
            {
                x = relu.Forward(_layers[++i].Forward(x, training), training);
                continue;
            }
            x = _layers[i].Forward(x, training);
        }
        return x;
    }

    /// <summary>Mean loss of <paramref name="output"/> (from <see cref="Forward"/>) against the batch's targets.</summary>
    public float ComputeLoss(Tensor output, Targets t) => Loss.Forward(output, t);

    /// <summary>
    /// Backpropagates the last <see cref="ComputeLoss"/>, accumulating (+=) parameter gradients. It stops at
    /// the first layer with parameters: gradients with respect to the input are never needed.
    /// </summary>
    public void Backward() => BackwardThrough(pairsSwapped: true);

    /// <summary>
    /// <see cref="Backward"/> after a forward pass that ran every layer in spec order, one by one (the layer
    /// diagnostics), instead of through <see cref="Forward"/>.
    /// </summary>
    internal void BackwardInSpecOrder() => BackwardThrough(pairsSwapped: false);

    private void BackwardThrough(bool pairsSwapped)
    {
        var dy = Loss.Backward();
        if (_firstTrainable < 0) return;
        for (int i = _layers.Length - 1; i > _firstTrainable; i--)
        {
            // The pooling of a swapped pair (i), then its ReLU's index (i - 1) is done with.
            if (pairsSwapped && _pooledRelu[i - 1] is { } relu)
            {
                // A conv that wrote this pooling takes its gradient as the pooling receives it.
                if (_convPool[i - 2] is { } pool)
                {
                    var conv = (Conv2d)_layers[i - 2];
                    if (i - 2 == _firstTrainable)
                    {
                        conv.BackwardParametersPooled(relu.Backward(dy), pool);
                        return;
                    }
                    dy = conv.BackwardPooled(relu.Backward(dy), pool);
                    i -= 2;
                    continue;
                }
                dy = _layers[i--].Backward(relu.Backward(dy));
            }
            else dy = _layers[i].Backward(dy);
        }
        _layers[_firstTrainable].BackwardParameters(dy);
    }

    /// <summary>Clears every gradient, split across cores by the ranges the optimizer step uses.</summary>
    public void ZeroGrad() => _zeroGrads.Run(_parameters);

    private readonly ZeroGrads _zeroGrads = new();

    private sealed class ZeroGrads : ParameterWork
    {
        protected override void Update(int index, Parameter p, int start, int length) => p.Grad.AsSpan(start, length).Clear();
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

    /// <summary>
    /// How <see cref="ExportTensors"/> names tensors, stated in exported files: as PyTorch's own
    /// <c>torch.nn.Sequential(...).state_dict()</c> names them, one module per spec layer.
    /// </summary>
    public const string StateDictNaming =
        "torch.nn.Sequential state_dict, one module per spec layer, {i} = the layer's index in the spec: " +
        "dense -> nn.Linear '{i}.weight' [out, in], '{i}.bias' [out]; conv2d -> nn.Conv2d '{i}.weight' [out, in, kh, kw], '{i}.bias' [out]; " +
        "batchnorm -> nn.BatchNorm1d (nn.BatchNorm2d after a conv or pooling layer) '{i}.weight', '{i}.bias', " +
        "'{i}.running_mean', '{i}.running_var' [features or channels], '{i}.num_batches_tracked' (int64 scalar); " +
        "activations, dropout, pooling and flatten (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.Dropout, nn.MaxPool2d, nn.AvgPool2d, " +
        "nn.AdaptiveAvgPool2d(1), nn.Flatten) have no tensors";

    /// <summary>Prefix of files written before <see cref="StateDictNaming"/> (<c>layers.0.weight</c>); still accepted on import.</summary>
    private const string LegacyPrefix = "layers.";

    /// <summary>
    /// Training batches behind the weights, when known (a network loaded from a training state: the optimizer's
    /// steps); exported as BatchNorm's <c>num_batches_tracked</c>.
    /// </summary>
    public long BatchesTrained { get; set; }

    /// <summary>
    /// Weights and buffers in PyTorch's layout and names (<see cref="StateDictNaming"/>), in layer order, so that
    /// <c>torch.nn.Sequential(nn.Linear, nn.BatchNorm1d, nn.ReLU, ...).load_state_dict</c> accepts them with
    /// <see cref="ExportCounters"/>: dense weights are [out, in] (the transpose of the engine's in×out). The data are copies.
    /// </summary>
    public IReadOnlyList<NamedTensor> ExportTensors()
    {
        var result = new List<NamedTensor>();
        foreach (var slot in Slots())
        {
            var data = new float[slot.Value.Length];
            if (slot.Shape.Length == 2) Transpose(slot.Value, slot.Shape[1], slot.Shape[0], data);
            else slot.Value.CopyTo(data, 0);
            result.Add(new NamedTensor(slot.Name, (int[])slot.Shape.Clone(), data));
        }
        return result;
    }

    /// <summary>The int64 scalars of the state dict: each BatchNorm's <c>num_batches_tracked</c> (<see cref="BatchesTrained"/>).</summary>
    public IReadOnlyList<NamedInt64> ExportCounters() => [.. CounterNames().Select(n => new NamedInt64(n, BatchesTrained))];

    /// <summary>
    /// Every problem with <paramref name="tensors"/> as this network's state dict, keyed by tensor name: missing,
    /// unexpected, given twice, wrong shape. Names of the older <c>layers.</c> form are accepted; <paramref name="counters"/>
    /// may hold the <c>num_batches_tracked</c> scalars (optional, as in PyTorch). Empty when an import would succeed.
    /// </summary>
    public IReadOnlyList<TensorProblem> CheckTensors(IEnumerable<NamedTensor> tensors, IEnumerable<NamedInt64>? counters = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var problems = new List<TensorProblem>();
        var given = Index(tensors, problems);
        var slots = Slots();
        foreach (var slot in slots)
        {
            if (!given.TryGetValue(slot.Name, out var t)) problems.Add(new(slot.Name, "is missing"));
            else if (!t.Shape.AsSpan().SequenceEqual(slot.Shape))
                problems.Add(new(t.Name, $"expected [{string.Join(", ", slot.Shape)}], got [{string.Join(", ", t.Shape)}]"));
            else if (t.Data is null || t.Data.Length != slot.Value.Length)
                problems.Add(new(t.Name, $"has {t.Data?.Length ?? 0} values, expected {slot.Value.Length}"));
        }
        var expected = slots.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var counterNames = CounterNames().ToHashSet(StringComparer.Ordinal);
        foreach (var (name, t) in given.OrderBy(p => p.Key, StringComparer.Ordinal))
            if (!expected.Contains(name))
                problems.Add(new(t.Name, counterNames.Contains(name) ? "must be an int64 scalar" : "is not a tensor of this model"));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in counters ?? [])
        {
            var name = Canonical(c.Name);
            if (!seen.Add(name)) problems.Add(new(c.Name, "is given more than once"));
            else if (!counterNames.Contains(name)) problems.Add(new(c.Name, expected.Contains(name) ? "must be float32" : "is not a tensor of this model"));
            else if (c.Value < 0) problems.Add(new(c.Name, $"is {c.Value}, a count cannot be negative"));
        }
        return problems;
    }

    /// <summary>
    /// The inverse of <see cref="ExportTensors"/>. Every expected tensor must be present exactly once with its exact
    /// shape and no others may be given (<see cref="CheckTensors"/>); otherwise nothing is changed and an
    /// <see cref="InvalidDataException"/> names the problems.
    /// </summary>
    public void ImportTensors(IEnumerable<NamedTensor> tensors, IEnumerable<NamedInt64>? counters = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        var counterList = counters?.ToList() ?? [];
        // Validate everything before copying anything, so a bad file leaves the network as it was.
        var problems = CheckTensors(list, counterList);
        if (problems.Count > 0) throw new InvalidDataException(string.Join("; ", problems.Select(p => $"Tensor '{p.Name}' {p.Message}")) + ".");
        var given = Index(list, []);
        foreach (var slot in Slots())
        {
            var data = given[slot.Name].Data;
            if (slot.Shape.Length == 2) Transpose(data, slot.Shape[0], slot.Shape[1], slot.Value);
            else data.CopyTo(slot.Value, 0);
        }
        if (counterList.Count > 0) BatchesTrained = counterList.Max(c => c.Value);
    }

    /// <summary>Given tensors by their current name; a null entry or a name given twice is a problem.</summary>
    private static Dictionary<string, NamedTensor> Index(IEnumerable<NamedTensor> tensors, List<TensorProblem> problems)
    {
        var given = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (t is null) problems.Add(new("(null)", "is null"));
            else if (!given.TryAdd(Canonical(t.Name), t)) problems.Add(new(t.Name, "is given more than once"));
        }
        return given;
    }

    private static string Canonical(string name) => name.StartsWith(LegacyPrefix, StringComparison.Ordinal) ? name[LegacyPrefix.Length..] : name;

    /// <summary>An exported tensor: its state-dict name, PyTorch shape and the engine array it maps to.</summary>
    private readonly record struct Slot(string Name, int[] Shape, float[] Value);

    private List<Slot> Slots()
    {
        var slots = new List<Slot>();
        for (int i = 0; i < _layers.Length; i++)
        {
            string prefix = $"{i}.";
            switch (_layers[i])
            {
                case Dense d: DenseSlots(d, prefix, slots); break;
                case BatchNorm b: BatchNormSlots(b, prefix, slots); break;
                case Conv2d c: ConvSlots(c, prefix, slots); break;
            }
        }
        return slots;
    }

    /// <summary>nn.Linear: weight [out, in], bias [out].</summary>
    private static void DenseSlots(Dense d, string prefix, List<Slot> slots)
    {
        slots.Add(new Slot(prefix + "weight", [d.Units, d.Inputs], d.Weight.Value));
        slots.Add(new Slot(prefix + "bias", [d.Units], d.Bias.Value));
    }

    /// <summary>nn.Conv2d: weight [out, in, kh, kw] in the engine's own layout (copied, never transposed), bias [out].</summary>
    private static void ConvSlots(Conv2d c, string prefix, List<Slot> slots)
    {
        slots.Add(new Slot(prefix + "weight", (int[])c.Weight.Shape.Clone(), c.Weight.Value));
        if (c.Bias is { } bias) slots.Add(new Slot(prefix + "bias", [c.Filters], bias.Value));
    }

    /// <summary>nn.BatchNorm1d (nn.BatchNorm2d when per channel): weight (γ), bias (β), running_mean, running_var, all [features].</summary>
    private static void BatchNormSlots(BatchNorm b, string prefix, List<Slot> slots)
    {
        // Features (or channels, for a per-channel norm) are the length of γ, not the layer's output width.
        int features = b.Gamma.Value.Length;
        slots.Add(new Slot(prefix + "weight", [features], b.Gamma.Value));
        slots.Add(new Slot(prefix + "bias", [features], b.Beta.Value));
        slots.Add(new Slot(prefix + "running_mean", [features], b.RunningMean.Value));
        slots.Add(new Slot(prefix + "running_var", [features], b.RunningVar.Value));
    }

    /// <summary>Names of the int64 scalars: PyTorch's batch norms count their training batches.</summary>
    private IEnumerable<string> CounterNames()
    {
        for (int i = 0; i < _layers.Length; i++)
            if (_layers[i] is BatchNorm) yield return $"{i}.num_batches_tracked";
    }

    /// <summary>destination (cols×rows) = sourceᵀ for a row-major rows×cols source.</summary>
    private static void Transpose(float[] source, int rows, int cols, float[] destination)
    {
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                destination[c * rows + r] = source[r * cols + c];
    }
}
