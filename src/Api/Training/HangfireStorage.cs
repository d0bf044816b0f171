using Hangfire;
using Hangfire.InMemory;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Npgsql;
using Storage;

namespace Api.Training;

/// <summary>
/// Hangfire's storage for the configured provider. SQLite (one node): in memory, the service database being the record
/// that start-up recovery re-queues from. PostgreSQL (several nodes): Hangfire.PostgreSql in the same database, so a job
/// enqueued on one node runs on whichever node's worker is free.
/// </summary>
/// <remarks>
/// <para>PostgreSQL settings: a fetched job stays invisible to other nodes while its node's heartbeat slides its fetch
/// time (<c>UseSlidingInvisibilityTimeout</c>); a killed node's job becomes visible again Training:InvisibilityTimeoutSeconds
/// after its last heartbeat, and another node runs it. <c>EnableLongPolling</c> (LISTEN/NOTIFY) wakes every node's idle
/// workers at an enqueue instead of at their next poll.</para>
/// <para>Hangfire.PostgreSql's distributed locks are rows that another node deletes once they are older than
/// <c>DistributedLockTimeout</c>, and nothing renews them, so they do not keep a job longer than that exclusive. Training
/// takes none; <see cref="TrainingLeases"/> (a renewed lease row per job) keeps one trainer per job.</para>
/// </remarks>
internal static class HangfireStorage
{
    /// <summary>Key of the advisory lock under which one node at a time installs or upgrades Hangfire's schema.</summary>
    private const long SchemaLockKey = 0x6861_6e67_6669_7265; // "hangfire"

    public static JobStorage Create(StorageOptions storage, WorkerOptions worker)
    {
        if (!storage.IsPostgres) return new InMemoryStorage(new InMemoryStorageOptions());
        var options = new PostgreSqlStorageOptions
        {
            UseSlidingInvisibilityTimeout = true,
            InvisibilityTimeout = TimeSpan.FromSeconds(Math.Max(1, worker.InvisibilityTimeoutSeconds)),
            EnableLongPolling = true,
            QueuePollInterval = TimeSpan.FromSeconds(Math.Max(1, worker.QueuePollIntervalSeconds)),
            // Installed below under a lock: its own installer runs serializable transactions that fail when nodes start together.
            PrepareSchemaIfNecessary = false,
        };
        using (var connection = new NpgsqlConnection(storage.PostgresConnectionString))
        {
            connection.Open();
            using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({SchemaLockKey})", connection)) take.ExecuteNonQuery();
            try
            {
                PostgreSqlObjectsInstaller.Install(connection, options.SchemaName);
            }
            finally
            {
                using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({SchemaLockKey})", connection);
                release.ExecuteNonQuery();
            }
        }
        return new PostgreSqlStorage(new NpgsqlConnectionFactory(storage.PostgresConnectionString!, options), options);
    }
}
