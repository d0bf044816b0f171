using Microsoft.EntityFrameworkCore;
using Storage;

namespace Api.Searches;

/// <summary>
/// At start-up, decides once for every running search: a trial that paused (or ended) just before a crash, whose decision
/// never ran, is promoted or pruned now, and free slots get their trials.
/// </summary>
internal sealed class SearchRecovery(IDbContextFactory<TrainingDbContext> contexts, SearchCoordinator coordinator) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var running = await db.Searches.AsNoTracking().Where(s => s.Status == SearchStatus.Running).OrderBy(s => s.Id)
            .Select(s => s.Id).ToListAsync(cancellationToken);
        foreach (var id in running) await coordinator.DecideAsync(id, ct: cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
