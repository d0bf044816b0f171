using System.Globalization;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Storage;
using Storage.Entities;

namespace Api.Training;

/// <summary>Training-state blobs in the database: hashing, retention and lookup by selector.</summary>
public static class Checkpoints
{
    /// <param name="sha256">The state's SHA-256, as <c>TrainingSession.SaveState(out sha256)</c> gives it.</param>
    public static Checkpoint Create(long jobId, int epoch, byte[] state, byte[] sha256, bool isBest) => new()
    {
        JobId = jobId,
        Epoch = epoch,
        State = state,
        SizeBytes = state.LongLength,
        Sha256 = Convert.ToHexStringLower(sha256),
        IsBest = isBest,
        CreatedAt = DateTime.UtcNow,
    };

    /// <summary>Whether the blob is still what was written (size and SHA-256).</summary>
    public static bool IsIntact(Checkpoint c) =>
        c.State.LongLength == c.SizeBytes && Convert.ToHexStringLower(SHA256.HashData(c.State)) == c.Sha256;

    /// <summary>Keeps the <paramref name="keepLast"/> most recent checkpoints and the best one; deletes the rest.</summary>
    public static async Task PruneAsync(TrainingDbContext db, long jobId, int keepLast, CancellationToken ct)
    {
        var epochs = await db.Checkpoints.Where(c => c.JobId == jobId).OrderByDescending(c => c.Epoch)
            .Select(c => new { c.Epoch, c.IsBest }).ToListAsync(ct);
        var keep = epochs.Take(Math.Max(1, keepLast)).Select(e => e.Epoch).ToHashSet();
        // IsBest means "better than every earlier epoch", so the latest flagged one is the best overall.
        if (epochs.FirstOrDefault(e => e.IsBest) is { } best) keep.Add(best.Epoch);
        await db.Checkpoints.Where(c => c.JobId == jobId && !keep.Contains(c.Epoch)).ExecuteDeleteAsync(ct);
    }

    /// <summary>
    /// Hands free pages back to the file system (auto_vacuum=INCREMENTAL, set at start-up) once more than
    /// <paramref name="keepBytes"/> are free. Pruning frees about one checkpoint per epoch and the next
    /// checkpoint reuses those pages, so a job in progress keeps up to two checkpoints' worth on the free list
    /// (moving those pages to the end of the file every epoch cost the training ~5 %); the end of a job
    /// (keepBytes 0) releases the rest, so a finished job leaves only its kept checkpoints on disk.
    /// </summary>
    public static async Task ReleaseFreePagesAsync(TrainingDbContext db, long keepBytes)
    {
        await db.Database.OpenConnectionAsync();
        try
        {
            await using var command = db.Database.GetDbConnection().CreateCommand();
            command.CommandText = "SELECT freelist_count * page_size FROM pragma_freelist_count, pragma_page_size";
            if (Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture) > keepBytes)
                await db.Database.ExecuteSqlRawAsync("PRAGMA incremental_vacuum;");
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    /// <summary>True when <paramref name="selector"/> is latest, best or a positive epoch number.</summary>
    public static bool IsValidSelector(string selector) =>
        selector is "latest" or "best" || (int.TryParse(selector, NumberStyles.None, CultureInfo.InvariantCulture, out var e) && e > 0);

    /// <summary>The checkpoint named by a valid selector, or null.</summary>
    public static Task<Checkpoint?> FindAsync(TrainingDbContext db, long jobId, string selector, CancellationToken ct)
    {
        var all = db.Checkpoints.AsNoTracking().Where(c => c.JobId == jobId);
        return selector switch
        {
            "latest" => all.OrderByDescending(c => c.Epoch).FirstOrDefaultAsync(ct),
            "best" => all.Where(c => c.IsBest).OrderByDescending(c => c.Epoch).FirstOrDefaultAsync(ct),
            _ => all.FirstOrDefaultAsync(c => c.Epoch == int.Parse(selector, CultureInfo.InvariantCulture), ct),
        };
    }
}
