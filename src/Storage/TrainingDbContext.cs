using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Storage.Entities;

namespace Storage;

/// <summary>
/// The service's database. Created per unit of work through <see cref="IDbContextFactory{TContext}"/>,
/// because the training worker outlives any request scope; the factory pools instances.
/// </summary>
/// <remarks>
/// Owner isolation lives here, not in each endpoint: a context used in a request sees only its
/// owner's data sets, models and jobs (and the metrics and checkpoints of those jobs) through global
/// query filters, which also apply to ExecuteUpdate/ExecuteDelete and Find, and stamps the owner on
/// rows it adds. So a route that forgets to check ownership still answers 404 for someone else's id.
/// The owner is read from <see cref="OwnerScope"/> at each query and save, never kept: a pooled instance
/// leased by one request and then by another's can only ever see the current request's owner.
/// </remarks>
public sealed class TrainingDbContext(DbContextOptions<TrainingDbContext> options) : DbContext(options)
{
    /// <summary>
    /// Where the owner comes from (the current request); null for a context made without the service's factory.
    /// Set by <see cref="OwnerScopedContextFactory"/> at every lease.
    /// </summary>
    internal IOwnerScope? OwnerScope { get; set; }

    /// <summary>The owner whose rows this context sees right now; null sees everything (worker, recovery, tests).</summary>
    public string? OwnerId => OwnerScope?.OwnerId;

    public DbSet<Dataset> Datasets => Set<Dataset>();
    public DbSet<Model> Models => Set<Model>();
    public DbSet<Job> Jobs => Set<Job>();
    public DbSet<EpochMetric> EpochMetrics => Set<EpochMetric>();
    public DbSet<Checkpoint> Checkpoints => Set<Checkpoint>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<LayerStatRow> LayerStats => Set<LayerStatRow>();
    public DbSet<Experiment> Experiments => Set<Experiment>();
    public DbSet<JobLease> JobLeases => Set<JobLease>();
    public DbSet<Search> Searches => Set<Search>();

    /// <summary>SQLite keeps no time zone; every DateTime here is written in UTC, so it is read back as UTC.</summary>
    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcConverter>();
        configurationBuilder.Properties<DateTime?>().HaveConversion<UtcConverter>();
    }

    private sealed class UtcConverter() : ValueConverter<DateTime, DateTime>(
        v => v.ToUniversalTime(), v => DateTime.SpecifyKind(v, DateTimeKind.Utc));

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(TrainingDbContext).Assembly);
        // OwnerId is read per query from the context instance, so one cached model serves every owner.
        modelBuilder.Entity<Dataset>().HasQueryFilter(d => OwnerId == null || d.OwnerId == OwnerId);
        modelBuilder.Entity<Model>().HasQueryFilter(m => OwnerId == null || m.OwnerId == OwnerId);
        modelBuilder.Entity<Job>().HasQueryFilter(j => OwnerId == null || j.OwnerId == OwnerId);
        modelBuilder.Entity<EpochMetric>().HasQueryFilter(m => OwnerId == null || Set<Job>().Any(j => j.Id == m.JobId && j.OwnerId == OwnerId));
        modelBuilder.Entity<Checkpoint>().HasQueryFilter(c => OwnerId == null || Set<Job>().Any(j => j.Id == c.JobId && j.OwnerId == OwnerId));
        modelBuilder.Entity<LayerStatRow>().HasQueryFilter(s => OwnerId == null || Set<Job>().Any(j => j.Id == s.JobId && j.OwnerId == OwnerId));
        modelBuilder.Entity<Experiment>().HasQueryFilter(e => OwnerId == null || e.OwnerId == OwnerId);
        modelBuilder.Entity<Search>().HasQueryFilter(s => OwnerId == null || s.OwnerId == OwnerId);
        modelBuilder.Entity<JobLease>().HasQueryFilter(l => OwnerId == null || Set<Job>().Any(j => j.Id == l.JobId && j.OwnerId == OwnerId));
    }

    public override int SaveChanges(bool acceptAllChangesOnSuccess)
    {
        StampOwner();
        return base.SaveChanges(acceptAllChangesOnSuccess);
    }

    public override Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        StampOwner();
        return base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
    }

    /// <summary>A scoped context can only create rows for its own owner, whatever the caller set.</summary>
    private void StampOwner()
    {
        if (OwnerId is null) return;
        foreach (var entry in ChangeTracker.Entries<IOwned>())
            if (entry.State == EntityState.Added) entry.Entity.OwnerId = OwnerId;
    }
}
