using System.Collections.Concurrent;
using Engine.Training;

namespace Api.Training;

/// <summary>
/// The jobs training in this process, with the token that stops each one. The engine checks the token
/// after every batch, so a cancel takes effect within one batch.
/// </summary>
public sealed class TrainingRegistry
{
    private readonly ConcurrentDictionary<long, RunningJob> _running = new();

    public bool IsRunning(long jobId) => _running.ContainsKey(jobId);

    /// <summary>Jobs training in this process now.</summary>
    public int Count => _running.Count;

    public bool TryGet(long jobId, out RunningJob job) => _running.TryGetValue(jobId, out job!);

    /// <summary>Registers a job; its token also fires when <paramref name="shutdown"/> does.</summary>
    public RunningJob Start(long jobId, CancellationToken shutdown)
    {
        var job = new RunningJob(jobId, CancellationTokenSource.CreateLinkedTokenSource(shutdown));
        if (!_running.TryAdd(jobId, job))
        {
            job.Dispose();
            throw new InvalidOperationException($"Job {jobId} is already training in this process.");
        }
        return job;
    }

    /// <summary>Asks a job training here to stop; false when it is not training in this process.</summary>
    public bool Cancel(long jobId)
    {
        if (!_running.TryGetValue(jobId, out var job)) return false;
        job.CancelRequested = true;
        job.Source.Cancel();
        return true;
    }

    public void Remove(RunningJob job)
    {
        _running.TryRemove(KeyValuePair.Create(job.JobId, job));
        job.Dispose();
    }
}

public sealed class RunningJob(long jobId, CancellationTokenSource source) : IDisposable
{
    public long JobId { get; } = jobId;
    public CancellationTokenSource Source { get; } = source;
    public CancellationToken Token => Source.Token;

    /// <summary>Set by a user's cancel, so the worker can tell it from a shutdown.</summary>
    public volatile bool CancelRequested;

    private BatchProgress? _progress;

    /// <summary>The last batch finished, written by the training thread and read by GET /jobs/{id}.</summary>
    public BatchProgress? Progress
    {
        get { lock (this) return _progress; }
        set { lock (this) _progress = value; }
    }

    public void Dispose() => Source.Dispose();
}
