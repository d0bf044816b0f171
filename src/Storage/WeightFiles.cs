using System.Security.Cryptography;

namespace Storage;

/// <summary>
/// Imported weights (safetensors) as files under <c>weights/</c>, named by their SHA-256: a file never changes once
/// written, so a model and every job submitted from it name the same file, and deleting the model leaves it to the jobs.
/// A file no model or job names any longer is swept at start-up.
/// </summary>
public sealed class WeightFiles(StoragePaths paths)
{
    private const string Folder = "weights";

    /// <summary>Writes <paramref name="bytes"/> (if no file has them yet), flushed before the row that names it commits; returns the SHA-256.</summary>
    public string Write(ReadOnlySpan<byte> bytes)
    {
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var path = PathOf(sha256);
        if (File.Exists(path)) return sha256;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // Written under a temporary name and moved, so a crash never leaves a partial file under a hash name.
        var temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        using (var file = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write))
        {
            RandomAccess.Write(file, bytes, 0);
            RandomAccess.FlushToDisk(file);
        }
        File.Move(temp, path, overwrite: true);
        return sha256;
    }

    /// <summary>The file's bytes, or null when it is missing, unreadable or no longer matches its name.</summary>
    public byte[]? ReadIntact(string sha256)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(PathOf(sha256));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
        return Convert.ToHexStringLower(SHA256.HashData(bytes)) == sha256 ? bytes : null;
    }

    /// <summary>Deletes every file whose hash is not in <paramref name="referenced"/> (and leftovers of interrupted writes).</summary>
    public int Sweep(IReadOnlySet<string> referenced)
    {
        var folder = paths.Resolve(Folder);
        if (!Directory.Exists(folder)) return 0;
        int deleted = 0;
        foreach (var file in Directory.EnumerateFiles(folder))
        {
            var name = Path.GetFileName(file);
            if (name.EndsWith(".safetensors", StringComparison.Ordinal) && referenced.Contains(name[..^".safetensors".Length])) continue;
            try
            {
                File.Delete(file);
                deleted++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Left for the next start.
            }
        }
        return deleted;
    }

    private string PathOf(string sha256) =>
        sha256.Length == 64 && sha256.All(char.IsAsciiHexDigitLower)
            ? paths.Resolve(Path.Combine(Folder, sha256 + ".safetensors"))
            : throw new ArgumentException($"'{sha256}' is not a lower-case SHA-256.", nameof(sha256));
}
