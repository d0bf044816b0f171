using Storage.Entities;

namespace Api.Jobs;

public static class JobMapping
{
    public static MetricDto AsDto(this EpochMetric m) => new(
        m.Epoch, m.TrainLoss, m.TrainAccuracy, m.ValLoss, m.ValAccuracy, m.LearningRate, m.Seconds, m.SamplesPerSecond, m.IsBest, m.CreatedAt);

    public static CheckpointDto AsDto(this Checkpoint c) => new(c.Epoch, c.SizeBytes, c.Sha256, c.IsBest, c.CreatedAt);
}
