using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
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
/// Posting never waits on a client: each connection has its own bounded queue (Training:HubQueueLength) drained by
/// its own sender, so training only ever adds to queues. A connection whose queue is full is a client that stopped
/// reading; it is closed and its queue dropped, and it catches up after reconnecting (Subscribe replays history).
/// An event is one <see cref="SerializedHubMessage"/> shared by every queue, so it is serialized once however many subscribe.
/// <para>Several nodes: the node that stores an event also publishes it on the <see cref="ClusterBus"/>, and every other node
/// posts it to its own subscribers under the same per-job lock (<see cref="Relay"/>). The epoch is committed before it is
/// published, so a Subscribe on another node either reads it in the history or receives it after; each subscription
/// remembers the last epoch it was given and skips anything not later, so each epoch arrives once and in order.</para>
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
        Post(job.Id, Message(nameof(ITrainingClient.JobStatusChanged), e));
        Publish(Kind.Status, e);
        return Task.CompletedTask;
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
                    Post(status.JobId, Message(nameof(ITrainingClient.JobStatusChanged), status));
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
    /// (0 if none): later epoch events only. False when the connection's queue could not take the replay.
    /// </summary>
    internal bool Subscribe(HubCallerContext connection, long jobId, IEnumerable<SerializedHubMessage> replay, int lastEpoch)
    {
        // Gone already (it disconnected while Subscribe ran): nothing to queue for.
        if (connections.Find(connection.ConnectionId) is not { } live) return true;
        var outbox = _outboxes.GetOrAdd(connection.ConnectionId, _ => new Outbox(live, options.Value.HubQueueLength, logger));
        foreach (var message in replay)
            if (!outbox.Post(message)) return false;
        _subscribers.GetOrAdd(jobId, _ => new(StringComparer.Ordinal))[connection.ConnectionId] = new Subscription(outbox) { LastEpoch = lastEpoch };
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

    /// <summary>One connection's subscription to one job; <see cref="LastEpoch"/> is read and written under the job's lock.</summary>
    private sealed class Subscription(Outbox outbox)
    {
        public Outbox Outbox { get; } = outbox;
        public int LastEpoch { get; set; }
    }

    /// <summary>One connection's pending events and the task that writes them, one at a time, in order.</summary>
    private sealed class Outbox
    {
        private readonly HubConnectionContext _connection;
        private readonly int _capacity;
        private readonly ILogger _logger;
        private readonly Channel<SerializedHubMessage> _queue;

        public Outbox(HubConnectionContext connection, int capacity, ILogger logger)
        {
            (_connection, _capacity, _logger) = (connection, Math.Max(1, capacity), logger);
            _queue = Channel.CreateBounded<SerializedHubMessage>(new BoundedChannelOptions(_capacity) { SingleReader = true });
            _ = Task.Run(SendAllAsync);
        }

        /// <summary>False, and the connection is closed, when the client has let its queue fill up.</summary>
        public bool Post(SerializedHubMessage message)
        {
            if (_queue.Writer.TryWrite(message)) return true;
            if (_queue.Writer.TryComplete())
            {
                _logger.LogInformation("Closed hub connection {ConnectionId}: it did not read its events ({Capacity} queued, Training:HubQueueLength)",
                    _connection.ConnectionId, _capacity);
                _connection.Abort();
            }
            return false;
        }

        public void Complete() => _queue.Writer.TryComplete();

        private async Task SendAllAsync()
        {
            await foreach (var message in _queue.Reader.ReadAllAsync())
            {
                try
                {
                    await _connection.WriteAsync(message);
                }
                catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
                {
                    _logger.LogDebug(e, "An event for hub connection {ConnectionId} was not sent", _connection.ConnectionId);
                }
            }
        }
    }
}
