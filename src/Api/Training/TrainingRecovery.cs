using Microsoft.EntityFrameworkCore;
using Storage;
using Storage.Entities;

namespace Api.Training;

/// <summary>
/// At start-up, puts every job the database still calls Queued or Running back on Hangfire's queue, after freeing the
/// leases this node's previous process held. Hangfire's storage is in memory, so nothing of the previous process is
/// re-run by Hangfire itself: a kill -9 and a graceful stop both leave the unfinished jobs to this, and each continues
/// from its latest intact checkpoint. Failed and cancelled jobs are final and never enqueued here.
/// </summary>
internal sealed class TrainingRecovery(
    IDbContextFactory<TrainingDbContext> contexts, TrainingQueue queue, TrainingLeases leases, TrainingRegistry registry,
    ILogger<TrainingRecovery> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        int freed = await leases.ReleaseNodeAsync(cancellationToken);
        if (freed > 0) logger.LogInformation("Freed {Count} job leases held by this node's previous process", freed);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var active = await db.Jobs.AsNoTracking()
            .Where(j => j.Status == JobStatus.Queued || j.Status == JobStatus.Running)
            .OrderBy(j => j.Id).Select(j => j.Id).ToListAsync(cancellationToken);
        foreach (var id in active)
        {
            if (registry.IsRunning(id)) continue;
            logger.LogInformation("Re-queueing job {JobId} left unfinished by the previous run", id);
            queue.Enqueue(id);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
