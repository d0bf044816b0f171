using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Storage;
using Storage.Entities;

namespace Api.Training;

/// <summary>Checkpoint rows: creation, retention and lookup by selector (the states are files: <see cref="CheckpointFiles"/>).</summary>
public static class Checkpoints
{
    /// <param name="fileName">The state's file, as <see cref="CheckpointFiles.Write"/> named it.</param>
    /// <param name="sha256">The state's SHA-256, as <c>TrainingSession.SaveState(out sha256)</c> gives it.</param>
    public static Checkpoint Create(long jobId, int epoch, string fileName, long sizeBytes, byte[] sha256, bool isBest) => new()
    {
        JobId = jobId,
        Epoch = epoch,
        FileName = fileName,
        SizeBytes = sizeBytes,
        Sha256 = Convert.ToHexStringLower(sha256),
        IsBest = isBest,
        CreatedAt = DateTime.UtcNow,
    };

    /// <summary>
    /// Keeps the <paramref name="keepLast"/> most recent checkpoints and the best one; deletes the other rows and returns
    /// their files, which the caller deletes once the transaction has committed.
    /// </summary>
    public static async Task<List<string>> PruneAsync(TrainingDbContext db, long jobId, int keepLast, CancellationToken ct)
    {
        var rows = await db.Checkpoints.Where(c => c.JobId == jobId).OrderByDescending(c => c.Epoch)
            .Select(c => new { c.Epoch, c.IsBest, c.FileName }).ToListAsync(ct);
        var keep = rows.Take(Math.Max(1, keepLast)).Select(e => e.Epoch).ToHashSet();
        // IsBest means "better than every earlier epoch", so the latest flagged one is the best overall.
        if (rows.FirstOrDefault(e => e.IsBest) is { } best) keep.Add(best.Epoch);
        var pruned = rows.Where(r => !keep.Contains(r.Epoch)).ToList();
        if (pruned.Count > 0) await db.Checkpoints.Where(c => c.JobId == jobId && !keep.Contains(c.Epoch)).ExecuteDeleteAsync(ct);
        return [.. pruned.Select(r => r.FileName)];
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
