using Engine.Layers;
using Engine.Tensors;

namespace Engine.Tests.Layers;

public class BatchNormDropoutTests
{
    [Fact]
    public void BatchNormTrainingOutputHasZeroMeanAndUnitVariancePerFeature()
    {
        var bn = new BatchNorm(3);
        var y = bn.Forward(GradientCheck.Uniform(64, 3, 1, scale: 5f), training: true);
        for (int c = 0; c < 3; c++)
        {
            double mean = 0, square = 0;
            for (int r = 0; r < 64; r++) { mean += y[r, c]; square += (double)y[r, c] * y[r, c]; }
            mean /= 64;
            Assert.Equal(0, mean, 5);
            Assert.Equal(1, square / 64 - mean * mean, 3); // biased variance, reduced slightly by ε
        }
    }

    [Fact]
    public void BatchNormRunningStatisticsUseMomentumAndTheUnbiasedVariance()
    {
        var bn = new BatchNorm(1, momentum: 0.9f);
        var x = Tensor.FromRows([[1f], [2f], [6f]]); // mean 3, biased variance 14/3, unbiased 7
        bn.Forward(x, training: true);
        Assert.Equal(0.9f * 0 + 0.1f * 3, bn.RunningMean.Value[0], 6);
        Assert.Equal(0.9f * 1 + 0.1f * 7, bn.RunningVar.Value[0], 5);
        bn.Forward(x, training: true);
        Assert.Equal(0.9f * 0.3f + 0.1f * 3, bn.RunningMean.Value[0], 6);
    }

    [Fact]
    public void BatchNormEvaluationUsesRunningStatisticsNotTheBatch()
    {
        var bn = new BatchNorm(2, epsilon: 1e-5f);
        bn.Gamma.Value[0] = 2f; bn.Gamma.Value[1] = 0.5f;
        bn.Beta.Value[0] = 1f; bn.Beta.Value[1] = -1f;
        bn.RunningMean.Value[0] = 3f; bn.RunningMean.Value[1] = -1f;
        bn.RunningVar.Value[0] = 4f; bn.RunningVar.Value[1] = 0.25f;
        float[] runningMean = [.. bn.RunningMean.Value], runningVar = [.. bn.RunningVar.Value];

        // A single row: batch statistics would normalize it to β exactly.
        var y = bn.Forward(Tensor.FromRows([[5f, 0f]]), training: false);
        Assert.Equal(2f * (5f - 3f) / MathF.Sqrt(4f + 1e-5f) + 1f, y[0, 0], 5);
        Assert.Equal(0.5f * (0f + 1f) / MathF.Sqrt(0.25f + 1e-5f) - 1f, y[0, 1], 5);
        Assert.Equal(runningMean, bn.RunningMean.Value); // evaluation does not update them
        Assert.Equal(runningVar, bn.RunningVar.Value);
    }

    [Fact]
    public void DropoutKeepsAboutOneMinusRateAndScalesKeptUnitsInTraining()
    {
        var dropout = new Dropout(100, 0.25f, new Rng(3));
        var x = new Tensor(100, 100);
        x.Span.Fill(1f);
        var y = dropout.Forward(x, training: true);
        int kept = 0;
        foreach (var v in y.Span)
        {
            Assert.True(v == 0f || v == 1f / 0.75f, $"unexpected value {v}");
            if (v != 0f) kept++;
        }
        // 10 000 Bernoulli(0.75) draws: the standard deviation of the kept fraction is 0.0043.
        Assert.InRange(kept / 10000.0, 0.73, 0.77);

        // Backward multiplies by the same mask.
        var dx = dropout.Backward(y);
        for (int i = 0; i < y.Length; i++) Assert.Equal(y.Span[i] * y.Span[i], dx.Span[i], 5);
    }

    [Fact]
    public void DropoutIsTheIdentityInEvaluation()
    {
        var dropout = new Dropout(4, 0.5f, new Rng(4));
        var x = GradientCheck.Uniform(3, 4, 5);
        Assert.Equal(x.Span.ToArray(), dropout.Forward(x, training: false).Span.ToArray());
        Assert.Equal(x.Span.ToArray(), dropout.Backward(x).Span.ToArray());
    }

    [Fact]
    public void DropoutMasksFollowTheRngSoTheSameSeedRepeats()
    {
        var x = new Tensor(4, 8);
        x.Span.Fill(1f);
        float[] first = new Dropout(8, 0.5f, new Rng(6)).Forward(x, training: true).Span.ToArray();
        float[] again = new Dropout(8, 0.5f, new Rng(6)).Forward(x, training: true).Span.ToArray();
        var layer = new Dropout(8, 0.5f, new Rng(6));
        layer.Forward(x, training: true);
        float[] next = layer.Forward(x, training: true).Span.ToArray();
        Assert.Equal(first, again);
        Assert.NotEqual(first, next);
    }

    [Fact]
    public void ReplacingTheNetworkRngContinuesASavedMaskStream()
    {
        var spec = new ModelSpec([8], [new DropoutSpec(0.5f)], LossKind.Mse);
        var x = new Tensor(4, 8);
        x.Span.Fill(1f);
        var original = Network.Create(spec, new Rng(7));
        original.Forward(x, training: true);
        var state = new byte[Rng.StateSize];
        original.Rng.WriteState(state);
        float[] expected = original.Forward(x, training: true).Span.ToArray();

        var resumed = Network.Create(spec, new Rng(123));
        resumed.Rng = Rng.FromState(state);
        Assert.Equal(expected, resumed.Forward(x, training: true).Span.ToArray());
    }
}
