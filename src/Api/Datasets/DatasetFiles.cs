using System.Security.Cryptography;
using System.Text.Json;
using Api.Infrastructure;
using Engine.Data;
using Microsoft.EntityFrameworkCore;
using Storage;
using StoredDataset = Storage.Entities.Dataset;

namespace Api.Datasets;

/// <summary>
/// Data set files under the data directory. Samples are stored raw (no normalization applied), because a
/// job fits the normalization on its training data and applies the same map to its validation data.
/// </summary>
public sealed class DatasetFiles(StoragePaths paths, IDbContextFactory<TrainingDbContext> contexts)
{
    /// <summary>A fresh path in the temp folder, for an upload part or a file being written.</summary>
    public string NewTempPath() => Path.Combine(paths.Temp, Guid.NewGuid().ToString("N") + ".part");

    /// <summary>
    /// Writes <paramref name="data"/> to a temp file, moves it into place and only then adds the row, so a
    /// failure at any step leaves neither a half file nor a row pointing at nothing.
    /// </summary>
    public async Task<StoredDataset> StoreAsync(Dataset data, string name, string format, NormalizationKind normalization,
        DatasetSource source, CancellationToken ct)
    {
        var temp = NewTempPath();
        var relative = Path.Combine("datasets", Guid.NewGuid().ToString("N") + ".ds");
        var final = paths.Resolve(relative);
        try
        {
            await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
                DatasetFile.Write(stream, data);
            File.Move(temp, final);
            var row = new StoredDataset
            {
                Name = name,
                Format = format,
                Shape = JsonSerializer.Serialize(data.SampleShape),
                SampleCount = data.Count,
                Classes = data.Classes,
                TargetWidth = data.TargetWidth,
                Normalization = normalization.Name(),
                FileName = relative,
                SizeBytes = new FileInfo(final).Length,
                Sha256 = await HashAsync(final, ct),
                SourceJson = JsonSerializer.Serialize(source with { ClassCounts = DatasetMapping.ClassCounts(data) }, ApiJson.Options),
                CreatedAt = DateTime.UtcNow,
            };
            await using var db = await contexts.CreateDbContextAsync(ct);
            db.Datasets.Add(row);
            await db.SaveChangesAsync(ct);
            return row;
        }
        catch
        {
            TryDelete(temp);
            TryDelete(final);
            throw;
        }
    }

    /// <summary>
    /// The raw samples of a stored data set, read only when the file's size and SHA-256 are the row's (the data directory
    /// may be a volume other nodes write to); rows from before hashes were kept are checked by size.
    /// </summary>
    public Dataset Load(StoredDataset row)
    {
        using var stream = new FileStream(paths.Resolve(row.FileName), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        // Hashed in a first pass rather than buffered: a data set can be hundreds of megabytes.
        if (stream.Length != row.SizeBytes || (row.Sha256 is { } sha && Convert.ToHexStringLower(SHA256.HashData(stream)) != sha))
            throw new InvalidDataException($"the file of data set {row.Id} is not the one stored (size or SHA-256 differ)");
        stream.Position = 0;
        return DatasetFile.Read(stream);
    }

    private static async Task<string> HashAsync(string path, CancellationToken ct)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));
    }

    public void Delete(StoredDataset row) => TryDelete(paths.Resolve(row.FileName));

    public static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: a leftover file is harmless, and tmp is emptied at the next start.
        }
    }
}
