using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using Storage.Entities;

namespace Api.Training;

/// <summary>
/// Sends job events to the job's SignalR group. Anything that stores an event-worthy change (an epoch,
/// a status) does it inside <see cref="ExclusiveAsync"/> together with the send, and the hub reads the
/// history under the same lock, so a subscriber sees every epoch exactly once and in order.
/// </summary>
public sealed class JobEvents(IHubContext<TrainingHub, ITrainingClient> hub, IOptions<WorkerOptions> options, ILogger<JobEvents> logger)
{
    private readonly ConcurrentDictionary<long, SemaphoreSlim> _locks = new();
    private readonly ConcurrentDictionary<long, long> _lastBatchEvent = new();

    public async Task ExclusiveAsync(long jobId, Func<Task> action)
    {
        var gate = _locks.GetOrAdd(jobId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync();
        try
        {
            await action();
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Call inside <see cref="ExclusiveAsync"/>, after the epoch is stored; <paramref name="storedAt"/> is the commit time.</summary>
    public Task EpochCompletedAsync(EpochMetric m, DateTime storedAt) =>
        hub.Clients.Group(TrainingHub.Group(m.JobId)).EpochCompleted(m.AsEvent(storedAt));

    /// <summary>Call inside <see cref="ExclusiveAsync"/>, after the status is stored.</summary>
    public Task StatusChangedAsync(Job job) => hub.Clients.Group(TrainingHub.Group(job.Id)).JobStatusChanged(job.StatusEvent());

    /// <summary>
    /// Called from the training thread after every batch; sends at most one event per interval (and the
    /// epoch's last batch), without waiting, so a slow client never slows training.
    /// </summary>
    public void BatchProgress(long jobId, Engine.Training.BatchProgress p)
    {
        long now = Stopwatch.GetTimestamp();
        long last = _lastBatchEvent.GetValueOrDefault(jobId);
        if (p.Batch != p.Batches && Stopwatch.GetElapsedTime(last, now).TotalMilliseconds < options.Value.BatchProgressIntervalMs) return;
        _lastBatchEvent[jobId] = now;
        var send = hub.Clients.Group(TrainingHub.Group(jobId)).BatchProgress(new BatchProgressEvent(jobId, p.Epoch, p.Batch, p.Batches, p.Loss));
        send.ContinueWith(t => logger.LogDebug(t.Exception, "BatchProgress for job {JobId} was not sent", jobId),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    /// <summary>Drops the per-job state of a deleted job.</summary>
    public void Forget(long jobId)
    {
        _locks.TryRemove(jobId, out _);
        _lastBatchEvent.TryRemove(jobId, out _);
    }
}
