using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Engine.Losses;

/// <summary>
/// Sigmoid fused with binary cross entropy for multi-label (or single-output binary) targets in [0, 1]:
/// per element max(x, 0) − x·t + log(1 + e^{−|x|}), which never exponentiates a positive number.
/// Reduction: summed over the labels of a row, averaged over the batch (so a width-1 output gives the
/// usual binary cross entropy). Gradient: dX = (σ(x) − t)/N.
/// Class-index targets: with one output column the index itself is the 0/1 target; with several it is one-hot.
/// </summary>
public sealed class SigmoidBinaryCrossEntropy : Loss
{
    private readonly float[] _single = new float[1];

    public override void Activate(Span<float> rowMajor, int width) => TensorPrimitives.Sigmoid(rowMajor, rowMajor);

    protected override double RowLossAndGradient(ReadOnlySpan<float> output, ReadOnlySpan<float> target, float invN, Span<float> dx)
    {
        // log(1 + e^{−|x|}) first, in dx as scratch, then max(x, 0); the loss is their sum minus x·t.
        TensorPrimitives.Abs(output, dx);
        TensorPrimitives.Negate(dx, dx);
        TensorPrimitives.Exp(dx, dx);
        TensorPrimitives.LogP1(dx, dx);
        double loss = TensorPrimitives.Sum<float>(dx) - TensorPrimitives.Dot(output, target);
        TensorPrimitives.Max(output, 0f, dx);
        loss += TensorPrimitives.Sum<float>(dx);

        TensorPrimitives.Sigmoid(output, dx);
        TensorPrimitives.Subtract(dx, target, dx);
        TensorPrimitives.Multiply(dx, invN, dx);
        return loss;
    }

    /// <summary>Fraction of the row's labels predicted right at threshold σ(x) &gt; 0.5, i.e. x &gt; 0 (binary accuracy).</summary>
    protected override double RowScore(ReadOnlySpan<float> output, ReadOnlySpan<float> target)
    {
        int right = 0;
        for (int j = 0; j < output.Length; j++)
            if ((output[j] > 0) == (target[j] > 0.5f)) right++;
        return (double)right / output.Length;
    }

    protected override ReadOnlySpan<float> TargetRowCore(Targets t, int r, int width)
    {
        if (!t.HasLabels || width != 1) return base.TargetRowCore(t, r, width);
        int label = t.Labels.Span[r];
        if (label is not (0 or 1)) throw new ArgumentException($"Binary label {label} at row {r} is not 0 or 1.");
        _single[0] = label;
        return _single;
    }
}
