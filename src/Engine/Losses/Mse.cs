using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Tensors;

namespace Engine.Losses;

/// <summary>
/// Squared error for regression: L = ½ · (1/N) · Σ_rows Σ_j (y_j − t_j)², i.e. the book's
/// E = ½Σ(y − t)² per sample, averaged over the batch (summed, not averaged, over output columns).
/// (PyTorch's MSELoss instead averages over every element and has no ½.)
/// Gradient: dX = (y − t)/N. Targets must be float rows. Predictions are the raw outputs.
/// </summary>
public sealed class Mse : Loss
{
    public override bool HasAccuracy => false;

    public override void Activate(Span<float> rowMajor, int width) { }

    protected override bool AcceptsLabels => false;

    protected override double RowLossAndGradient(ReadOnlySpan<float> output, ReadOnlySpan<float> target, float invN, Span<float> dx)
    {
        TensorPrimitives.Subtract(output, target, dx);
        double loss = 0.5 * TensorPrimitives.SumOfSquares<float>(dx);
        TensorPrimitives.Multiply(dx, invN, dx);
        return loss;
    }
}
