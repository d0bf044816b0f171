using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Migrations.Operations;
using Storage;
using Storage.Entities;

namespace Api.Tests.Storage;

public sealed class StorageTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("storage-tests-").FullName;

    private TrainingDbContext Open() => new(new DbContextOptionsBuilder<TrainingDbContext>()
        .UseSqlite(StorageServiceCollectionExtensions.ConnectionString(Path.Combine(_directory, "test.db"), 5)).Options);

    [Fact]
    public void HandWrittenMigrationAndSnapshotMatchTheModel()
    {
        using var db = Open();
        db.Database.Migrate();
        // Spell out any difference, since the snapshot is maintained by hand.
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
        var raw = db.Database.SqlQueryRaw<string>("SELECT Status AS Value FROM Jobs").Single();
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

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
