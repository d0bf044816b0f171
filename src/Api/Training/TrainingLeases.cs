using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Storage;
using Storage.Entities;

namespace Api.Training;

/// <summary>
/// The app's own guard against training a job twice at once, whatever the job runner does (Hangfire runs a job at least
/// once, not at most once): a run trains only while it holds the job's <see cref="JobLease"/> row, taken and renewed with
/// conditional UPDATEs that one run at a time can win, on one node or on several sharing the database.
/// </summary>
public sealed class TrainingLeases(IDbContextFactory<TrainingDbContext> contexts, IOptions<WorkerOptions> options, TimeProvider time)
{
    public string NodeId => options.Value.NodeId;

    public TimeSpan Duration => TimeSpan.FromSeconds(Math.Max(1, options.Value.LeaseSeconds));

    /// <summary>A new run id holding the job's lease, or null when another run holds it and it has not expired.</summary>
    public async Task<string?> TryTakeAsync(long jobId, CancellationToken ct)
    {
        var run = Guid.NewGuid().ToString("N");
        var now = time.GetUtcNow().UtcDateTime;
        var (node, expires) = (NodeId, now + Duration);
        await using var db = await contexts.CreateDbContextAsync(ct);
        int taken = await db.JobLeases.Where(l => l.JobId == jobId && l.ExpiresAt <= now).ExecuteUpdateAsync(s => s
            .SetProperty(l => l.NodeId, node).SetProperty(l => l.RunId, run).SetProperty(l => l.ExpiresAt, expires), ct);
        if (taken == 1) return run;
        if (await db.JobLeases.AnyAsync(l => l.JobId == jobId, ct)) return null;
        db.JobLeases.Add(new JobLease { JobId = jobId, NodeId = node, RunId = run, ExpiresAt = expires });
        try
        {
            await db.SaveChangesAsync(ct);
            return run;
        }
        catch (DbUpdateException)
        {
            // Another run inserted the row first (its primary key refuses ours), or the job was deleted (its foreign key).
            return null;
        }
    }

    /// <summary>
    /// Extends the run's lease; false when the run no longer holds it. Called in every epoch's transaction, so an epoch is
    /// stored only by the run that holds the lease at its commit.
    /// </summary>
    public async Task<bool> RenewAsync(TrainingDbContext db, long jobId, string run, CancellationToken ct = default)
    {
        var expires = time.GetUtcNow().UtcDateTime + Duration;
        return await db.JobLeases.Where(l => l.JobId == jobId && l.RunId == run)
            .ExecuteUpdateAsync(s => s.SetProperty(l => l.ExpiresAt, expires), ct) == 1;
    }

    /// <inheritdoc cref="RenewAsync(TrainingDbContext, long, string, CancellationToken)"/>
    public async Task<bool> RenewAsync(long jobId, string run, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await RenewAsync(db, jobId, run, ct);
    }

    /// <summary>
    /// How long the job's lease has left when the job is still to train (Queued or Running), or null when it is not: a
    /// run that lost the race comes back then, in case the holder died (another node killed) and will not finish it.
    /// </summary>
    public async Task<TimeSpan?> RemainingWhileActiveAsync(long jobId, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        if (!await db.Jobs.AnyAsync(j => j.Id == jobId && (j.Status == JobStatus.Queued || j.Status == JobStatus.Running), ct)) return null;
        var expires = await db.JobLeases.Where(l => l.JobId == jobId).Select(l => (DateTime?)l.ExpiresAt).FirstOrDefaultAsync(ct);
        var left = (expires ?? DateTime.UnixEpoch) - time.GetUtcNow().UtcDateTime;
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    /// <summary>Lets the next run take the lease at once.</summary>
    public async Task ReleaseAsync(long jobId, string run)
    {
        await using var db = await contexts.CreateDbContextAsync();
        await db.JobLeases.Where(l => l.JobId == jobId && l.RunId == run)
            .ExecuteUpdateAsync(s => s.SetProperty(l => l.ExpiresAt, DateTime.UnixEpoch));
    }

    /// <summary>
    /// At start-up: frees the leases this node's previous process held (it was killed, or stopped without releasing them),
    /// so its jobs continue now rather than after the leases expire. A node runs one process, so none of them is live.
    /// </summary>
    public async Task<int> ReleaseNodeAsync(CancellationToken ct)
    {
        var node = NodeId;
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.JobLeases.Where(l => l.NodeId == node && l.ExpiresAt > DateTime.UnixEpoch)
            .ExecuteUpdateAsync(s => s.SetProperty(l => l.ExpiresAt, DateTime.UnixEpoch), ct);
    }
}
