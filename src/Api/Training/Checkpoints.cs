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
    /// <param name="batch">Null at an epoch end; the batches of the next epoch trained when a yield saved it.</param>
    public static Checkpoint Create(long jobId, int epoch, string fileName, long sizeBytes, byte[] sha256, bool isBest, int? batch = null) => new()
    {
        JobId = jobId,
        Epoch = epoch,
        Batch = batch,
        FileName = fileName,
        SizeBytes = sizeBytes,
        Sha256 = Convert.ToHexStringLower(sha256),
        IsBest = isBest,
        CreatedAt = DateTime.UtcNow,
    };

    /// <summary>
    /// Keeps the <paramref name="keepLast"/> most recent epoch-end checkpoints and the best one, and drops a yield's
    /// checkpoint (<see cref="Checkpoint.Batch"/>) from before the newest epoch end, which supersedes it; deletes the other
    /// rows and returns their files, which the caller deletes once the transaction has committed.
    /// </summary>
    public static async Task<List<string>> PruneAsync(TrainingDbContext db, long jobId, int keepLast, CancellationToken ct)
    {
        var rows = await db.Checkpoints.Where(c => c.JobId == jobId).OrderByDescending(c => c.Epoch)
            .Select(c => new { c.Id, c.Epoch, c.Batch, c.IsBest, c.FileName }).ToListAsync(ct);
        var ends = rows.Where(r => r.Batch == null).ToList();
        var keep = ends.Take(Math.Max(1, keepLast)).Select(e => e.Id).ToHashSet();
        // IsBest means "better than every earlier epoch", so the latest flagged one is the best overall.
        if (ends.FirstOrDefault(e => e.IsBest) is { } best) keep.Add(best.Id);
        int newestEnd = ends.Count > 0 ? ends[0].Epoch : 0;
        keep.UnionWith(rows.Where(r => r.Batch != null && r.Epoch >= newestEnd).Select(r => r.Id));
        var pruned = rows.Where(r => !keep.Contains(r.Id)).ToList();
        if (pruned.Count > 0) await db.Checkpoints.Where(c => c.JobId == jobId && !keep.Contains(c.Id)).ExecuteDeleteAsync(ct);
        return [.. pruned.Select(r => r.FileName)];
    }

    /// <summary>
    /// The state of the newest checkpoint whose file is still there and matches its size and SHA-256. A damaged one
    /// (a torn write, a bad disk, a hand edit, a deleted file) is skipped for the one before it rather than failing
    /// the job: the epochs after the good one are trained again, identically. The notice says what was skipped; null
    /// when nothing was.
    /// </summary>
    /// <remarks>
    /// A yield's checkpoint (<see cref="Checkpoint.Batch"/>) saved inside epoch e + 1 comes after the end of epoch e and
    /// before the end of epoch e + 1, so "newest" orders by epoch, then by batch with the epoch end first.
    /// </remarks>
    public static async Task<(byte[]? State, string? Notice)> LatestIntactAsync(TrainingDbContext db, CheckpointFiles files, long jobId)
    {
        var checkpoints = await db.Checkpoints.AsNoTracking().Where(c => c.JobId == jobId)
            .OrderByDescending(c => c.Epoch).ThenByDescending(c => c.Batch ?? -1).ToListAsync();
        var damaged = new List<string>();
        foreach (var checkpoint in checkpoints)
        {
            if (files.ReadIntact(checkpoint) is { } state)
                return (state, damaged.Count == 0 ? null : Damaged(damaged, $"resumed from the checkpoint of {Position(checkpoint)}"));
            damaged.Add(Position(checkpoint));
        }
        return (null, damaged.Count == 0 ? null : Damaged(damaged, "no intact checkpoint is left, so training started over from epoch 0"));

        static string Position(Checkpoint c) => c.Batch is { } b ? $"epoch {c.Epoch + 1} batch {b}" : $"epoch {c.Epoch}";
        static string Damaged(List<string> positions, string outcome) =>
            $"the checkpoint of {string.Join(", ", positions)} was missing or did not match its SHA-256 and was discarded; {outcome}";
    }

    /// <summary>The job's checkpoints saved at epoch ends: what users list, download and predict with.</summary>
    public static IQueryable<Checkpoint> EpochEnds(TrainingDbContext db, long jobId) =>
        db.Checkpoints.AsNoTracking().Where(c => c.JobId == jobId && c.Batch == null);

    /// <summary>True when <paramref name="selector"/> is latest, best or a positive epoch number.</summary>
    public static bool IsValidSelector(string selector) =>
        selector is "latest" or "best" || (int.TryParse(selector, NumberStyles.None, CultureInfo.InvariantCulture, out var e) && e > 0);

    /// <summary>The epoch-end checkpoint named by a valid selector, or null; a yield's is only for the job to resume from.</summary>
    public static Task<Checkpoint?> FindAsync(TrainingDbContext db, long jobId, string selector, CancellationToken ct)
    {
        var all = EpochEnds(db, jobId);
        return selector switch
        {
            "latest" => all.OrderByDescending(c => c.Epoch).FirstOrDefaultAsync(ct),
            "best" => all.Where(c => c.IsBest).OrderByDescending(c => c.Epoch).FirstOrDefaultAsync(ct),
            _ => all.FirstOrDefaultAsync(c => c.Epoch == int.Parse(selector, CultureInfo.InvariantCulture), ct),
        };
    }
}
