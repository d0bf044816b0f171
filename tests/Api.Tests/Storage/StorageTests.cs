using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Migrations.Operations;
using Storage;
using Storage.Entities;
using Shared;

namespace Api.Tests.Storage;

/// <summary>The storage tests on SQLite, the default provider, in a temp folder.</summary>
public sealed class StorageTests : StorageContractTests
{
    private readonly string _directory = Directory.CreateTempSubdirectory("storage-tests-").FullName;

    protected override TrainingDbContext Open() => new(new DbContextOptionsBuilder<TrainingDbContext>()
        .UseSqlite(StorageServiceCollectionExtensions.ConnectionString(Path.Combine(_directory, "test.db"), 5)).Options);

    protected override string StatusQuery => "SELECT Status AS Value FROM Jobs";

    public override void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>One PostgreSQL server (Debian's, as a non-root user, on loopback) for a test class; each test gets a new database.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    public PostgresServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await PostgresServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (Server is not null) await Server.DisposeAsync();
    }
}

/// <summary>The same storage tests on PostgreSQL (Storage:Provider postgres), with its own migrations assembly.</summary>
public sealed class PostgresStorageTests(PostgresFixture postgres) : StorageContractTests, IClassFixture<PostgresFixture>
{
    private readonly string _connectionString = postgres.Server.CreateDatabase("storage");

    protected override TrainingDbContext Open() => new(new DbContextOptionsBuilder<TrainingDbContext>()
        .UseNpgsql(_connectionString, o => o.MigrationsAssembly(StorageServiceCollectionExtensions.PostgresMigrationsAssembly)).Options);

    protected override string StatusQuery => "SELECT \"Status\" AS \"Value\" FROM \"Jobs\"";

    public override void Dispose()
    {
    }
}

/// <summary>What every provider's schema must do: migrations that match the model, unique metrics, cascades, statuses by name.</summary>
public abstract class StorageContractTests : IDisposable
{
    protected abstract TrainingDbContext Open();

    /// <summary>The job statuses as stored text, in the provider's quoting.</summary>
    protected abstract string StatusQuery { get; }

    public abstract void Dispose();

    [Fact]
    public void MigrationsAndSnapshotMatchTheModel()
    {
        using var db = Open();
        db.Database.Migrate();
        // Spell out any difference: a model change needs a migration for each provider (dotnet ef, docs/cluster.md).
        var differ = db.GetService<IMigrationsModelDiffer>();
        var snapshot = db.GetService<IMigrationsAssembly>().ModelSnapshot!.Model;
        var initialized = db.GetService<IModelRuntimeInitializer>().Initialize(snapshot);
        var operations = differ.GetDifferences(initialized.GetRelationalModel(), db.GetService<IDesignTimeModel>().Model.GetRelationalModel());
        Assert.Empty(operations.Select(o => o.GetType().Name + " " + Describe(o)));
        Assert.False(db.Database.HasPendingModelChanges());
        Assert.Empty(db.Database.GetPendingMigrations());
    }

    [Fact]
    public void MetricsAreUniquePerJobAndEpochAndGoWithTheirJob()
    {
        using var db = Open();
        db.Database.Migrate();
        var job = NewJob();
        db.Jobs.Add(job);
        db.SaveChanges();
        db.EpochMetrics.Add(new EpochMetric { JobId = job.Id, Epoch = 1, TrainLoss = 1 });
        db.Checkpoints.Add(new Checkpoint { JobId = job.Id, Epoch = 1, FileName = "checkpoints/1/1.state", SizeBytes = 3, Sha256 = "00" });
        db.SaveChanges();

        db.EpochMetrics.Add(new EpochMetric { JobId = job.Id, Epoch = 1, TrainLoss = 2 });
        Assert.Throws<DbUpdateException>(() => db.SaveChanges());
        db.ChangeTracker.Clear();

        Assert.Equal(1, db.Jobs.Where(j => j.Id == job.Id).ExecuteDelete());
        Assert.Equal(0, db.EpochMetrics.Count());
        Assert.Equal(0, db.Checkpoints.Count());
    }

    [Fact]
    public void StatusIsStoredByName()
    {
        using var db = Open();
        db.Database.Migrate();
        var job = NewJob();
        db.Jobs.Add(job);
        db.SaveChanges();
        db.Jobs.Where(j => j.Id == job.Id).ExecuteUpdate(s => s.SetProperty(j => j.Status, JobStatus.Running));
        var raw = db.Database.SqlQueryRaw<string>(StatusQuery).Single();
        Assert.Equal("Running", raw);
    }

    private static Job NewJob() => new()
    {
        SpecJson = "{}", OptionsJson = "{}", Epochs = 1, CheckpointEvery = 1, Status = JobStatus.Queued,
        CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow,
    };

    private static string Describe(MigrationOperation o) => o switch
    {
        ColumnOperation c => $"{c.Table}.{c.Name} {c.ColumnType} null={c.IsNullable} max={c.MaxLength}",
        TableOperation t => t.Name,
        CreateIndexOperation i => $"{i.Table} {i.Name}",
        DropIndexOperation i => $"{i.Table} {i.Name}",
        AddForeignKeyOperation f => $"{f.Table} {f.Name}",
        DropForeignKeyOperation f => $"{f.Table} {f.Name}",
        _ => o.ToString() ?? "",
    };
}
