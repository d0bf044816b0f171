using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Engine.Training;

namespace Api.Training;

/// <summary>
/// The jobs training in this process, with the token that stops each one. The engine checks the token
/// after every batch, so a cancel takes effect within one batch.
/// </summary>
public sealed class TrainingRegistry
{
    private readonly ConcurrentDictionary<long, RunningJob> _running = new();
    private readonly Dictionary<long, (SemaphoreSlim Gate, int Users)> _turns = [];

    public bool IsRunning(long jobId) => _running.ContainsKey(jobId);

    /// <summary>Jobs training in this process now.</summary>
    public int Count => _running.Count;

    public bool TryGet(long jobId, out RunningJob job) => _running.TryGetValue(jobId, out job!);

    /// <summary>
    /// Waits until no other run of the job is under way in this process, then holds the job's turn until disposed. A job
    /// resumed right after its cancel gets a second run while the first is still stopping; that one must wait for the
    /// first to release its lease, not find the lease held and leave the job queued with nobody to train it.
    /// </summary>
    public async Task<IDisposable> TakeTurnAsync(long jobId, CancellationToken ct)
    {
        SemaphoreSlim gate;
        lock (_turns)
        {
            var (existing, users) = _turns.GetValueOrDefault(jobId);
            gate = existing ?? new SemaphoreSlim(1, 1);
            _turns[jobId] = (gate, users + 1);
        }
        try
        {
            await gate.WaitAsync(ct);
        }
        catch
        {
            LeaveTurn(jobId, release: false);
            throw;
        }
        return new Turn(this, jobId);
    }

    private void LeaveTurn(long jobId, bool release)
    {
        lock (_turns)
        {
            var (gate, users) = _turns[jobId];
            if (release) gate.Release();
            if (users > 1)
            {
                _turns[jobId] = (gate, users - 1);
                return;
            }
            _turns.Remove(jobId);
            gate.Dispose();
        }
    }

    private sealed class Turn(TrainingRegistry registry, long jobId) : IDisposable
    {
        private int _left;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0) registry.LeaveTurn(jobId, release: true);
        }
    }

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
        job.CancelAt();
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

    // Readers (GET /jobs/{id}, many at once) never lock: the training thread publishes each batch as a new box.
    private StrongBox<BatchProgress>? _progress;
    private BatchProgress? _progressAtCancel;
    private readonly Lock _publish = new();

    /// <summary>The last batch finished when the cancel came, so the worker can say how many it trained after it.</summary>
    public BatchProgress? ProgressAtCancel
    {
        get { lock (_publish) return _progressAtCancel; }
    }

    /// <summary>The last batch finished, written by the training thread and read by GET /jobs/{id}.</summary>
    public BatchProgress? Progress
    {
        get => Volatile.Read(ref _progress)?.Value;
        set
        {
            var box = value is { } v ? new StrongBox<BatchProgress>(v) : null;
            lock (_publish) Volatile.Write(ref _progress, box);
        }
    }

    /// <summary>
    /// Notes the last batch finished and cancels, both under the lock the training thread takes to publish a batch: a batch
    /// it finishes meanwhile is published after the cancel, so at most the one under way is counted as trained after it.
    /// </summary>
    public void CancelAt()
    {
        lock (_publish)
        {
            _progressAtCancel = _progress?.Value;
            CancelRequested = true;
            Source.Cancel();
        }
    }

    public void Dispose() => Source.Dispose();
}
