using Microsoft.EntityFrameworkCore;
using Storage;
using Storage.Entities;

namespace Api.Training;

/// <summary>
/// At start-up, puts every job the database still calls Queued or Running back on the scheduler unless
/// a trigger for it is already waiting (Quartz re-fires jobs it was running at a crash by itself, since
/// they request recovery). A graceful shutdown leaves interrupted jobs Running with no trigger; this is
/// what brings them back. Either way <see cref="TrainingJob"/> continues from the latest checkpoint.
/// </summary>
internal sealed class TrainingRecovery(
    IDbContextFactory<TrainingDbContext> contexts, TrainingScheduler scheduler, TrainingRegistry registry,
    ILogger<TrainingRecovery> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var active = await db.Jobs.AsNoTracking()
            .Where(j => j.Status == JobStatus.Queued || j.Status == JobStatus.Running)
            .OrderBy(j => j.Id).Select(j => j.Id).ToListAsync(cancellationToken);
        foreach (var id in active)
        {
            if (registry.IsRunning(id) || await scheduler.IsPendingAsync(id, cancellationToken)) continue;
            logger.LogInformation("Re-queueing job {JobId} left unfinished by the previous run", id);
            await scheduler.EnqueueAsync(id, cancellationToken);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
