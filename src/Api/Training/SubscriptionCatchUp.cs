using Api.Cluster;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Storage;

namespace Api.Training;

/// <summary>
/// Several nodes only: every Training:HubCatchUpSeconds, compares this node's hub subscribers with the database and sends
/// them the epochs and status they were not given. A node stores an event, then publishes it for the others; killed in
/// between, its last epoch or its final status would otherwise never reach subscribers on the other nodes.
/// </summary>
internal sealed class SubscriptionCatchUp(
    IDbContextFactory<TrainingDbContext> contexts, JobEvents events, ClusterBus cluster, IOptions<WorkerOptions> options,
    ILogger<SubscriptionCatchUp> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // One node: a killed node's subscribers are gone with it.
        if (!cluster.IsShared) return;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(1, options.Value.HubCatchUpSeconds)));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await CatchUpAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "Comparing hub subscribers with the database failed; trying again in {Seconds} s", options.Value.HubCatchUpSeconds);
            }
        }
    }

    private async Task CatchUpAsync(CancellationToken ct)
    {
        var jobs = events.SubscribedJobs;
        if (jobs.Count == 0) return;
        await using var db = await contexts.CreateDbContextAsync(ct);
        // One query for every subscribed job's progress; only a job someone is behind on is read again under its lock.
        var stored = await db.Jobs.AsNoTracking().Where(j => jobs.Contains(j.Id)).Select(j => new { j.Id, j.Status, j.CurrentEpoch }).ToListAsync(ct);
        foreach (var job in stored)
        {
            if (!events.IsBehind(job.Id, job.CurrentEpoch, job.Status, out _)) continue;
            await events.ExclusiveAsync(job.Id, async () =>
            {
                // Under the lock, so nothing this node stores and posts meanwhile is posted twice or out of order.
                var current = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == job.Id, ct);
                if (current is null || !events.IsBehind(current.Id, current.CurrentEpoch, current.Status, out int lowest)) return;
                var missed = await db.EpochMetrics.AsNoTracking().Where(m => m.JobId == current.Id && m.Epoch > lowest)
                    .OrderBy(m => m.Epoch).ToListAsync(ct);
                logger.LogInformation("Job {JobId}: hub subscribers on this node were behind the database; sending {Epochs} epoch(s) and status {Status}",
                        current.Id, missed.Count, current.Status);
                events.CatchUp(missed.Select(m => m.AsEvent()), current.StatusEvent());
            });
        }
    }
}
