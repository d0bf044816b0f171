using Microsoft.AspNetCore.SignalR;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Storage;

namespace Api.Training;

/// <summary>
/// Live training progress. <c>Subscribe(jobId)</c> replays the stored history (the last Training:HubReplayEpochs
/// epochs, after a HistoryTruncated event when there are more) and then sends live events.
/// </summary>
/// <remarks>
/// The race between the history and live events is closed by <see cref="JobEvents"/>: the worker stores an
/// epoch and posts it while holding the job's lock, and Subscribe reads the history, queues it and joins the
/// job's subscribers under the same lock. An epoch is therefore either in the history or arrives live after it,
/// never both and never out of order, for one subscription. Events still carry the epoch, so a client that
/// subscribes again (after a reconnect) drops what it has already seen. Every call counts against the key's
/// rate limit (Security:RateLimit), and revoking the key closes the connection.
/// </remarks>
public sealed class TrainingHub(IDbContextFactory<TrainingDbContext> contexts, JobEvents events, IOptions<WorkerOptions> options) : Hub<ITrainingClient>
{
    /// <summary>Starts the job's events for this connection: history first (in epoch order), then the current status, then live.</summary>
    public async Task Subscribe(long jobId)
    {
        await using var db = await contexts.CreateDbContextAsync(Context.ConnectionAborted);
        // Checked against the connection's own user: hub calls may run outside the HTTP request that
        // scopes the context. Someone else's job reads exactly like a missing one.
        var owner = Security.RequestOwnerScope.OwnerOf(Context.User);
        if (owner is null || !await db.Jobs.IgnoreQueryFilters().AnyAsync(j => j.Id == jobId && j.OwnerId == owner, Context.ConnectionAborted))
            throw new HubException($"job {jobId} does not exist");
        int replayEpochs = Math.Max(0, options.Value.HubReplayEpochs);
        bool queued = false;
        await events.ExclusiveAsync(jobId, async () =>
        {
            var metrics = db.EpochMetrics.AsNoTracking().Where(m => m.JobId == jobId);
            int stored = await metrics.CountAsync(Context.ConnectionAborted);
            var history = await metrics.OrderByDescending(m => m.Epoch).Take(replayEpochs).ToListAsync(Context.ConnectionAborted);
            history.Reverse();
            var replay = new List<SerializedHubMessage>(history.Count + 2);
            if (stored > history.Count)
            {
                var best = await metrics.Where(m => m.IsBest).OrderByDescending(m => m.Epoch).FirstOrDefaultAsync(Context.ConnectionAborted);
                var truncated = new HistoryTruncatedEvent(jobId, stored - history.Count, history.Count > 0 ? history[0].Epoch : 0,
                    best?.Epoch, best is null ? null : best.ValLoss ?? best.TrainLoss, $"/jobs/{jobId}/metrics");
                replay.Add(JobEvents.Message(nameof(ITrainingClient.HistoryTruncated), truncated));
            }
            foreach (var m in history)
            {
                replay.Add(JobEvents.Message(nameof(ITrainingClient.EpochCompleted), m.AsEvent()));
            }
            var job = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == jobId, Context.ConnectionAborted);
            if (job is not null)
            {
                replay.Add(JobEvents.Message(nameof(ITrainingClient.JobStatusChanged), job.StatusEvent()));
            }
            queued = events.Subscribe(Context, jobId, replay, history.Count > 0 ? history[^1].Epoch : 0, job?.Status);
        });
        if (!queued) throw new HubException("this connection has too many undelivered events (Training:HubQueueLength); it is being closed");
    }

    /// <summary>
    /// Starts a search's <c>SearchProgress</c> events for this connection (live only: GET /searches/{id} has the state so
    /// far; each trial's epochs come from Subscribe(jobId) as for any job).
    /// </summary>
    public async Task SubscribeSearch(long searchId)
    {
        await using var db = await contexts.CreateDbContextAsync(Context.ConnectionAborted);
        var owner = Security.RequestOwnerScope.OwnerOf(Context.User);
        if (owner is null || !await db.Searches.IgnoreQueryFilters().AnyAsync(s => s.Id == searchId && s.OwnerId == owner, Context.ConnectionAborted))
            throw new HubException($"search {searchId} does not exist");
        if (!events.Subscribe(Context, JobEvents.SearchKey(searchId), [], 0, null))
            throw new HubException("this connection has too many undelivered events (Training:HubQueueLength); it is being closed");
    }

    /// <summary>Stops the search's events for this connection.</summary>
    public Task UnsubscribeSearch(long searchId)
    {
        events.Unsubscribe(Context.ConnectionId, JobEvents.SearchKey(searchId));
        return Task.CompletedTask;
    }

    /// <summary>Stops the job's events for this connection.</summary>
    public Task Unsubscribe(long jobId)
    {
        events.Unsubscribe(Context.ConnectionId, jobId);
        return Task.CompletedTask;
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        events.Disconnected(Context.ConnectionId);
        return base.OnDisconnectedAsync(exception);
    }
}
