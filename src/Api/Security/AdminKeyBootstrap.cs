using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Storage;
using Storage.Entities;

namespace Api.Security;

/// <summary>
/// On a start with no keys at all, creates the admin key (owner "admin"), prints it once on the console
/// and writes it to <c>&lt;DataDirectory&gt;/admin.key</c> readable by the service's user only, as
/// Jupyter does with its token. Runs after StorageInitializer has migrated (registered after it).
/// </summary>
internal sealed class AdminKeyBootstrap(
    IDbContextFactory<TrainingDbContext> contexts, StoragePaths paths, IOptions<SecurityOptions> options,
    ILogger<AdminKeyBootstrap> logger) : IHostedService
{
    public const string AdminOwner = "admin";
    public const string FileName = "admin.key";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        if (await db.ApiKeys.AnyAsync(cancellationToken)) return;
        var configured = options.Value.BootstrapAdminKey;
        var key = string.IsNullOrWhiteSpace(configured) ? ApiKeys.Generate() : configured.Trim();
        db.ApiKeys.Add(new ApiKey
        {
            Owner = AdminOwner, IsAdmin = true, Hash = ApiKeys.Hash(key), Prefix = ApiKeys.Prefix(key), CreatedAt = DateTime.UtcNow,
        });
        await db.SaveChangesAsync(cancellationToken);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            logger.LogInformation("Created the admin key from Security:BootstrapAdminKey");
            return;
        }

        var path = Path.Combine(paths.Root, FileName);
        // Created with 0600 before the key is written, so it is never readable by others, not even briefly.
        var create = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        await using (var file = new StreamWriter(path, new System.Text.UTF8Encoding(false), create))
            await file.WriteLineAsync(key);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        // The console, not the logger: logs are shipped and kept, keys must never be in them.
        Console.WriteLine($"Admin API key (shown once; also in {path}): {key}");
        logger.LogWarning("Created the first admin key; it is in {Path}", path);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
