using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers the database (SQLite by default: WAL, busy timeout; or PostgreSQL, Storage:Provider) as a DbContext factory, <see cref="StoragePaths"/>,
    /// <see cref="CheckpointFiles"/> and a hosted service that creates the folders and applies migrations before anything else starts.
    /// </summary>
    public static IServiceCollection AddStorage(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(StorageOptions.Section);
        services.Configure<StorageOptions>(section);
        // Bound eagerly: the connection strings have to exist before the container is built.
        var options = section.Get<StorageOptions>() ?? new StorageOptions();
        options.PostgresConnectionString = configuration.GetConnectionString("Postgres");
        services.PostConfigure<StorageOptions>(o => o.PostgresConnectionString = options.PostgresConnectionString);
        var provider = ProviderOptions(options);
        var paths = new StoragePaths(options);
        services.AddSingleton(paths);
        services.AddSingleton<CheckpointFiles>();
        services.AddSingleton<WeightFiles>();
        var writes = new WriteGeneration(enabled: provider == StorageOptions.Sqlite);
        services.AddSingleton(writes);
        // Pooled: building a context is a good part of a short request. Safe because a context reads its owner
        // from the ambient IOwnerScope at each query (TrainingDbContext), so nothing of one lease reaches the next.
        services.AddSingleton<IDbContextFactory<TrainingDbContext>>(sp => new OwnerScopedContextFactory(
            new PooledDbContextFactory<TrainingDbContext>(new DbContextOptionsBuilder<TrainingDbContext>()
                .UseApplicationServiceProvider(sp).Apply(provider, paths, options).Tracking(writes).Options),
            sp.GetService<IOwnerScope>()));
        services.AddHostedService<StorageInitializer>();
        return services;
    }

    /// <summary>PostgreSQL's migrations live in their own assembly (EF Core's advice for a second provider); SQLite's in this one.</summary>
    public const string PostgresMigrationsAssembly = "Storage.Postgres";

    private static string ProviderOptions(StorageOptions options)
    {
        if (options.IsPostgres)
        {
            if (string.IsNullOrWhiteSpace(options.PostgresConnectionString))
                throw new InvalidOperationException("Storage:Provider is postgres, so ConnectionStrings:Postgres is required (Npgsql form: Host=…;Database=…;Username=…)");
            return StorageOptions.Postgres;
        }
        if (string.Equals(options.Provider, StorageOptions.Sqlite, StringComparison.OrdinalIgnoreCase)) return StorageOptions.Sqlite;
        throw new InvalidOperationException($"Storage:Provider must be sqlite or postgres, not '{options.Provider}'");
    }

    private static DbContextOptionsBuilder<TrainingDbContext> Apply(
        this DbContextOptionsBuilder<TrainingDbContext> builder, string provider, StoragePaths paths, StorageOptions options) =>
        provider == StorageOptions.Postgres
            ? builder.UseNpgsql(options.PostgresConnectionString, o => o.MigrationsAssembly(PostgresMigrationsAssembly))
            : builder.UseSqlite(ConnectionString(paths.Database, options.BusyTimeoutSeconds));

    private static DbContextOptionsBuilder<TrainingDbContext> Tracking(
        this DbContextOptionsBuilder<TrainingDbContext> builder, WriteGeneration writes) =>
        writes.Enabled ? builder.AddInterceptors(new WriteGenerationInterceptor(writes)) : builder;

    /// <summary>
    /// Microsoft.Data.Sqlite retries a busy database until the command timeout runs out, so
    /// <c>Default Timeout</c> is the busy timeout.
    /// </summary>
    public static string ConnectionString(string path, int busyTimeoutSeconds) => new SqliteConnectionStringBuilder
    {
        DataSource = path,
        DefaultTimeout = busyTimeoutSeconds,
        Pooling = true,
        ForeignKeys = true,
    }.ToString();
}
