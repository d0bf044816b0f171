using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Storage;

/// <summary>
/// Runs first at start-up (hosted services start in registration order, and AddStorage comes first):
/// creates the folders, applies migrations and switches both SQLite files to WAL, so readers never
/// block the training worker's writes.
/// </summary>
internal sealed class StorageInitializer(
    IDbContextFactory<TrainingDbContext> contexts, StoragePaths paths, IOptions<StorageOptions> options,
    ILogger<StorageInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(paths.Root);
        Directory.CreateDirectory(paths.Datasets);
        // Anything left in tmp is an upload a crash interrupted; it was never referenced.
        if (Directory.Exists(paths.Temp)) Directory.Delete(paths.Temp, recursive: true);
        Directory.CreateDirectory(paths.Temp);

        await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
        {
            await EnableIncrementalVacuumAsync(db, cancellationToken);
            await db.Database.MigrateAsync(cancellationToken);
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }
        await using (var scheduler = new SqliteConnection(
            StorageServiceCollectionExtensions.ConnectionString(paths.SchedulerDatabase, options.Value.BusyTimeoutSeconds)))
        {
            await scheduler.OpenAsync(cancellationToken);
            await using var command = scheduler.CreateCommand();
            command.CommandText = "PRAGMA journal_mode=WAL;";
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        logger.LogInformation("Storage ready in {Directory}", paths.Root);
    }

    /// <summary>
    /// auto_vacuum=INCREMENTAL lets pruning give checkpoint pages back (PRAGMA incremental_vacuum). It only
    /// takes effect on a database without tables or through a VACUUM, so an existing database is rebuilt once.
    /// </summary>
    private async Task EnableIncrementalVacuumAsync(TrainingDbContext db, CancellationToken ct)
    {
        const long incremental = 2;
        // Opened through EF, so the context closes it when it goes back to the pool.
        await db.Database.OpenConnectionAsync(ct);
        var connection = db.Database.GetDbConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA auto_vacuum;";
        if (Convert.ToInt64(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture) == incremental) return;
        command.CommandText = "SELECT count(*) FROM sqlite_master;";
        bool empty = Convert.ToInt64(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture) == 0;
        command.CommandText = empty ? "PRAGMA auto_vacuum=INCREMENTAL;" : "PRAGMA auto_vacuum=INCREMENTAL; VACUUM;";
        await command.ExecuteNonQueryAsync(ct);
        if (!empty) logger.LogInformation("Database rebuilt once with auto_vacuum=INCREMENTAL");
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
