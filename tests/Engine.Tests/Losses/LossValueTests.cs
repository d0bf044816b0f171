using Engine.Losses;
using Engine.Tensors;

namespace Engine.Tests.Losses;

public class LossValueTests
{
    [Fact]
    public void SoftmaxCrossEntropyStaysFiniteAndExactForHugeLogits()
    {
        // exp(1000) overflows float and double; the max-shifted form must still give the exact answer.
        var logits = Tensor.FromRows([[1000f, 0f, -1000f], [-1000f, 1000f, 999f]]);
        var loss = new SoftmaxCrossEntropy();
        float value = loss.Forward(logits, Targets.FromLabels(new[] { 0, 2 }));
        // Row 0: ≈ 0. Row 1: log(1 + e^{-1}) + 1 against class 2.
        double expected = (0 + Math.Log(1 + Math.Exp(-1)) + 1) / 2;
        Assert.Equal(expected, value, 4);
        var dx = loss.Backward();
        Assert.True(System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(dx.Span));
        // Row 0 is already right: its gradient is zero; row 1 pushes class 1 down and class 2 up.
        Assert.Equal(0f, dx[0, 0], 6);
        Assert.True(dx[1, 1] > 0 && dx[1, 2] < 0);
    }

    [Fact]
    public void SoftmaxCrossEntropyOfUniformLogitsIsLogClassCount()
    {
        var loss = new SoftmaxCrossEntropy();
        Assert.Equal(Math.Log(4), loss.Forward(new Tensor(2, 4), Targets.FromLabels(new[] { 1, 3 })), 5);
    }

    [Fact]
    public void ClassIndicesAndOneHotRowsGiveTheSameLossAndGradient()
    {
        var logits = Tensor.FromRows([[0.5f, -1f, 2f], [3f, 0.1f, -0.4f]]);
        var byIndex = new SoftmaxCrossEntropy();
        var byRow = new SoftmaxCrossEntropy();
        Assert.Equal(byIndex.Forward(logits, Targets.FromLabels(new[] { 2, 1 })),
            byRow.Forward(logits, Targets.FromRows(new float[] { 0, 0, 1, 0, 1, 0 }, 3)));
        Assert.Equal(byIndex.Backward().Span.ToArray(), byRow.Backward().Span.ToArray());
    }

    [Fact]
    public void MseIsHalfTheSquaredErrorSummedOverColumnsAndAveragedOverRows()
    {
        var y = Tensor.FromRows([[1f, 2f], [0f, -1f]]);
        float[] t = [0f, 0f, 2f, -1f];
        var loss = new Mse();
        // Row 0: ½(1 + 4) = 2.5; row 1: ½(4 + 0) = 2; mean 2.25.
        Assert.Equal(2.25f, loss.Forward(y, Targets.FromRows(t, 2)), 6);
        Assert.Equal([0.5f, 1f, -1f, 0f], loss.Backward().Span.ToArray());
    }

    [Fact]
    public void BinaryCrossEntropyIsStableForLargeLogits()
    {
        var loss = new SigmoidBinaryCrossEntropy();
        var logits = Tensor.FromRows([[100f, -100f]]);
        // Confidently right on both labels: ≈ 0; confidently wrong: ≈ 100 per label.
        Assert.Equal(0f, loss.Forward(logits, Targets.FromRows(new float[] { 1, 0 }, 2)), 5);
        Assert.Equal(200f, loss.Forward(logits, Targets.FromRows(new float[] { 0, 1 }, 2)), 3);
    }

    [Fact]
    public void BinaryCrossEntropyMatchesTheTextbookFormulaForModerateLogits()
    {
        var loss = new SigmoidBinaryCrossEntropy();
        float x = 0.7f, t = 0.25f;
        double p = 1 / (1 + Math.Exp(-x));
        double expected = -(t * Math.Log(p) + (1 - t) * Math.Log(1 - p));
        Assert.Equal(expected, loss.Forward(Tensor.FromRows([[x]]), Targets.FromRows(new[] { t }, 1)), 5);
    }

    [Fact]
    public void ActivateTurnsLogitsIntoProbabilities()
    {
        float[] rows = [1f, 2f, 3f, 0f, 0f, 1000f];
        new SoftmaxCrossEntropy().Activate(rows, 3);
        Assert.Equal(1f, rows[0] + rows[1] + rows[2], 5);
        Assert.True(rows[0] < rows[1] && rows[1] < rows[2]);
        Assert.Equal(1f, rows[5], 5);

        float[] labels = [0f, 2f];
        new SigmoidBinaryCrossEntropy().Activate(labels, 2);
        Assert.Equal(0.5f, labels[0], 6);
        Assert.Equal(1 / (1 + MathF.Exp(-2f)), labels[1], 6);
    }

    [Fact]
    public void AccuracyCountsArgmaxForSoftmaxAndPerLabelThresholdForBinary()
    {
        var logits = Tensor.FromRows([[2f, 1f, 0f], [0f, 5f, 1f], [0f, 0f, 3f]]);
        Assert.Equal(2, new SoftmaxCrossEntropy().CountCorrect(logits, Targets.FromLabels(new[] { 0, 2, 2 })));

        var multi = Tensor.FromRows([[1f, -1f], [1f, 1f]]);
        // Row 0 fully right, row 1 half right.
        Assert.Equal(1.5, new SigmoidBinaryCrossEntropy().CountCorrect(multi, Targets.FromRows(new float[] { 1, 0, 0, 1 }, 2)));
        Assert.False(new Mse().HasAccuracy);
    }

    [Fact]
    public void MismatchedTargetsAreRejected()
    {
        var y = new Tensor(2, 3);
        Assert.Throws<ArgumentException>(() => new SoftmaxCrossEntropy().Forward(y, Targets.FromLabels(new[] { 0 })));
        Assert.Throws<ArgumentException>(() => new SoftmaxCrossEntropy().Forward(y, Targets.FromLabels(new[] { 0, 3 })));
        Assert.Throws<ArgumentException>(() => new Mse().Forward(y, Targets.FromLabels(new[] { 0, 1 })));
        Assert.Throws<ArgumentException>(() => new Mse().Forward(y, Targets.FromRows(new float[4], 2)));
    }

    [Fact]
    public void BinaryCrossEntropyTreatsClassIndicesAsOneHotForSeveralOutputsAndAsTheTargetForOne()
    {
        var wide = Tensor.FromRows([[0.3f, -1.2f, 2f]]);
        var loss = new SigmoidBinaryCrossEntropy();
        Assert.Equal(loss.Forward(wide, Targets.FromRows(new float[] { 0, 0, 1 }, 3)), loss.Forward(wide, Targets.FromLabels(new[] { 2 })));

        var single = Tensor.FromRows([[0.3f], [-1.2f]]);
        Assert.Equal(loss.Forward(single, Targets.FromRows(new float[] { 1, 0 }, 1)), loss.Forward(single, Targets.FromLabels(new[] { 1, 0 })));
        Assert.Throws<ArgumentException>(() => loss.Forward(single, Targets.FromLabels(new[] { 2, 0 })));
    }

    [Fact]
    public void TargetRowsMustDivideIntoTheWidth() =>
        Assert.Throws<ArgumentException>(() => Targets.FromRows(new float[5], 2));

    [Fact]
    public void BackwardReturnsTheGradientOfForwardEvenIfTheOutputIsOverwrittenAfterwards()
    {
        var output = Tensor.FromRows([[1f, 2f, 0.5f], [0f, -1f, 3f]]);
        var loss = new SoftmaxCrossEntropy();
        loss.Forward(output, Targets.FromLabels(new[] { 1, 2 }));
        float[] expected = loss.Backward().Span.ToArray();
        // What a trainer's evaluation pass does to the network's output buffer between loss and backward.
        output.Span.Fill(7f);
        Assert.Equal(expected, loss.Backward().Span.ToArray());
    }
}
