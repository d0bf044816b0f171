using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Tensors;

namespace Engine.Losses;

/// <summary>
/// Squared error for regression: L = ½ · (1/N) · Σ_rows Σ_j (y_j − t_j)², i.e. the book's
/// E = ½Σ(y − t)² per sample, averaged over the batch (summed, not averaged, over output columns).
/// Gradient: dX = (y − t)/N. Targets must be float rows. Predictions are the raw outputs.
/// </summary>
public sealed class Mse : Loss
{
    private float[] _diff = [];

    public override bool HasAccuracy => false;

    public override void Activate(Span<float> rowMajor, int width) { }

    protected override bool AcceptsLabels => false;

    protected override double RowLoss(ReadOnlySpan<float> output, ReadOnlySpan<float> target)
    {
        if (_diff.Length != output.Length) _diff = new float[output.Length];
        TensorPrimitives.Subtract(output, target, _diff);
        return 0.5 * TensorPrimitives.SumOfSquares<float>(_diff);
    }

    protected override void RowGradient(ReadOnlySpan<float> output, ReadOnlySpan<float> target, float invN, Span<float> dx)
    {
        TensorPrimitives.Subtract(output, target, dx);
        TensorPrimitives.Multiply(dx, invN, dx);
    }
}
