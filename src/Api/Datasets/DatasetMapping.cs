using System.Text.Json;
using Api.Infrastructure;
using Engine.Data;
using StoredDataset = Storage.Entities.Dataset;

namespace Api.Datasets;

/// <summary>
/// The multipart form of <c>POST /datasets</c>, for the documentation only: the endpoint streams the
/// parts itself rather than binding them, so a large upload is never held in memory.
/// </summary>
/// <param name="Name">Display name.</param>
/// <param name="Format">csv, idx or npy.</param>
/// <param name="Normalization">none, scale or standardize; uint8 data (IDX, uint8 NPY) defaults to scale (÷255), others to none.</param>
/// <param name="File">CSV: the table; numbers only, header optional.</param>
/// <param name="LabelColumn">CSV: the label column by header name or 0-based index; default the last.</param>
/// <param name="HasHeader">CSV: whether the first line is a header; detected when omitted.</param>
/// <param name="Regression">CSV: float targets instead of class labels.</param>
/// <param name="Images">IDX: the images file, plain or gzip.</param>
/// <param name="Labels">IDX or NPY: the labels file.</param>
/// <param name="Features">NPY: the features array (float32, float64, uint8 or int64).</param>
public sealed record DatasetUploadForm(
    string Name, string Format, string? Normalization, IFormFile? File, string? LabelColumn, bool? HasHeader, bool? Regression,
    IFormFile? Images, IFormFile? Labels, IFormFile? Features);

public static class DatasetMapping
{
    public static DatasetDto AsDto(this StoredDataset d)
    {
        var source = d.SourceJson is null ? null : JsonSerializer.Deserialize<DatasetSource>(d.SourceJson, ApiJson.Options);
        return new DatasetDto(d.Id, d.Name, d.Format, ParseShape(d.Shape), d.SampleCount, d.Classes, d.TargetWidth,
            source?.ClassCounts, ParseNormalization(d.Normalization), d.SizeBytes,
            source is null ? null : source with { ClassCounts = null }, d.CreatedAt);
    }

    public static int[] ParseShape(string json) => JsonSerializer.Deserialize<int[]>(json) ?? [];

    public static NormalizationKind ParseNormalization(string stored) => Enum.Parse<NormalizationKind>(stored, ignoreCase: true);

    public static string Name(this NormalizationKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>
    /// Per-class sample counts, so clients can see class balance without downloading the data. Counted by class
    /// present (a few labels naming a large index cost a few entries), then listed by index up to the data set's
    /// class count, which the loaders bound (Storage:MaxClasses).
    /// </summary>
    public static int[]? ClassCounts(Dataset d)
    {
        if (d.Labels is null) return null;
        var present = new Dictionary<int, int>();
        foreach (var l in d.Labels) present[l] = present.GetValueOrDefault(l) + 1;
        var counts = new int[Math.Max(d.Classes, present.Count == 0 ? 0 : present.Keys.Max() + 1)];
        foreach (var (label, count) in present) counts[label] = count;
        return counts;
    }
}
