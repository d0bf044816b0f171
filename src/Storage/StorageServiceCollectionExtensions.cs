using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers the SQLite database (a DbContext factory, WAL, busy timeout), <see cref="StoragePaths"/>
    /// and a hosted service that creates the folders and applies migrations before anything else starts.
    /// </summary>
    public static IServiceCollection AddStorage(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(StorageOptions.Section);
        services.Configure<StorageOptions>(section);
        // Bound eagerly: the connection strings have to exist before the container is built.
        var options = section.Get<StorageOptions>() ?? new StorageOptions();
        var paths = new StoragePaths(options);
        services.AddSingleton(paths);
        // Not pooled, although pooling saved a fifth of a GET /jobs/{id}: each context captures the request's
        // owner for its query filters when it is built, and a pooled context would carry it to the next lease.
        services.AddDbContextFactory<TrainingDbContext>(o => o.UseSqlite(ConnectionString(paths.Database, options.BusyTimeoutSeconds)));
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
