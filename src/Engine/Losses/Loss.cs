using Engine.Specs;
using Engine.Tensors;

namespace Engine.Losses;

/// <summary>
/// A loss fused with its output activation (softmax / sigmoid / identity), so <see cref="Backward"/>
/// returns the simple, stable gradient with respect to the raw network output (logits).
/// Every loss is a mean over the batch; the gradient is therefore divided by N.
/// </summary>
public abstract class Loss
{
    private readonly Tensor _inputGrad = new(0, 0);
    private float[] _scratch = [];
    private bool _ready;

    public static Loss Create(LossKind kind) => kind switch
    {
        LossKind.SoftmaxCrossEntropy => new SoftmaxCrossEntropy(),
        LossKind.Mse => new Mse(),
        LossKind.SigmoidBinaryCrossEntropy => new SigmoidBinaryCrossEntropy(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown loss."),
    };

    /// <summary>
    /// Mean loss over the batch. The gradient is computed in the same pass (it shares the softmax /
    /// sigmoid work) and kept, so <see cref="Backward"/> stays valid even if the network's output tensor
    /// is overwritten by another forward pass in between.
    /// </summary>
    public float Forward(Tensor output, Targets t)
    {
        CheckTargets(output, t);
        _inputGrad.Resize(output.Rows, output.Cols);
        _ready = true;
        if (output.Rows == 0) return 0f;
        float invN = 1f / output.Rows;
        // Summed in double in row order: deterministic and not limited by float accumulation error.
        double total = 0;
        for (int r = 0; r < output.Rows; r++)
            total += RowLossAndGradient(output.Row(r), t, r, invN, _inputGrad.Row(r));
        return (float)(total / output.Rows);
    }

    /// <summary>Gradient of the last <see cref="Forward"/> with respect to the output; owned by the loss.</summary>
    public Tensor Backward() => _ready ? _inputGrad : throw new InvalidOperationException("Backward called before Forward.");

    /// <summary>Turns raw outputs into predictions in place (probabilities, or values for regression).</summary>
    public abstract void Activate(Span<float> rowMajor, int width);

    /// <summary>False for regression losses, for which accuracy is meaningless.</summary>
    public virtual bool HasAccuracy => true;

    /// <summary>
    /// Number of correctly predicted samples in the batch (a sum of per-sample scores in [0, 1]; see
    /// each loss for how a sample is scored). Divide by the sample count for accuracy.
    /// </summary>
    public double CountCorrect(Tensor output, Targets t)
    {
        CheckTargets(output, t);
        double correct = 0;
        for (int r = 0; r < output.Rows; r++) correct += RowScore(output.Row(r), t, r);
        return correct;
    }

    /// <summary>
    /// One row's loss (before the batch mean) and its share of the gradient of the mean,
    /// dx = ∂(mean loss)/∂output; <paramref name="invN"/> is 1/N.
    /// </summary>
    protected abstract double RowLossAndGradient(ReadOnlySpan<float> output, ReadOnlySpan<float> target, float invN, Span<float> dx);

    protected virtual double RowScore(ReadOnlySpan<float> output, ReadOnlySpan<float> target) => 0;

    /// <summary>
    /// Row <paramref name="r"/> of <paramref name="t"/>: by default its float target row (class indices expanded
    /// one-hot). A loss overrides these when a class index makes the row cheaper than its one-hot row.
    /// </summary>
    protected virtual double RowLossAndGradient(ReadOnlySpan<float> output, Targets t, int r, float invN, Span<float> dx) =>
        RowLossAndGradient(output, TargetRowCore(t, r, output.Length), invN, dx);

    /// <inheritdoc cref="RowLossAndGradient(ReadOnlySpan{float}, Targets, int, float, Span{float})"/>
    protected virtual double RowScore(ReadOnlySpan<float> output, Targets t, int r) => RowScore(output, TargetRowCore(t, r, output.Length));

    /// <summary>Whether class-index targets are accepted (converted to one-hot rows).</summary>
    protected virtual bool AcceptsLabels => true;

    private void CheckTargets(Tensor output, Targets t)
    {
        if (t.Count != output.Rows) throw new ArgumentException($"{t.Count} target rows for {output.Rows} output rows.", nameof(t));
        if (t.HasLabels && !AcceptsLabels) throw new ArgumentException($"{GetType().Name} needs float target rows, not class indices.", nameof(t));
        if (!t.HasLabels && t.Width != output.Cols) throw new ArgumentException($"Targets have width {t.Width}, output has {output.Cols}.", nameof(t));
    }

    /// <summary>The target row, one-hot expanded into a reused scratch buffer for class indices.</summary>
    protected virtual ReadOnlySpan<float> TargetRowCore(Targets t, int r, int width)
    {
        if (t.HasLabels && _scratch.Length != width) _scratch = new float[width];
        return t.Row(r, _scratch);
    }
}
