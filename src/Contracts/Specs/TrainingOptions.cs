using System.Text.Json.Serialization;

namespace TrainingService.Contracts;

[JsonConverter(typeof(JsonStringEnumConverter<OptimizerKind>))]
public enum OptimizerKind
{
    [JsonStringEnumMemberName("sgd")] Sgd,
    [JsonStringEnumMemberName("momentum")] Momentum,
    [JsonStringEnumMemberName("nesterov")] Nesterov,
    [JsonStringEnumMemberName("adagrad")] AdaGrad,
    [JsonStringEnumMemberName("rmsprop")] RmsProp,
    [JsonStringEnumMemberName("adam")] Adam,
    [JsonStringEnumMemberName("adamw")] AdamW,
}

/// <summary>Optimizer and its hyper-parameters. Unused fields are ignored by optimizers that do not need them.</summary>
/// <param name="Momentum">Momentum/Nesterov α; RMSProp decay ρ.</param>
public sealed record OptimizerSpec(
    OptimizerKind Type = OptimizerKind.Adam,
    float LearningRate = 0.001f,
    float Momentum = 0.9f,
    float Beta1 = 0.9f,
    float Beta2 = 0.999f,
    float Epsilon = 1e-8f);

[JsonConverter(typeof(JsonStringEnumConverter<ScheduleKind>))]
public enum ScheduleKind
{
    [JsonStringEnumMemberName("constant")] Constant,
    /// <summary>lr · gamma^floor(epoch / stepSize).</summary>
    [JsonStringEnumMemberName("step")] Step,
    /// <summary>Cosine from lr to minLearningRate over the epochs after warm-up.</summary>
    [JsonStringEnumMemberName("cosine")] Cosine,
}

/// <summary>Learning-rate schedule, evaluated once per epoch (warm-up is linear from lr/warmupEpochs).</summary>
public sealed record ScheduleSpec(
    ScheduleKind Type = ScheduleKind.Constant,
    int StepSize = 10,
    float Gamma = 0.1f,
    int WarmupEpochs = 0,
    float MinLearningRate = 0f);

/// <summary>Stop when the validation loss (train loss without a validation set) has not improved by
/// more than <paramref name="MinDelta"/> for <paramref name="Patience"/> epochs.</summary>
public sealed record EarlyStoppingSpec(int Patience = 5, float MinDelta = 0f, bool RestoreBestWeights = true);

/// <summary>Everything that, with the model spec and the data, determines a training run.</summary>
/// <param name="WeightDecay">L2 λ: adds λ·W to weight gradients (weights only, never biases or BatchNorm);
/// for AdamW it is the decoupled decay rate instead.</param>
/// <param name="ClipNorm">Optional global gradient-norm clip.</param>
/// <param name="ValidationSplit">Deterministic held-out fraction of the training set, in [0, 1).</param>
public sealed record TrainingOptions(
    OptimizerSpec Optimizer,
    int Epochs = 10,
    int BatchSize = 32,
    ulong Seed = 1,
    float WeightDecay = 0f,
    float? ClipNorm = null,
    ScheduleSpec? Schedule = null,
    EarlyStoppingSpec? EarlyStopping = null,
    float ValidationSplit = 0f);
