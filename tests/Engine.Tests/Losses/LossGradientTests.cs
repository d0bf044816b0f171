using Engine.Losses;
using Engine.Tensors;
using Engine.Tests.Layers;

namespace Engine.Tests.Losses;

public class LossGradientTests
{
    private static void CheckLoss(Loss loss, Tensor output, Targets targets)
    {
        loss.Forward(output, targets);
        float[] analytic = loss.Backward().Span.ToArray();
        double[] numerical = GradientCheck.Numerical(output.Data, output.Length, () => loss.Forward(output, targets));
        GradientCheck.AssertClose(analytic, numerical, loss.GetType().Name);
    }

    [Fact]
    public void SoftmaxCrossEntropyWithClassIndicesMatchesCentralDifferences() =>
        CheckLoss(new SoftmaxCrossEntropy(), GradientCheck.Uniform(4, 5, 21, scale: 3f), Targets.FromLabels(new[] { 0, 4, 2, 2 }));

    [Fact]
    public void SoftmaxCrossEntropyWithSoftRowsMatchesCentralDifferences()
    {
        float[] soft = [0.2f, 0.5f, 0.3f, 1f, 0f, 0f, 0.1f, 0.1f, 0.8f];
        CheckLoss(new SoftmaxCrossEntropy(), GradientCheck.Uniform(3, 3, 22, scale: 3f), Targets.FromRows(soft, 3));
    }

    [Fact]
    public void MseMatchesCentralDifferences() =>
        CheckLoss(new Mse(), GradientCheck.Uniform(4, 3, 23), Targets.FromRows(GradientCheck.Uniform(4, 3, 24).Span.ToArray(), 3));

    [Fact]
    public void SigmoidBinaryCrossEntropyMatchesCentralDifferences()
    {
        float[] labels = [1, 0, 1, 0, 0, 1, 0.3f, 1, 0, 1, 1, 0];
        CheckLoss(new SigmoidBinaryCrossEntropy(), GradientCheck.Uniform(4, 3, 25, scale: 4f), Targets.FromRows(labels, 3));
    }

    [Fact]
    public void SigmoidBinaryCrossEntropyWithBinaryLabelsMatchesCentralDifferences() =>
        CheckLoss(new SigmoidBinaryCrossEntropy(), GradientCheck.Uniform(4, 1, 26, scale: 4f), Targets.FromLabels(new[] { 1, 0, 0, 1 }));
}
