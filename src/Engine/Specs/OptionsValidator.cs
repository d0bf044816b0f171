namespace Engine.Specs;

/// <summary>
/// Range checks for <see cref="TrainingOptions"/>, with camelCase paths as the options appear in JSON
/// (<c>optimizer.learningRate</c>, <c>schedule.stepSize</c>). Every float must also be finite: a NaN
/// would otherwise pass each comparison below by failing it silently.
/// </summary>
public static class OptionsValidator
{
    public const int MaxEpochs = 100_000;
    public const int MaxBatchSize = 65_536;

    public static IReadOnlyList<SpecError> Validate(TrainingOptions? o)
    {
        var errors = new List<SpecError>();
        if (o is null)
        {
            errors.Add(new SpecError("", "training options are required"));
            return errors;
        }

        if (o.Optimizer is not { } opt) errors.Add(new SpecError("optimizer", "is required"));
        else
        {
            if (!Enum.IsDefined(opt.Type)) errors.Add(new SpecError("optimizer.type", $"unknown value {(int)opt.Type}; expected sgd, momentum, nesterov, adagrad, rmsprop, adam or adamw"));
            Positive(errors, "optimizer.learningRate", opt.LearningRate);
            UnitInterval(errors, "optimizer.momentum", opt.Momentum);
            UnitInterval(errors, "optimizer.beta1", opt.Beta1);
            UnitInterval(errors, "optimizer.beta2", opt.Beta2);
            Positive(errors, "optimizer.epsilon", opt.Epsilon);
        }

        if (o.Epochs is < 1 or > MaxEpochs) errors.Add(new SpecError("epochs", $"must be in [1, {MaxEpochs}]"));
        if (o.BatchSize is < 1 or > MaxBatchSize) errors.Add(new SpecError("batchSize", $"must be in [1, {MaxBatchSize}]"));
        if (!(float.IsFinite(o.WeightDecay) && o.WeightDecay >= 0)) errors.Add(new SpecError("weightDecay", "must be >= 0 and finite"));
        if (o.ClipNorm is { } clip) Positive(errors, "clipNorm", clip);
        UnitInterval(errors, "validationSplit", o.ValidationSplit);

        if (o.Schedule is { } s)
        {
            if (!Enum.IsDefined(s.Type)) errors.Add(new SpecError("schedule.type", $"unknown value {(int)s.Type}; expected constant, step or cosine"));
            if (s.StepSize < 1) errors.Add(new SpecError("schedule.stepSize", "must be >= 1"));
            if (!(s.Gamma > 0 && s.Gamma <= 1)) errors.Add(new SpecError("schedule.gamma", "must be in (0, 1]"));
            if (s.WarmupEpochs is < 0 or > MaxEpochs) errors.Add(new SpecError("schedule.warmupEpochs", $"must be in [0, {MaxEpochs}]"));
            if (!(float.IsFinite(s.MinLearningRate) && s.MinLearningRate >= 0)) errors.Add(new SpecError("schedule.minLearningRate", "must be >= 0 and finite"));
            else if (o.Optimizer is { } op && s.MinLearningRate > op.LearningRate)
                errors.Add(new SpecError("schedule.minLearningRate", "must not exceed optimizer.learningRate"));
        }

        if (o.EarlyStopping is { } e)
        {
            if (e.Patience < 1) errors.Add(new SpecError("earlyStopping.patience", "must be >= 1"));
            if (!(float.IsFinite(e.MinDelta) && e.MinDelta >= 0)) errors.Add(new SpecError("earlyStopping.minDelta", "must be >= 0 and finite"));
        }
        return errors;
    }

    private static void Positive(List<SpecError> errors, string path, float value)
    {
        if (!(float.IsFinite(value) && value > 0)) errors.Add(new SpecError(path, "must be > 0 and finite"));
    }

    /// <summary>[0, 1): a momentum or decay of exactly 1 never forgets, a split of 1 leaves nothing to train on.</summary>
    private static void UnitInterval(List<SpecError> errors, string path, float value)
    {
        if (!(value >= 0 && value < 1)) errors.Add(new SpecError(path, "must be in [0, 1)"));
    }
}
