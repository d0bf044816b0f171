using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers the SQLite database (a DbContext factory, WAL, busy timeout), <see cref="StoragePaths"/>,
    /// <see cref="CheckpointFiles"/> and a hosted service that creates the folders and applies migrations before anything else starts.
    /// </summary>
    public static IServiceCollection AddStorage(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(StorageOptions.Section);
        services.Configure<StorageOptions>(section);
        // Bound eagerly: the connection strings have to exist before the container is built.
        var options = section.Get<StorageOptions>() ?? new StorageOptions();
        var paths = new StoragePaths(options);
        services.AddSingleton(paths);
        services.AddSingleton<CheckpointFiles>();
        services.AddSingleton<WeightFiles>();
        // Pooled: building a context is a good part of a short request. Safe because a context reads its owner
        // from the ambient IOwnerScope at each query (TrainingDbContext), so nothing of one lease reaches the next.
        services.AddSingleton<IDbContextFactory<TrainingDbContext>>(sp => new OwnerScopedContextFactory(
            new PooledDbContextFactory<TrainingDbContext>(new DbContextOptionsBuilder<TrainingDbContext>()
                .UseApplicationServiceProvider(sp).UseSqlite(ConnectionString(paths.Database, options.BusyTimeoutSeconds)).Options),
            sp.GetService<IOwnerScope>()));
        services.AddHostedService<StorageInitializer>();
        return services;
    }

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
