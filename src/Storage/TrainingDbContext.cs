using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
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
    public DbSet<LayerStatRow> LayerStats => Set<LayerStatRow>();
    public DbSet<Experiment> Experiments => Set<Experiment>();

    /// <summary>SQLite keeps no time zone; every DateTime here is written in UTC, so it is read back as UTC.</summary>
    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcConverter>();
        configurationBuilder.Properties<DateTime?>().HaveConversion<UtcConverter>();
    }

    private sealed class UtcConverter() : ValueConverter<DateTime, DateTime>(
        v => v.ToUniversalTime(), v => DateTime.SpecifyKind(v, DateTimeKind.Utc));

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(TrainingDbContext).Assembly);
}
