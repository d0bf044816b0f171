using Microsoft.AspNetCore.SignalR;
using Microsoft.EntityFrameworkCore;
using Storage;

namespace Api.Training;

/// <summary>
/// Live training progress. <c>Subscribe(jobId)</c> joins the job's group and replays the stored history.
/// </summary>
/// <remarks>
/// The race between the history and live events is closed by <see cref="JobEvents"/>: the worker stores an
/// epoch and broadcasts it while holding the job's lock, and Subscribe joins the group, reads the history
/// and sends it under the same lock. An epoch is therefore either in the history or arrives live after it,
/// never both and never out of order, for one subscription. Events still carry the epoch, so a client that
/// subscribes again (after a reconnect) drops what it has already seen.
/// </remarks>
public sealed class TrainingHub(IDbContextFactory<TrainingDbContext> contexts, JobEvents events) : Hub<ITrainingClient>
{
    public static string Group(long jobId) => $"job-{jobId}";

    /// <summary>Starts the job's events for this connection: history first (in epoch order), then the current status, then live.</summary>
    public async Task Subscribe(long jobId)
    {
        await using var db = await contexts.CreateDbContextAsync(Context.ConnectionAborted);
        // Checked against the connection's own user: hub calls may run outside the HTTP request that
        // scopes the context. Someone else's job reads exactly like a missing one, and joins no group.
        var owner = Security.RequestOwnerScope.OwnerOf(Context.User);
        if (owner is null || !await db.Jobs.IgnoreQueryFilters().AnyAsync(j => j.Id == jobId && j.OwnerId == owner, Context.ConnectionAborted))
            throw new HubException($"job {jobId} does not exist");
        await events.ExclusiveAsync(jobId, async () =>
        {
            await Groups.AddToGroupAsync(Context.ConnectionId, Group(jobId), Context.ConnectionAborted);
            var history = await db.EpochMetrics.AsNoTracking().Where(m => m.JobId == jobId).OrderBy(m => m.Epoch).ToListAsync(Context.ConnectionAborted);
            foreach (var m in history) await Clients.Caller.EpochCompleted(m.AsEvent());
            var job = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == jobId, Context.ConnectionAborted);
            if (job is not null) await Clients.Caller.JobStatusChanged(job.StatusEvent());
        });
    }

    /// <summary>Stops the job's events for this connection.</summary>
    public Task Unsubscribe(long jobId) => Groups.RemoveFromGroupAsync(Context.ConnectionId, Group(jobId));
}
