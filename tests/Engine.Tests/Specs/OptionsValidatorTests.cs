using Engine.Specs;

namespace Engine.Tests.SpecValidation; // not Engine.Tests.Specs: that would shadow Engine.Specs for "Specs.X" in sibling test namespaces

public class OptionsValidatorTests
{
    private static string[] Errors(TrainingOptions o) => [.. OptionsValidator.Validate(o).Select(e => e.ToString())];

    [Fact]
    public void DefaultsAndAFullyConfiguredRunAreValid()
    {
        Assert.Empty(OptionsValidator.Validate(new TrainingOptions(new OptimizerSpec())));
        var full = new TrainingOptions(new OptimizerSpec(OptimizerKind.Nesterov, 0.1f, 0.95f), Epochs: 100_000, BatchSize: 65_536,
            WeightDecay: 1e-4f, ClipNorm: 5f, Schedule: new ScheduleSpec(ScheduleKind.Cosine, 1, 1f, 3, 0.001f),
            EarlyStopping: new EarlyStoppingSpec(1, 0f), ValidationSplit: 0.2f);
        Assert.Empty(OptionsValidator.Validate(full));
    }

    [Fact]
    public void OptimizerRangesUseCamelCasePaths()
    {
        var o = new TrainingOptions(new OptimizerSpec((OptimizerKind)99, float.NaN, 1f, -0.1f, 1f, 0f));
        Assert.Equal(
        [
            "optimizer.type: unknown value 99; expected sgd, momentum, nesterov, adagrad, rmsprop, adam or adamw",
            "optimizer.learningRate: must be > 0 and finite",
            "optimizer.momentum: must be in [0, 1)",
            "optimizer.beta1: must be in [0, 1)",
            "optimizer.beta2: must be in [0, 1)",
            "optimizer.epsilon: must be > 0 and finite",
        ], Errors(o));
        Assert.Equal(["optimizer.learningRate: must be > 0 and finite"], Errors(new TrainingOptions(new OptimizerSpec(LearningRate: float.PositiveInfinity))));
    }

    [Theory]
    [InlineData(0, 32, "epochs: must be in [1, 100000]")]
    [InlineData(100_001, 32, "epochs: must be in [1, 100000]")]
    [InlineData(1, 0, "batchSize: must be in [1, 65536]")]
    [InlineData(1, 65_537, "batchSize: must be in [1, 65536]")]
    public void EpochsAndBatchSizeHaveBounds(int epochs, int batch, string expected)
    {
        Assert.Equal([expected], Errors(new TrainingOptions(new OptimizerSpec(), epochs, batch)));
    }

    [Fact]
    public void RegularizationAndSplitRanges()
    {
        var o = new TrainingOptions(new OptimizerSpec(), WeightDecay: -1f, ClipNorm: 0f, ValidationSplit: 1f);
        Assert.Equal(["weightDecay: must be >= 0 and finite", "clipNorm: must be > 0 and finite", "validationSplit: must be in [0, 1)"], Errors(o));
    }

    [Fact]
    public void ScheduleRanges()
    {
        var o = new TrainingOptions(new OptimizerSpec(), Schedule: new ScheduleSpec((ScheduleKind)5, 0, 0f, -1, -1f));
        Assert.Equal(
        [
            "schedule.type: unknown value 5; expected constant, step or cosine",
            "schedule.stepSize: must be >= 1",
            "schedule.gamma: must be in (0, 1]",
            "schedule.warmupEpochs: must be in [0, 100000]",
            "schedule.minLearningRate: must be >= 0 and finite",
        ], Errors(o));
        Assert.Equal(["schedule.gamma: must be in (0, 1]"], Errors(new TrainingOptions(new OptimizerSpec(), Schedule: new ScheduleSpec(Gamma: 1.5f))));
        Assert.Equal(["schedule.minLearningRate: must not exceed optimizer.learningRate"],
            Errors(new TrainingOptions(new OptimizerSpec(LearningRate: 0.01f), Schedule: new ScheduleSpec(MinLearningRate: 0.1f))));
    }

    [Fact]
    public void EarlyStoppingRanges()
    {
        var o = new TrainingOptions(new OptimizerSpec(), EarlyStopping: new EarlyStoppingSpec(0, -0.5f));
        Assert.Equal(["earlyStopping.patience: must be >= 1", "earlyStopping.minDelta: must be >= 0 and finite"], Errors(o));
    }

    [Fact]
    public void MissingOptionsOrOptimizerAreReported()
    {
        Assert.Equal(["training options are required"], OptionsValidator.Validate(null).Select(e => e.ToString()));
        Assert.Equal(["optimizer: is required"], Errors(new TrainingOptions(null!)));
    }
}
