using Microsoft.EntityFrameworkCore;

namespace Storage;

/// <summary>
/// The service's <see cref="IDbContextFactory{TContext}"/>: leases pooled contexts and points each at the
/// ambient <see cref="IOwnerScope"/>. The scope is not an owner but where to read one, so a context reused by
/// a later request (or by the worker) sees that caller's owner, not the one it was first leased for.
/// </summary>
internal sealed class OwnerScopedContextFactory(IDbContextFactory<TrainingDbContext> pool, IOwnerScope? owner)
    : IDbContextFactory<TrainingDbContext>
{
    public TrainingDbContext CreateDbContext() => Scoped(pool.CreateDbContext());

    public async Task<TrainingDbContext> CreateDbContextAsync(CancellationToken cancellationToken = default) =>
        Scoped(await pool.CreateDbContextAsync(cancellationToken));

    private TrainingDbContext Scoped(TrainingDbContext context)
    {
        context.OwnerScope = owner;
        return context;
    }
}
