namespace Engine.Training;

/// <summary>What one epoch produced. Accuracies are null for regression; validation values are null without a validation set.</summary>
/// <param name="Epoch">1-based.</param>
/// <param name="IsBest">The monitored loss (validation, else training) improved on every earlier epoch by more than the early-stopping min delta.</param>
public sealed record EpochMetrics(int Epoch, float TrainLoss, float? TrainAccuracy, float? ValLoss, float? ValAccuracy,
    float LearningRate, double Seconds, double SamplesPerSecond, bool IsBest);

/// <summary>Reported after every batch; callers throttle what they do with it.</summary>
/// <param name="Batch">1-based index within the epoch.</param>
/// <param name="Loss">The batch's mean loss.</param>
public readonly record struct BatchProgress(int Epoch, int Batch, int Batches, float Loss);
