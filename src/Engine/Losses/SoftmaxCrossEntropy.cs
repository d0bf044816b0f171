using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Engine.Losses;

/// <summary>
/// Softmax followed by cross entropy, L = mean over rows of Σ_j t_j·(logΣ_k e^{x_k} − x_j), computed with
/// the max subtracted first so huge logits neither overflow nor lose the answer. Targets may be class
/// indices or one-hot / soft rows (rows should sum to 1). Gradient: dX = (softmax(x) − t)/N.
/// </summary>
public sealed class SoftmaxCrossEntropy : Loss
{
    public override void Activate(Span<float> rowMajor, int width)
    {
        for (int i = 0; i < rowMajor.Length; i += width) Softmax(rowMajor.Slice(i, width), rowMajor.Slice(i, width));
    }

    protected override double RowLossAndGradient(ReadOnlySpan<float> output, ReadOnlySpan<float> target, float invN, Span<float> dx)
    {
        // s = x − max, so every exponent is ≤ 0 and nothing overflows; loss = Σ t_j·(log Σ e^{s} − s_j).
        TensorPrimitives.Subtract(output, TensorPrimitives.Max(output), dx);
        double dot = TensorPrimitives.Dot(target, dx);
        double targetMass = TensorPrimitives.Sum(target);
        TensorPrimitives.Exp(dx, dx);
        float sum = TensorPrimitives.Sum(dx);
        TensorPrimitives.Divide(dx, sum, dx);
        TensorPrimitives.Subtract(dx, target, dx);
        TensorPrimitives.Multiply(dx, invN, dx);
        return Math.Log(sum) * targetMass - dot;
    }

    /// <summary>
    /// With a class index c the row's loss is log Σ e^{s} − s_c and dx = (softmax − one-hot)/N: the same float
    /// operations as the general row for a one-hot target (adding zeros is exact), without building it.
    /// </summary>
    protected override double RowLossAndGradient(ReadOnlySpan<float> output, Targets t, int r, float invN, Span<float> dx)
    {
        if (!t.HasLabels) return base.RowLossAndGradient(output, t, r, invN, dx);
        int c = t.Label(r, output.Length);
        TensorPrimitives.Subtract(output, TensorPrimitives.Max(output), dx);
        double sc = dx[c];
        TensorPrimitives.Exp(dx, dx);
        float sum = TensorPrimitives.Sum(dx);
        TensorPrimitives.Divide(dx, sum, dx);
        dx[c] -= 1f;
        TensorPrimitives.Multiply(dx, invN, dx);
        return Math.Log(sum) - sc;
    }

    protected override double RowScore(ReadOnlySpan<float> output, Targets t, int r) =>
        !t.HasLabels ? base.RowScore(output, t, r) : TensorPrimitives.IndexOfMax(output) == t.Label(r, output.Length) ? 1 : 0;

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
