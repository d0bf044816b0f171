using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Storage;

/// <summary>
/// Runs first at start-up (hosted services start in registration order, and AddStorage comes first):
/// creates the folders, applies migrations, moves checkpoint states of earlier versions out to files, sweeps
/// checkpoint files no row names, deletes the earlier scheduler's file and switches the database to WAL, so readers never block the training
/// worker's writes.
/// </summary>
internal sealed class StorageInitializer(
    IDbContextFactory<TrainingDbContext> contexts, StoragePaths paths, CheckpointFiles checkpointFiles, WeightFiles weightFiles, IOptions<StorageOptions> options,
    ILogger<StorageInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.IsPostgres)
        {
            await StartPostgresAsync(cancellationToken);
            return;
        }
        Directory.CreateDirectory(paths.Root);
        // The data directory holds everyone's data and the key hashes: its owner (the service's user) only.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(paths.Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.CreateDirectory(paths.Datasets);
        // Anything left in tmp is an upload a crash interrupted; it was never referenced.
        if (Directory.Exists(paths.Temp)) Directory.Delete(paths.Temp, recursive: true);
        Directory.CreateDirectory(paths.Temp);

        await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
        {
            await EnsureFileLayoutAsync(db, cancellationToken);
            await db.Database.MigrateAsync(cancellationToken);
            await MoveLegacyCheckpointsAsync(db, cancellationToken);
            await SweepCheckpointsAsync(db, default, cancellationToken);
            var weights = await db.Models.IgnoreQueryFilters().Where(m => m.WeightsSha256 != null).Select(m => m.WeightsSha256!)
                .Union(db.Jobs.IgnoreQueryFilters().Where(j => j.InitialWeightsSha256 != null).Select(j => j.InitialWeightsSha256!))
                .ToListAsync(cancellationToken);
            int swept = weightFiles.Sweep(weights.ToHashSet());
            if (swept > 0) logger.LogInformation("Deleted {Count} imported weights files no model or job refers to", swept);
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
            // Pages freed since the last start (deleted jobs, moved states) go back to the file system.
            await db.Database.ExecuteSqlRawAsync("PRAGMA incremental_vacuum;", cancellationToken);
        }
        DeleteRetiredSchedulerDatabase();
        if (!OperatingSystem.IsWindows())
            foreach (var file in new[] { paths.Database, paths.Database + "-wal", paths.Database + "-shm" }.Where(File.Exists))
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        logger.LogInformation("Storage ready in {Directory}", paths.Root);
    }

    /// <summary>Key of the session-level advisory lock that lets one node at a time migrate and sweep.</summary>
    internal const long MigrationLockKey = 0x7472_6169_6e5f_6462; // "train_db"

    /// <summary>On a shared data directory other nodes' uploads and checkpoint files may be in flight; only what is this old is left over.</summary>
    internal static readonly TimeSpan SharedLeftoverAge = TimeSpan.FromHours(1);

    /// <summary>
    /// Several nodes may start at once: each waits for the advisory lock, so one migrates while the others wait and then
    /// find nothing pending. Files are swept only when old enough that no live node can still be about to commit their rows.
    /// </summary>
    private async Task StartPostgresAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(paths.Root);
        Directory.CreateDirectory(paths.Datasets);
        Directory.CreateDirectory(paths.Temp);
        foreach (var leftover in new DirectoryInfo(paths.Temp).EnumerateFiles())
            if (leftover.LastWriteTimeUtc < DateTime.UtcNow - SharedLeftoverAge) leftover.Delete();

        await using var db = await contexts.CreateDbContextAsync(ct);
        await db.Database.OpenConnectionAsync(ct);
        try
        {
            await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_lock({MigrationLockKey})", ct);
            try
            {
                await db.Database.MigrateAsync(ct);
                await SweepCheckpointsAsync(db, SharedLeftoverAge, ct);
            }
            finally
            {
                await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_unlock({MigrationLockKey})", CancellationToken.None);
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
        logger.LogInformation("Storage ready: PostgreSQL, files in {Directory}", paths.Root);
    }

    /// <summary>Deletes checkpoint files no checkpoint row names (a crash between a file and its row), at least <paramref name="minimumAge"/> old.</summary>
    private async Task SweepCheckpointsAsync(TrainingDbContext db, TimeSpan minimumAge, CancellationToken ct)
    {
        var referenced = await db.Checkpoints.Select(c => c.FileName).ToListAsync(ct);
        int swept = checkpointFiles.Sweep(referenced.ToHashSet(), minimumAge);
        if (swept > 0) logger.LogInformation("Deleted {Count} checkpoint files no checkpoint refers to", swept);
    }

    /// <summary>Where the CheckpointFiles migration left the checkpoints of earlier versions, states as blobs.</summary>
    internal const string LegacyCheckpoints = "LegacyCheckpoints";

    /// <summary>
    /// Writes each state blob of <see cref="LegacyCheckpoints"/> to a file and moves its row into Checkpoints, one per
    /// transaction (states are megabytes), then drops the table. A crash midway leaves the rest for the next start and
    /// at most one file without a row, which the sweep deletes.
    /// </summary>
    private async Task MoveLegacyCheckpointsAsync(TrainingDbContext db, CancellationToken ct)
    {
        await db.Database.OpenConnectionAsync(ct);
        var connection = (SqliteConnection)db.Database.GetDbConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{LegacyCheckpoints}'";
        if (Convert.ToInt64(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture) == 0) return;
        int moved = 0;
        while (true)
        {
            await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(ct);
            command.Transaction = tx;
            command.CommandText = $"SELECT Id, JobId, Epoch, State FROM \"{LegacyCheckpoints}\" LIMIT 1";
            long id;
            string file;
            await using (var reader = await command.ExecuteReaderAsync(ct))
            {
                if (!await reader.ReadAsync(ct)) break;
                id = reader.GetInt64(0);
                file = checkpointFiles.Write(reader.GetInt64(1), reader.GetInt32(2), (byte[])reader.GetValue(3));
            }
            command.CommandText = $"""
                INSERT INTO "Checkpoints" (Id, JobId, Epoch, FileName, SizeBytes, Sha256, IsBest, CreatedAt)
                SELECT Id, JobId, Epoch, $file, SizeBytes, Sha256, IsBest, CreatedAt FROM "{LegacyCheckpoints}" WHERE Id = $id;
                DELETE FROM "{LegacyCheckpoints}" WHERE Id = $id;
                """;
            command.Parameters.Clear();
            command.Parameters.AddWithValue("$file", file);
            command.Parameters.AddWithValue("$id", id);
            await command.ExecuteNonQueryAsync(ct);
            command.Parameters.Clear();
            await tx.CommitAsync(ct);
            moved++;
        }
        command.Transaction = null;
        command.CommandText = $"DROP TABLE \"{LegacyCheckpoints}\";";
        await command.ExecuteNonQueryAsync(ct);
        if (moved > 0) logger.LogInformation("Moved {Count} checkpoint states from the database to files", moved);
    }

    /// <summary>The database's page size: see <see cref="EnsureFileLayoutAsync"/>.</summary>
    internal const long PageSize = 4_096;

    /// <summary>
    /// The file's layout, which only an empty database or a VACUUM outside WAL mode can set, so an existing
    /// database in another layout is rebuilt once:
    /// <list type="bullet">
    /// <item>auto_vacuum=INCREMENTAL lets start-up give freed pages back (PRAGMA incremental_vacuum).</item>
    /// <item>4 KiB pages, SQLite's default: the database holds small rows only (the states are files), for which
    /// larger pages cost more CPU and WAL per transaction.</item>
    /// </list>
    /// </summary>
    private async Task EnsureFileLayoutAsync(TrainingDbContext db, CancellationToken ct)
    {
        const long incremental = 2;
        // Opened through EF, so the context closes it when it goes back to the pool.
        await db.Database.OpenConnectionAsync(ct);
        var connection = db.Database.GetDbConnection();
        await using var command = connection.CreateCommand();
        long Scalar(string sql)
        {
            command.CommandText = sql;
            return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }
        if (Scalar("PRAGMA auto_vacuum;") == incremental && Scalar("PRAGMA page_size;") == PageSize) return;
        bool empty = Scalar("SELECT count(*) FROM sqlite_master;") == 0;
        // The page size of a WAL database is fixed, hence DELETE for the rebuild; StartAsync turns WAL back on.
        command.CommandText = $"PRAGMA journal_mode=DELETE; PRAGMA page_size={PageSize}; PRAGMA auto_vacuum=INCREMENTAL; VACUUM;";
        await command.ExecuteNonQueryAsync(ct);
        if (!empty) logger.LogInformation("Database rebuilt once with {PageSize}-byte pages and auto_vacuum=INCREMENTAL", PageSize);
    }

    /// <summary>
    /// Jobs the old scheduler still held are Queued or Running in the service database, where start-up recovery finds
    /// them, so its file (and its WAL and shared-memory files) can go as they are.
    /// </summary>
    private void DeleteRetiredSchedulerDatabase()
    {
        var file = paths.RetiredSchedulerDatabase;
        if (!File.Exists(file)) return;
        foreach (var suffix in new[] { "-wal", "-shm", "-journal", "" }) File.Delete(file + suffix);
        logger.LogInformation("Deleted {File}, the earlier scheduler's job store; unfinished jobs are recovered from the service database", file);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
