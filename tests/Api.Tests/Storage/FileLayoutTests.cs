using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Storage;
using Storage.Entities;

namespace Api.Tests.Storage;

/// <summary>
/// What storage makes of its files at start-up: the SQLite file's layout (page size, incremental vacuum, WAL), checkpoint
/// states earlier versions kept in the database, and checkpoint files no row names.
/// </summary>
public sealed class FileLayoutTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("layout-tests-").FullName;

    [Fact]
    public async Task NewDatabaseGetsFourKiBPagesIncrementalVacuumAndWal()
    {
        await StartStorageAsync();
        Assert.Equal((StorageInitializer.PageSize, 2L, "wal"), Layout());
    }

    [Fact]
    public async Task DatabaseWithSixteenKiBPagesIsRebuiltOnceWithItsRowsIntact()
    {
        // A database as the version before left it: 16 KiB pages, migrated, in WAL mode, with a job and its metrics.
        long jobId = await CreateEarlierDatabaseAsync(pageSize: 16_384);
        Assert.Equal((16_384L, 2L, "wal"), Layout());

        await StartStorageAsync();

        Assert.Equal((StorageInitializer.PageSize, 2L, "wal"), Layout());
        await using var db = Open();
        Assert.Equal(jobId, (await db.Jobs.SingleAsync()).Id);
        Assert.Equal(0.5f, (await db.EpochMetrics.SingleAsync(m => m.JobId == jobId)).TrainLoss);
    }

    [Fact]
    public async Task CheckpointStatesEarlierVersionsKeptInTheDatabaseMoveToFiles()
    {
        long jobId = await CreateEarlierDatabaseAsync(pageSize: StorageInitializer.PageSize);
        byte[][] states = [[.. Enumerable.Range(0, 300_000).Select(i => (byte)i)], [.. Enumerable.Range(0, 1000).Select(i => (byte)(i * 7))]];
        using (var connection = new SqliteConnection(ConnectionString()))
        {
            connection.Open();
            for (int epoch = 1; epoch <= states.Length; epoch++)
            {
                using var insert = connection.CreateCommand();
                insert.CommandText = """
                    INSERT INTO Checkpoints (JobId, Epoch, State, SizeBytes, Sha256, IsBest, CreatedAt)
                    VALUES ($job, $epoch, $state, $size, $sha, 0, '2026-11-23 12:00:00')
                    """;
                var state = states[epoch - 1];
                insert.Parameters.AddWithValue("$job", jobId);
                insert.Parameters.AddWithValue("$epoch", epoch);
                insert.Parameters.AddWithValue("$state", state);
                insert.Parameters.AddWithValue("$size", state.Length);
                insert.Parameters.AddWithValue("$sha", Convert.ToHexStringLower(SHA256.HashData(state)));
                insert.ExecuteNonQuery();
            }
        }
        SqliteConnection.ClearAllPools();
        long before = new FileInfo(Path.Combine(_directory, "service.db")).Length;

        var files = await StartStorageAsync();

        await using var db = Open();
        var checkpoints = await db.Checkpoints.OrderBy(c => c.Epoch).ToListAsync();
        Assert.Equal([1, 2], checkpoints.Select(c => c.Epoch));
        for (int i = 0; i < states.Length; i++)
        {
            Assert.Equal(states[i], await File.ReadAllBytesAsync(Path.Combine(_directory, checkpoints[i].FileName)));
            Assert.Equal(states[i], files.ReadIntact(checkpoints[i]));
        }
        Assert.Equal(0L, await db.Database.SqlQueryRaw<long>(
            $"SELECT count(*) AS Value FROM sqlite_master WHERE name = '{StorageInitializer.LegacyCheckpoints}'").SingleAsync());
        // The 300 KB blob's pages went back to the file system.
        SqliteConnection.ClearAllPools();
        long after = new FileInfo(Path.Combine(_directory, "service.db")).Length;
        Assert.True(after < before - 250_000, $"{before} bytes before, {after} after");
    }

    [Fact]
    public async Task CheckpointFilesNoRowNamesAreDeletedAtStart()
    {
        var files = await StartStorageAsync();
        long jobId;
        string kept;
        await using (var db = Open())
        {
            var job = NewJob();
            db.Jobs.Add(job);
            await db.SaveChangesAsync();
            jobId = job.Id;
            kept = files.Write(jobId, 1, [1, 2, 3]);
            db.Checkpoints.Add(new Checkpoint { JobId = jobId, Epoch = 1, FileName = kept, SizeBytes = 3, Sha256 = Convert.ToHexStringLower(SHA256.HashData([1, 2, 3])) });
            await db.SaveChangesAsync();
        }
        // A state written before a crash could commit its row, and the folder of a job deleted while the files were busy.
        var torn = files.Write(jobId, 2, [4, 5]);
        var stray = files.Write(jobId + 1, 1, [6]);

        await StartStorageAsync();

        Assert.True(File.Exists(Path.Combine(_directory, kept)));
        Assert.False(File.Exists(Path.Combine(_directory, torn)));
        Assert.False(Directory.Exists(Path.GetDirectoryName(Path.Combine(_directory, stray))));
    }

    /// <summary>A database at the migration before CheckpointFiles, with a job and one epoch's metrics; returns the job's id.</summary>
    private async Task<long> CreateEarlierDatabaseAsync(long pageSize)
    {
        using (var connection = new SqliteConnection(ConnectionString()))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"PRAGMA page_size={pageSize}; PRAGMA auto_vacuum=INCREMENTAL; VACUUM;";
            command.ExecuteNonQuery();
        }
        await using var db = Open();
        await db.GetService<IMigrator>().MigrateAsync("20261123150000_ApiKeysAndOwners");
        await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
        // SQL of that schema: the Job entity has columns later migrations add.
        await db.Database.ExecuteSqlRawAsync("""
            INSERT INTO "Jobs" (OwnerId, SpecJson, OptionsJson, Epochs, CheckpointEvery, Status, CurrentEpoch, Attempts, EarlyStopped, CreatedAt, UpdatedAt)
            VALUES ('', '{{}}', '{{}}', 1, 1, 'Succeeded', 0, 0, 0, '2026-11-24 00:00:00', '2026-11-24 00:00:00')
            """);
        long jobId = await db.Database.SqlQueryRaw<long>("SELECT max(Id) AS \"Value\" FROM \"Jobs\"").SingleAsync();
        db.EpochMetrics.Add(new EpochMetric { JobId = jobId, Epoch = 1, TrainLoss = 0.5f });
        await db.SaveChangesAsync();
        return jobId;
    }

    private static Job NewJob() => new()
    {
        SpecJson = "{}", OptionsJson = "{}", Epochs = 1, CheckpointEvery = 1, Status = JobStatus.Succeeded,
        CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow,
    };

    /// <summary>Runs storage's start-up on the folder; returns its <see cref="CheckpointFiles"/>, which outlives the container.</summary>
    private async Task<CheckpointFiles> StartStorageAsync()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Storage:DataDirectory"] = _directory }).Build();
        // As at a start: nothing else has the file open (a rebuild leaves WAL mode, which needs it alone).
        SqliteConnection.ClearAllPools();
        await using var services = new ServiceCollection().AddLogging().AddStorage(configuration).BuildServiceProvider();
        foreach (var hosted in services.GetServices<IHostedService>()) await hosted.StartAsync(CancellationToken.None);
        return services.GetRequiredService<CheckpointFiles>();
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
