using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Engine.Losses;

/// <summary>
/// Softmax followed by cross entropy, L = mean over rows of Σ_j t_j·(logΣ_k e^{x_k} − x_j), computed with
/// the max subtracted first so huge logits neither overflow nor lose the answer. Targets may be class
/// indices or one-hot / soft rows (rows should sum to 1). Gradient: dX = (softmax(x) − t)/N.
/// </summary>
public sealed class SoftmaxCrossEntropy : Loss
{
    private float[] _shifted = [];

    public override void Activate(Span<float> rowMajor, int width)
    {
        for (int i = 0; i < rowMajor.Length; i += width) Softmax(rowMajor.Slice(i, width), rowMajor.Slice(i, width));
    }

    protected override double RowLoss(ReadOnlySpan<float> output, ReadOnlySpan<float> target)
    {
        if (_shifted.Length != output.Length) _shifted = new float[output.Length];
        var s = _shifted.AsSpan();
        TensorPrimitives.Subtract(output, TensorPrimitives.Max(output), s);
        // Σ t_j·(log Σ e^{s} − s_j) with s = x − max: every exponent is ≤ 0, so nothing overflows.
        double dot = TensorPrimitives.Dot(target, s);
        double targetMass = TensorPrimitives.Sum(target);
        TensorPrimitives.Exp(s, s);
        double logSum = Math.Log(TensorPrimitives.Sum(s));
        return logSum * targetMass - dot;
    }

    protected override void RowGradient(ReadOnlySpan<float> output, ReadOnlySpan<float> target, float invN, Span<float> dx)
    {
        Softmax(output, dx);
        TensorPrimitives.Subtract(dx, target, dx);
        TensorPrimitives.Multiply(dx, invN, dx);
    }

    /// <summary>Argmax of the logits equals argmax of the probabilities; ties go to the lowest index.</summary>
    protected override double RowScore(ReadOnlySpan<float> output, ReadOnlySpan<float> target) =>
        TensorPrimitives.IndexOfMax(output) == TensorPrimitives.IndexOfMax(target) ? 1 : 0;

    /// <summary>Stable softmax (TensorPrimitives.SoftMax does not subtract the max).</summary>
    private static void Softmax(ReadOnlySpan<float> x, Span<float> destination)
    {
        TensorPrimitives.Subtract(x, TensorPrimitives.Max(x), destination);
        TensorPrimitives.Exp(destination, destination);
        TensorPrimitives.Divide(destination, TensorPrimitives.Sum(destination), destination);
    }
}
