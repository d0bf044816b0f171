using System.Globalization;
using System.Security.Cryptography;
using Storage.Entities;

namespace Storage;

/// <summary>
/// Checkpoint states as files under <c>checkpoints/{jobId}/</c>, the way data sets are kept; the Checkpoints row holds
/// the file's name, size and SHA-256. A file is flushed to disk before its row commits, so a committed row always names
/// a whole file; a file without a row (a crash between the two, a delete that failed) is swept at start-up.
/// </summary>
/// <remarks>
/// Not SQLite blobs: a state is megabytes every epoch, which SQLite writes twice (the WAL, then the database) in
/// checksummed pages and frees page by page when pruned; a file is written once and deleted whole.
/// </remarks>
public sealed class CheckpointFiles(StoragePaths paths)
{
    /// <summary>Writes <paramref name="state"/> to a new file and flushes it to disk; returns its name relative to the data directory.</summary>
    public string Write(long jobId, int epoch, ReadOnlySpan<byte> state)
    {
        // A fresh name every time: an epoch trained again after a resume never meets the file of its earlier run.
        var relative = Path.Combine(Folder(jobId), $"{epoch.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid():N}.state");
        var path = paths.Resolve(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write);
        RandomAccess.Write(file, state, 0);
        RandomAccess.FlushToDisk(file);
        return relative;
    }

    /// <summary>The checkpoint's state, or null when its file is missing, unreadable or not what was written (size, SHA-256).</summary>
    public byte[]? ReadIntact(Checkpoint checkpoint)
    {
        byte[] state;
        try
        {
            state = File.ReadAllBytes(paths.Resolve(checkpoint.FileName));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        return state.LongLength == checkpoint.SizeBytes && Convert.ToHexStringLower(SHA256.HashData(state)) == checkpoint.Sha256 ? state : null;
    }

    /// <summary>Deletes files whose rows are gone; best effort (the start-up sweep takes what is left).</summary>
    public void Delete(IEnumerable<string> files)
    {
        foreach (var file in files) TryDelete(() => File.Delete(paths.Resolve(file)));
    }

    /// <summary>Deletes a deleted job's folder; best effort, as <see cref="Delete"/>.</summary>
    public void DeleteJob(long jobId)
    {
        var folder = paths.Resolve(Folder(jobId));
        TryDelete(() => { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); });
    }

    /// <summary>Deletes every checkpoint file not in <paramref name="referenced"/> (names as stored), and emptied folders.</summary>
    /// <param name="minimumAge">Files younger than this are kept: on a shared data directory another node may have written
    /// one whose row is not committed yet.</param>
    public int Sweep(IReadOnlySet<string> referenced, TimeSpan minimumAge = default)
    {
        if (!Directory.Exists(paths.Checkpoints)) return 0;
        int deleted = 0;
        var cutoff = DateTime.UtcNow - minimumAge;
        foreach (var folder in Directory.EnumerateDirectories(paths.Checkpoints))
        {
            foreach (var file in Directory.EnumerateFiles(folder))
            {
                if (referenced.Contains(Path.GetRelativePath(paths.Root, file))) continue;
                if (minimumAge > TimeSpan.Zero && File.GetLastWriteTimeUtc(file) > cutoff) continue;
                TryDelete(() => File.Delete(file));
                deleted++;
            }
            if (!Directory.EnumerateFileSystemEntries(folder).Any()) TryDelete(() => Directory.Delete(folder));
        }
        return deleted;
    }

    private static string Folder(long jobId) => Path.Combine(StoragePaths.CheckpointsFolder, jobId.ToString(CultureInfo.InvariantCulture));

    private static void TryDelete(Action delete)
    {
        try
        {
            delete();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the sweep at the next start.
        }
    }
}
