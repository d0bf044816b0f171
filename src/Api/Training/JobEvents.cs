using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Api.Cluster;
using Api.Infrastructure;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.Options;
using Storage.Entities;

namespace Api.Training;

/// <summary>
/// Sends job events to the job's subscribers. Anything that stores an event-worthy change (an epoch, a status)
/// does it inside <see cref="ExclusiveAsync"/> together with the post, and the hub queues the history under the
/// same lock, so a subscriber sees every epoch exactly once and in order.
/// </summary>
/// <remarks>
/// Posting never waits on a client: an event goes into the connection's pipe at once, and a connection that pushes back
/// gets a bounded queue (Training:HubQueueLength) drained by its own sender, so training only ever adds to queues.
/// A connection whose queue is full is a client that stopped reading; it is closed and its queue dropped, and it catches up after reconnecting (Subscribe replays history).
/// An event is one <see cref="SerializedHubMessage"/> shared by every queue, so it is serialized once however many subscribe.
/// <para>Several nodes: the node that stores an event also publishes it on the <see cref="ClusterBus"/>, and every other node
/// posts it to its own subscribers under the same per-job lock (<see cref="Relay"/>). The epoch is committed before it is
/// published, so a Subscribe on another node either reads it in the history or receives it after; each subscription
/// remembers the last epoch it was given and skips anything not later, so each epoch arrives once and in order. A node
/// killed between its commit and its publish leaves the others' subscribers behind the database;
/// <see cref="SubscriptionCatchUp"/> gives them what they missed.</para>
/// </remarks>
public sealed class JobEvents(HubConnections connections, IOptions<WorkerOptions> options, ClusterBus cluster, ILogger<JobEvents> logger)
{
    public const string ClusterChannel = "job-events";

    private readonly ConcurrentDictionary<long, SemaphoreSlim> _locks = new();
    private readonly ConcurrentDictionary<long, long> _lastBatchEvent = new();
    private readonly ConcurrentDictionary<string, Outbox> _outboxes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, ConcurrentDictionary<string, Subscription>> _subscribers = new();

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
    public Task EpochCompletedAsync(EpochMetric m, DateTime storedAt)
    {
        var e = m.AsEvent(storedAt);
        PostEpoch(e);
        Publish(Kind.Epoch, e);
        return Task.CompletedTask;
    }

    private void PostEpoch(EpochCompletedEvent e)
    {
        if (!_subscribers.TryGetValue(e.JobId, out var subscribers)) return;
        var message = Message(nameof(ITrainingClient.EpochCompleted), e);
        foreach (var s in subscribers.Values)
        {
            if (e.Epoch <= s.LastEpoch) continue;
            s.LastEpoch = e.Epoch;
            s.Outbox.Post(message);
        }
    }

    /// <summary>Call inside <see cref="ExclusiveAsync"/>, after the status is stored.</summary>
    public Task StatusChangedAsync(Job job)
    {
        var e = job.StatusEvent();
        PostStatus(e);
        Publish(Kind.Status, e);
        return Task.CompletedTask;
    }

    /// <summary>To each subscriber not already told this status (the last status it was given is skipped, not repeated).</summary>
    private void PostStatus(JobStatusChangedEvent e)
    {
        if (!_subscribers.TryGetValue(e.JobId, out var subscribers)) return;
        var message = Message(nameof(ITrainingClient.JobStatusChanged), e);
        foreach (var s in subscribers.Values)
        {
            if (s.LastStatus == e.Status) continue;
            s.LastStatus = e.Status;
            s.Outbox.Post(message);
        }
    }

    /// <summary>The jobs this node has subscribers for (not the searches, whose keys are negative).</summary>
    internal IReadOnlyCollection<long> SubscribedJobs => [.. _subscribers.Where(kv => kv.Key > 0 && !kv.Value.IsEmpty).Select(kv => kv.Key)];

    /// <summary>
    /// Whether some subscriber of the job is behind <paramref name="epoch"/> or was last told another status than
    /// <paramref name="status"/>; the lowest epoch given to any of them. Call inside <see cref="ExclusiveAsync"/>.
    /// </summary>
    internal bool IsBehind(long jobId, int epoch, JobStatus status, out int lowestEpoch)
    {
        lowestEpoch = int.MaxValue;
        bool behind = false;
        if (!_subscribers.TryGetValue(jobId, out var subscribers)) return false;
        foreach (var s in subscribers.Values)
        {
            lowestEpoch = Math.Min(lowestEpoch, s.LastEpoch);
            behind |= s.LastEpoch < epoch || s.LastStatus != status;
        }
        return behind;
    }

    /// <summary>
    /// Gives subscribers what the database has and they were not given (<see cref="SubscriptionCatchUp"/>): the epochs
    /// after each one's last, then the status. Call inside <see cref="ExclusiveAsync"/>; posts nothing twice.
    /// </summary>
    internal void CatchUp(IEnumerable<EpochCompletedEvent> epochs, JobStatusChangedEvent status)
    {
        foreach (var e in epochs) PostEpoch(e);
        PostStatus(status);
    }

    /// <summary>
    /// Called from the training thread after every batch; posts at most one event per interval (and the epoch's
    /// last batch).
    /// </summary>
    public void BatchProgress(long jobId, Engine.Training.BatchProgress p)
    {
        long now = Stopwatch.GetTimestamp();
        long last = _lastBatchEvent.GetValueOrDefault(jobId);
        if (p.Batch != p.Batches && Stopwatch.GetElapsedTime(last, now).TotalMilliseconds < options.Value.BatchProgressIntervalMs) return;
        _lastBatchEvent[jobId] = now;
        var e = new BatchProgressEvent(jobId, p.Epoch, p.Batch, p.Batches, p.Loss);
        Post(jobId, Message(nameof(ITrainingClient.BatchProgress), e));
        Publish(Kind.Batch, e);
    }

    /// <summary>An epoch's layer diagnostics, after they are stored.</summary>
    public void LayerStats(LayerStatsEvent e)
    {
        Post(e.JobId, Message(nameof(ITrainingClient.LayerStats), e));
        Publish(Kind.Layers, e);
    }

    /// <summary>A search's subscribers share the job table under the negated search id (ids are positive).</summary>
    internal static long SearchKey(long searchId) => -searchId;

    /// <summary>A search's progress (trial started, rung reached, promoted, pruned, best changed, finished), after it is stored.</summary>
    public void SearchProgress(SearchEvent e)
    {
        Post(SearchKey(e.SearchId), Message(nameof(ITrainingClient.SearchProgress), e));
        Publish(Kind.Search, e);
    }

    private enum Kind { Epoch, Status, Batch, Layers, Search }

    private void Publish<T>(Kind kind, T e)
    {
        if (cluster.IsShared) cluster.Publish(ClusterChannel, $"{kind}\n{JsonSerializer.Serialize(e, ApiJson.Options)}");
    }

    /// <summary>Posts an event another node stored and published to this node's subscribers.</summary>
    internal async Task Relay(string message)
    {
        int split = message.IndexOf('\n', StringComparison.Ordinal);
        if (split < 0 || !Enum.TryParse<Kind>(message.AsSpan(0, split), out var kind)) return;
        var json = message[(split + 1)..];
        switch (kind)
        {
            case Kind.Epoch:
                var epoch = JsonSerializer.Deserialize<EpochCompletedEvent>(json, ApiJson.Options)!;
                await ExclusiveAsync(epoch.JobId, () =>
                {
                    PostEpoch(epoch);
                    return Task.CompletedTask;
                });
                break;
            case Kind.Status:
                var status = JsonSerializer.Deserialize<JobStatusChangedEvent>(json, ApiJson.Options)!;
                await ExclusiveAsync(status.JobId, () =>
                {
                    PostStatus(status);
                    return Task.CompletedTask;
                });
                break;
            case Kind.Batch:
                var batch = JsonSerializer.Deserialize<BatchProgressEvent>(json, ApiJson.Options)!;
                Post(batch.JobId, Message(nameof(ITrainingClient.BatchProgress), batch));
                break;
            case Kind.Layers:
                var layers = JsonSerializer.Deserialize<LayerStatsEvent>(json, ApiJson.Options)!;
                Post(layers.JobId, Message(nameof(ITrainingClient.LayerStats), layers));
                break;
            case Kind.Search:
                var search = JsonSerializer.Deserialize<SearchEvent>(json, ApiJson.Options)!;
                Post(SearchKey(search.SearchId), Message(nameof(ITrainingClient.SearchProgress), search));
                break;
        }
    }

    /// <summary>The call of <see cref="ITrainingClient"/> method <paramref name="method"/> with <paramref name="argument"/>, serialized on first use.</summary>
    public static SerializedHubMessage Message(string method, object argument) => new(new InvocationMessage(method, [argument]));

    /// <summary>Queues <paramref name="message"/> for every subscriber of the job; returns at once.</summary>
    public void Post(long jobId, SerializedHubMessage message)
    {
        if (!_subscribers.TryGetValue(jobId, out var subscribers)) return;
        foreach (var s in subscribers.Values) s.Outbox.Post(message);
    }

    /// <summary>
    /// Call inside <see cref="ExclusiveAsync"/>: queues <paramref name="replay"/> for the connection, then makes it a
    /// subscriber of the job, so live events follow the replay. <paramref name="lastEpoch"/> is the replay's last epoch
    /// (0 if none): later epoch events only; <paramref name="status"/> the replay's status, if it had one. False when the
    /// connection's queue could not take the replay.
    /// </summary>
    internal bool Subscribe(HubCallerContext connection, long jobId, IEnumerable<SerializedHubMessage> replay, int lastEpoch, JobStatus? status)
    {
        // Gone already (it disconnected while Subscribe ran): nothing to queue for.
        if (connections.Find(connection.ConnectionId) is not { } live) return true;
        var outbox = _outboxes.GetOrAdd(connection.ConnectionId, _ => new Outbox(live, options.Value.HubQueueLength, logger));
        foreach (var message in replay)
            if (!outbox.Post(message)) return false;
        _subscribers.GetOrAdd(jobId, _ => new(StringComparer.Ordinal))[connection.ConnectionId] =
            new Subscription(outbox) { LastEpoch = lastEpoch, LastStatus = status };
        return true;
    }

    internal void Unsubscribe(string connectionId, long jobId)
    {
        if (_subscribers.TryGetValue(jobId, out var subscribers)) subscribers.TryRemove(connectionId, out _);
    }

    /// <summary>Drops the connection's queue and subscriptions (it disconnected, or was closed for not reading).</summary>
    internal void Disconnected(string connectionId)
    {
        if (!_outboxes.TryRemove(connectionId, out var outbox)) return;
        outbox.Complete();
        foreach (var subscribers in _subscribers.Values) subscribers.TryRemove(connectionId, out _);
    }

    /// <summary>Drops the per-job state of a deleted job.</summary>
    public void Forget(long jobId)
    {
        _locks.TryRemove(jobId, out _);
        _lastBatchEvent.TryRemove(jobId, out _);
        _subscribers.TryRemove(jobId, out _);
    }

    /// <summary>One connection's subscription to one job; its last epoch and status are read and written under the job's lock.</summary>
    private sealed class Subscription(Outbox outbox)
    {
        public Outbox Outbox { get; } = outbox;
        public int LastEpoch { get; set; }
        public JobStatus? LastStatus { get; set; }
    }

    /// <summary>
    /// One connection's pending events, written one at a time and in order. An event is written on the posting thread
    /// when nothing is pending (the usual case: one write into the connection's pipe); only a connection whose pipe pushes
    /// back gets a queue and a task that drains it, so a fan-out to many subscribers costs no thread-pool hop each.
    /// </summary>
    private sealed class Outbox(HubConnectionContext connection, int capacity, ILogger logger)
    {
        private readonly int _capacity = Math.Max(1, capacity);
        private readonly Queue<SerializedHubMessage> _pending = new();
        private bool _writing;
        private bool _completed;

        /// <summary>False, and the connection is closed, when the client has let its queue fill up.</summary>
        public bool Post(SerializedHubMessage message)
        {
            bool overflow = false;
            lock (_pending)
            {
                if (_completed) return false;
                if (_writing)
                {
                    if (_pending.Count < _capacity)
                    {
                        _pending.Enqueue(message);
                        return true;
                    }
                    (_completed, overflow) = (true, true);
                    _pending.Clear();
                }
                else
                {
                    _writing = true;
                }
            }
            if (overflow)
            {
                logger.LogInformation("Closed hub connection {ConnectionId}: it did not read its events ({Capacity} queued, Training:HubQueueLength)",
                    connection.ConnectionId, _capacity);
                connection.Abort();
                return false;
            }
            WriteInOrder(message);
            return true;
        }

        public void Complete()
        {
            lock (_pending)
            {
                _completed = true;
                _pending.Clear();
            }
        }

        /// <summary>Writes <paramref name="message"/>, then whatever was queued meanwhile; goes asynchronous only on back-pressure.</summary>
        private void WriteInOrder(SerializedHubMessage message)
        {
            while (true)
            {
                var write = Write(message);
                if (!write.IsCompleted)
                {
                    _ = DrainAsync(write);
                    return;
                }
                Observe(write);
                if (!TryNext(out message)) return;
            }
        }

        private async Task DrainAsync(ValueTask write)
        {
            do
            {
                try
                {
                    await write;
                }
                catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
                {
                    Unsent(e);
                }
                if (!TryNext(out var message)) return;
                write = Write(message);
            } while (true);
        }

        /// <summary>The next queued event, or false (and no longer writing) when there is none.</summary>
        private bool TryNext(out SerializedHubMessage message)
        {
            lock (_pending)
            {
                if (!_completed && _pending.TryDequeue(out message!)) return true;
                message = null!;
                _writing = false;
                return false;
            }
        }

        private ValueTask Write(SerializedHubMessage message)
        {
            try
            {
                return connection.WriteAsync(message);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
            {
                Unsent(e);
                return ValueTask.CompletedTask;
            }
        }

        private void Observe(ValueTask write)
        {
            try
            {
                write.GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
            {
                Unsent(e);
            }
        }

        private void Unsent(Exception e) => logger.LogDebug(e, "An event for hub connection {ConnectionId} was not sent", connection.ConnectionId);
    }
}
