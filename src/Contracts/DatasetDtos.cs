namespace TrainingService.Contracts;

/// <summary>A stored data set.</summary>
/// <param name="Format">csv, idx, npy or synthetic.</param>
/// <param name="Shape">Shape of one sample, e.g. [1, 28, 28].</param>
/// <param name="Classes">Number of classes; 0 for regression targets.</param>
/// <param name="TargetWidth">Values per target: 1 for class labels, the regression width otherwise.</param>
/// <param name="ClassCounts">Samples per class, index = class (null for regression).</param>
/// <param name="Normalization">none, scale or standardize: fitted on this data when a job trains on it, and applied to predictions.</param>
/// <param name="Source">How the data was made: generator parameters or uploaded file names and dtype.</param>
public sealed record DatasetDto(
    long Id, string Name, string Format, int[] Shape, int SampleCount, int Classes, int TargetWidth,
    int[]? ClassCounts, NormalizationKind Normalization, long SizeBytes, DatasetSource? Source, DateTime CreatedAt);

/// <summary>Where a data set came from, kept as JSON beside it.</summary>
public sealed record DatasetSource(
    SyntheticKind? Kind = null, ulong? Seed = null, float? Noise = null, string[]? Files = null,
    string? FeatureDType = null, string? LabelColumn = null, int[]? ClassCounts = null);

/// <summary>Generates a data set with the engine's synthetic generators.</summary>
/// <param name="Name">Display name; defaults to the kind.</param>
/// <param name="Kind">xor, spirals, moons, blobs or regression.</param>
/// <param name="Size">Number of samples, 1 to 1,000,000.</param>
/// <param name="Classes">Classes for spirals and blobs (2 or more); 2 for xor and moons; input features for regression. Default 2 (3 for spirals and blobs).</param>
/// <param name="Seed">Same seed, same data. Default 1.</param>
/// <param name="Noise">Standard deviation of the added noise. Default 0.1.</param>
/// <param name="Normalization">none (default), scale or standardize.</param>
public sealed record CreateSyntheticDatasetRequest(
    string? Name = null, SyntheticKind? Kind = null, int? Size = null, int? Classes = null, ulong? Seed = null, float? Noise = null,
    NormalizationKind? Normalization = null);
