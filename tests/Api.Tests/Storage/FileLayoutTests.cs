using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Storage;
using Storage.Entities;

namespace Api.Tests.Storage;

/// <summary>The SQLite file's layout (page size, incremental vacuum, WAL) for a new database and for one made before it.</summary>
public sealed class FileLayoutTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("layout-tests-").FullName;

    [Fact]
    public async Task NewDatabaseGetsSixteenKiBPagesIncrementalVacuumAndWal()
    {
        await StartStorageAsync();
        Assert.Equal((StorageInitializer.PageSize, 2L, "wal"), Layout());
    }

    [Fact]
    public async Task DatabaseWithFourKiBPagesIsRebuiltOnceWithItsRowsIntact()
    {
        // A database as earlier versions left it: 4 KiB pages, migrated, in WAL mode, with a job and a checkpoint.
        var state = Enumerable.Range(0, 300_000).Select(i => (byte)i).ToArray();
        using (var connection = new SqliteConnection(ConnectionString()))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA page_size=4096; PRAGMA auto_vacuum=INCREMENTAL; VACUUM;";
            command.ExecuteNonQuery();
        }
        await using (var db = Open())
        {
            await db.Database.MigrateAsync();
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
            var job = new Job
            {
                SpecJson = "{}", OptionsJson = "{}", Epochs = 1, CheckpointEvery = 1, Status = JobStatus.Succeeded,
                CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow,
            };
            db.Jobs.Add(job);
            await db.SaveChangesAsync();
            db.Checkpoints.Add(new Checkpoint { JobId = job.Id, Epoch = 1, State = state, SizeBytes = state.Length, Sha256 = "00" });
            await db.SaveChangesAsync();
        }
        Assert.Equal((4096L, 2L, "wal"), Layout());
        // As at a start: nothing else has the file open (a rebuild leaves WAL mode, which needs it alone).
        SqliteConnection.ClearAllPools();

        await StartStorageAsync();

        Assert.Equal((StorageInitializer.PageSize, 2L, "wal"), Layout());
        await using (var db = Open())
            Assert.Equal(state, (await db.Checkpoints.SingleAsync()).State);
    }

    private async Task StartStorageAsync()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Storage:DataDirectory"] = _directory }).Build();
        await using var services = new ServiceCollection().AddLogging().AddStorage(configuration).BuildServiceProvider();
        foreach (var hosted in services.GetServices<IHostedService>()) await hosted.StartAsync(CancellationToken.None);
    }

    private (long PageSize, long AutoVacuum, string JournalMode) Layout()
    {
        using var connection = new SqliteConnection(ConnectionString());
        connection.Open();
        using var command = connection.CreateCommand();
        object Scalar(string sql) { command.CommandText = sql; return command.ExecuteScalar()!; }
        return ((long)Scalar("PRAGMA page_size;"), (long)Scalar("PRAGMA auto_vacuum;"), (string)Scalar("PRAGMA journal_mode;"));
    }

    private string ConnectionString() => StorageServiceCollectionExtensions.ConnectionString(Path.Combine(_directory, "service.db"), 5);

    private TrainingDbContext Open() => new(new DbContextOptionsBuilder<TrainingDbContext>().UseSqlite(ConnectionString()).Options);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
