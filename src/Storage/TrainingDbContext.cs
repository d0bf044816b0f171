using Microsoft.EntityFrameworkCore;
using Storage.Entities;

namespace Storage;

/// <summary>
/// The service's database. Created per unit of work through <see cref="IDbContextFactory{TContext}"/>,
/// because the training worker outlives any request scope.
/// </summary>
public sealed class TrainingDbContext(DbContextOptions<TrainingDbContext> options) : DbContext(options)
{
    public DbSet<Dataset> Datasets => Set<Dataset>();
    public DbSet<Model> Models => Set<Model>();
    public DbSet<Job> Jobs => Set<Job>();
    public DbSet<EpochMetric> EpochMetrics => Set<EpochMetric>();
    public DbSet<Checkpoint> Checkpoints => Set<Checkpoint>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(TrainingDbContext).Assembly);
}
