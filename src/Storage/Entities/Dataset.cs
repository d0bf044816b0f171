namespace Storage.Entities;

/// <summary>An uploaded or generated data set; the samples live in a file under the data directory.</summary>
public sealed class Dataset : IOwned
{
    public long Id { get; set; }
    /// <summary>The owner (API key owner) this row belongs to; other owners get 404 for it.</summary>
    public string OwnerId { get; set; } = "";
    public required string Name { get; set; }
    /// <summary>csv, idx, npy or synthetic.</summary>
    public required string Format { get; set; }
    /// <summary>Shape of one sample as a JSON array, e.g. <c>[1,28,28]</c>.</summary>
    public required string Shape { get; set; }
    public int SampleCount { get; set; }
    /// <summary>Number of classes; 0 for regression targets.</summary>
    public int Classes { get; set; }
    public int TargetWidth { get; set; }
    /// <summary>none, scale or standardize: fitted on the training split when a job starts.</summary>
    public required string Normalization { get; set; }
    /// <summary>Path of the data file relative to the data directory.</summary>
    public required string FileName { get; set; }
    public long SizeBytes { get; set; }
    /// <summary>Lower-case hex SHA-256 of the file: a node reads it only when size and hash match (a shared data directory).</summary>
    public string? Sha256 { get; set; }
    /// <summary>Where the data came from (generator parameters, uploaded file names, dtype) as JSON.</summary>
    public string? SourceJson { get; set; }
    public DateTime CreatedAt { get; set; }
}
