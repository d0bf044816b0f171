using Storage.Entities;

namespace Api.Training;

public static class TrainingEventMapping
{
    /// <param name="storedAt">The commit time when known; the row's creation time otherwise.</param>
    public static EpochCompletedEvent AsEvent(this EpochMetric m, DateTime? storedAt = null) =>
        new(m.JobId, m.Epoch, m.TrainLoss, m.TrainAccuracy, m.ValLoss, m.ValAccuracy, m.LearningRate, m.Seconds, m.IsBest,
            DateTime.SpecifyKind(storedAt ?? m.CreatedAt, DateTimeKind.Utc));

    public static JobStatusChangedEvent StatusEvent(this Job j) => new(j.Id, j.Status, j.Error, j.CurrentEpoch);
}
