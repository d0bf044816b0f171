using Engine.Layers;
using Engine.Tensors;

namespace Engine.Tests.Layers;

public class LayerGradientTests
{
    private static void Set(float[] target, params float[] values) => values.CopyTo(target, 0);

    private static Dense RandomDense(int inputs, int units, ulong seed)
    {
        var dense = new Dense(inputs, units);
        var rng = new Rng(seed);
        for (int i = 0; i < dense.Weight.Value.Length; i++) dense.Weight.Value[i] = 2f * rng.NextSingle() - 1f;
        for (int i = 0; i < dense.Bias.Value.Length; i++) dense.Bias.Value[i] = 2f * rng.NextSingle() - 1f;
        return dense;
    }

    [Fact]
    public void DenseGradientsMatchCentralDifferences() =>
        GradientCheck.Layer(RandomDense(5, 3, 1), GradientCheck.Uniform(4, 5, 2));

    [Fact]
    public void ReluGradientMatchesCentralDifferences() =>
        GradientCheck.Layer(new Relu(6), GradientCheck.AwayFromZero(4, 6, 3));

    [Fact]
    public void LeakyReluGradientMatchesCentralDifferences() =>
        GradientCheck.Layer(new LeakyRelu(6, 0.1f), GradientCheck.AwayFromZero(4, 6, 4));

    [Fact]
    public void SigmoidGradientMatchesCentralDifferences() =>
        GradientCheck.Layer(new Sigmoid(6), GradientCheck.Uniform(4, 6, 5, scale: 3f));

    [Fact]
    public void TanhGradientMatchesCentralDifferences() =>
        GradientCheck.Layer(new Tanh(6), GradientCheck.Uniform(4, 6, 6, scale: 2f));

    [Fact]
    public void BatchNormTrainingGradientsMatchCentralDifferences()
    {
        var bn = new BatchNorm(3);
        // Non-trivial γ and β so their gradients and the γ factor in dX are exercised.
        Set(bn.Gamma.Value, 1.5f, -0.7f, 0.3f);
        Set(bn.Beta.Value, 0.2f, -0.1f, 0.5f);
        GradientCheck.Layer(bn, GradientCheck.Uniform(5, 3, 8, scale: 2f));
    }

    [Fact]
    public void BatchNormEvaluationGradientMatchesCentralDifferences()
    {
        var bn = new BatchNorm(3);
        Set(bn.Gamma.Value, 1.5f, -0.7f, 0.3f);
        Set(bn.RunningMean.Value, 0.5f, -1f, 0f);
        Set(bn.RunningVar.Value, 2f, 0.5f, 1f);
        GradientCheck.Layer(bn, GradientCheck.Uniform(4, 3, 9), training: false);
    }

    [Fact]
    public void DropoutWithFixedMaskGradientMatchesCentralDifferences()
    {
        var dropout = new Dropout(4, 0.25f, new Rng(1));
        dropout.SetMask([1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 0]);
        GradientCheck.Layer(dropout, GradientCheck.Uniform(3, 4, 10));
    }

    [Fact]
    public void DenseGradientsAccumulateAcrossBackwardCalls()
    {
        var dense = RandomDense(3, 2, 11);
        var x = GradientCheck.Uniform(4, 3, 12);
        var dy = GradientCheck.Uniform(4, 2, 13);
        dense.Forward(x, training: true);
        dense.Backward(dy);
        float[] once = [.. dense.Weight.Grad, .. dense.Bias.Grad];
        dense.Backward(dy);
        float[] twice = [.. dense.Weight.Grad, .. dense.Bias.Grad];
        for (int i = 0; i < once.Length; i++) Assert.Equal(2 * once[i], twice[i], 5);
        Assert.Contains(once, v => v != 0);
    }

    [Fact]
    public void DenseHandlesASmallerLastBatchWithTheSameBuffers()
    {
        var dense = RandomDense(3, 2, 14);
        var full = dense.Forward(GradientCheck.Uniform(8, 3, 15), training: true);
        float[] capacity = full.Data;
        var small = GradientCheck.Uniform(3, 3, 16);
        var y = dense.Forward(small, training: true);
        Assert.Same(full, y);
        Assert.Same(capacity, y.Data);
        Assert.Equal(3, y.Rows);
        // The first row of the small batch, computed by hand.
        for (int j = 0; j < 2; j++)
        {
            float expected = dense.Bias.Value[j];
            for (int i = 0; i < 3; i++) expected += small[0, i] * dense.Weight.Value[i * 2 + j];
            Assert.Equal(expected, y[0, j], 5);
        }
    }
}
