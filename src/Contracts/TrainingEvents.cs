namespace TrainingService.Contracts;

/// <summary>Any event of one job on <c>/hubs/training</c>: a client can handle them in one stream and switch on the type.</summary>
public interface IJobEvent
{
    long JobId { get; }
}

/// <summary>
/// What a subscriber to <c>/hubs/training</c> receives. Method names are the SignalR event names
/// (<c>connection.on("EpochCompleted", e => …)</c>); payloads are camelCase JSON.
/// </summary>
public interface ITrainingClient
{
    /// <summary>One per finished epoch: first the stored history on Subscribe, then live.</summary>
    Task EpochCompleted(EpochCompletedEvent e);

    /// <summary>Sent on every status change, and once after the history on Subscribe with the current status.</summary>
    Task JobStatusChanged(JobStatusChangedEvent e);

    /// <summary>Batch progress inside an epoch, throttled to a few per second per job.</summary>
    Task BatchProgress(BatchProgressEvent e);

    /// <summary>Per-layer diagnostics after each epoch (also at GET /jobs/{id}/diagnostics).</summary>
    Task LayerStats(LayerStatsEvent e);

    /// <summary>On Subscribe, before the replayed epochs, when the job has more than Training:HubReplayEpochs of them.</summary>
    Task HistoryTruncated(HistoryTruncatedEvent e);

    /// <summary>A search's progress, to connections that called <c>SubscribeSearch(searchId)</c>.</summary>
    Task SearchProgress(SearchEvent e);
}

/// <summary>Subscribe replays only the last epochs; the earlier ones are at <paramref name="MetricsUrl"/>.</summary>
/// <param name="OmittedEpochs">Stored epochs not replayed: the first ones, up to <paramref name="FirstReplayedEpoch"/>.</param>
/// <param name="BestEpoch">The best epoch so far (lowest validation loss, else training loss), which may be among the omitted.</param>
public sealed record HistoryTruncatedEvent(long JobId, int OmittedEpochs, int FirstReplayedEpoch, int? BestEpoch, float? BestLoss, string MetricsUrl);

/// <param name="Epoch">1-based; a client drops an event whose epoch it has already seen (after a reconnect, say).</param>
/// <param name="StoredAt">UTC time the epoch's metrics were committed (live events) or written (replayed history),
/// so a client can measure delivery delay.</param>
public sealed record EpochCompletedEvent(
    long JobId, int Epoch, float TrainLoss, float? TrainAccuracy, float? ValLoss, float? ValAccuracy,
    float LearningRate, double Seconds, bool IsBest, DateTime StoredAt) : IJobEvent;

/// <param name="Epoch">Epochs completed when the status changed.</param>
public sealed record JobStatusChangedEvent(long JobId, JobStatus Status, string? Error, int Epoch) : IJobEvent;

public sealed record BatchProgressEvent(long JobId, int Epoch, int Batch, int Batches, float Loss) : IJobEvent;
