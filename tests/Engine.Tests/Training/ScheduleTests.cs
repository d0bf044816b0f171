using Engine.Specs;
using Engine.Training;

namespace Engine.Tests.Training;

public class ScheduleTests
{
    [Fact]
    public void NoScheduleOrConstantKeepsTheBaseRate()
    {
        Assert.Equal(0.1f, LearningRateSchedule.At(null, 0.1f, 7, 10));
        Assert.Equal(0.1f, LearningRateSchedule.At(new ScheduleSpec(ScheduleKind.Constant), 0.1f, 7, 10));
    }

    [Fact]
    public void StepDecayMultipliesByGammaEveryStepSizeEpochs()
    {
        var s = new ScheduleSpec(ScheduleKind.Step, StepSize: 2, Gamma: 0.5f);
        Assert.Equal([1f, 1f, 0.5f, 0.5f, 0.25f], Enumerable.Range(0, 5).Select(e => LearningRateSchedule.At(s, 1f, e, 5)));
    }

    [Fact]
    public void CosineStartsAtTheBaseRateAndPassesTheMidpointHalfway()
    {
        var s = new ScheduleSpec(ScheduleKind.Cosine, MinLearningRate: 0.1f);
        Assert.Equal(1f, LearningRateSchedule.At(s, 1f, 0, 10), 6);
        Assert.Equal(0.55f, LearningRateSchedule.At(s, 1f, 5, 10), 6);
        Assert.True(LearningRateSchedule.At(s, 1f, 9, 10) < 0.15f);
        Assert.True(LearningRateSchedule.At(s, 1f, 9, 10) >= 0.1f);
    }

    [Fact]
    public void WarmupRisesLinearlyThenTheScheduleStartsFromTheBaseRate()
    {
        // Warm-up 2 of 6 epochs: η/2, η, then cosine over the remaining 4 (midpoint at its epoch 2).
        var s = new ScheduleSpec(ScheduleKind.Cosine, WarmupEpochs: 2);
        Assert.Equal(0.5f, LearningRateSchedule.At(s, 1f, 0, 6), 6);
        Assert.Equal(1f, LearningRateSchedule.At(s, 1f, 1, 6), 6);
        Assert.Equal(1f, LearningRateSchedule.At(s, 1f, 2, 6), 6);
        Assert.Equal(0.5f, LearningRateSchedule.At(s, 1f, 4, 6), 6);
    }
}
