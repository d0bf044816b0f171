using Api.Infrastructure;
using Engine.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Storage;
using Storage.Entities;
using Dataset = Engine.Data.Dataset;

namespace Api.Datasets;

public static class DatasetsApi
{
    private const int MaxNameLength = 200;
    private const int MaxSyntheticSize = 1_000_000;
    private const int MaxSyntheticImages = 60_000;

    /// <summary>The data set files on disk, and the worker's loading of a job's data from them.</summary>
    public static WebApplicationBuilder AddDatasets(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<DatasetFiles>();
        builder.Services.AddSingleton<TrainingData>();
        return builder;
    }

    public static IEndpointRouteBuilder MapDatasets(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/datasets").WithTags("Datasets");
        group.MapPost("/", Upload).WithName("UploadDataset").WithMetadata(new Api.Security.OwnBodyLimitMetadata())
            .DocumentMultipartForm<DatasetUploadForm>()
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType).ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        group.MapPost("/synthetic", CreateSynthetic).WithName("CreateSyntheticDataset").ProducesProblem(StatusCodes.Status400BadRequest);
        group.MapGet("/", List).WithName("ListDatasets");
        group.MapGet("/{id:long}", Get).WithName("GetDataset").ProducesProblem(StatusCodes.Status404NotFound);
        group.MapDelete("/{id:long}", Delete).WithName("DeleteDataset")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    /// <summary>Upload a data set (CSV, IDX or NPY) as multipart/form-data.</summary>
    /// <remarks>
    /// Fields: <c>name</c>, <c>format</c> (csv, idx, npy), optional <c>normalization</c> (none, scale, standardize).
    /// Files: <c>file</c> (+ <c>labelColumn</c>, <c>hasHeader</c>, <c>regression</c>) for CSV; <c>images</c> + <c>labels</c>
    /// for IDX (plain or .gz); <c>features</c> + <c>labels</c> for NPY. The body is streamed to disk and parsed
    /// afterwards; a file that does not parse is 422 and leaves nothing behind; over Storage:MaxUploadBytes is 413.
    /// Example: <c>curl -F name=iris -F format=csv -F file=@iris.csv http://localhost:5080/datasets</c>
    /// </remarks>
    internal static async Task<Results<Created<DatasetDto>, ProblemHttpResult>> Upload(
        HttpRequest request, DatasetFiles files, IOptions<StorageOptions> options, Api.Security.UploadWork work,
        Api.Security.StorageQuota quota, IDbContextFactory<TrainingDbContext> contexts, CancellationToken ct)
    {
        var (lease, busy) = await work.Limiter.AcquireAsync(request.HttpContext, ct);
        if (busy is not null) return busy;
        using (lease)
        {
            try
            {
                return await UploadAsync(request, files, options.Value, quota, contexts, ct);
            }
            finally
            {
                ReturnMemory(request.ContentLength);
            }
        }
    }

    /// <summary>
    /// An upload can parse into hundreds of megabytes that are garbage the moment it is stored or refused; a
    /// compacting, decommitting collection gives them back to the OS now instead of keeping the process at its peak.
    /// </summary>
    private static void ReturnMemory(long? uploaded)
    {
        const long Large = 1 << 20;
        if (uploaded is null or > Large) GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    private static async Task<Results<Created<DatasetDto>, ProblemHttpResult>> UploadAsync(
        HttpRequest request, DatasetFiles files, StorageOptions options, Api.Security.StorageQuota quota,
        IDbContextFactory<TrainingDbContext> contexts, CancellationToken ct)
    {
        await using var upload = new DatasetUpload();
        if (await upload.ReadAsync(request, files, options.MaxUploadBytes, ct) is { } problem) return problem;
        var fields = upload.Fields;

        var name = fields.GetValueOrDefault("name");
        if (string.IsNullOrWhiteSpace(name)) return Problems.Field("name", "is required");
        if (name.Length > MaxNameLength) return Problems.Field("name", $"must be at most {MaxNameLength} characters");
        var format = fields.GetValueOrDefault("format")?.ToLowerInvariant();
        string[] parts = format switch
        {
            "csv" => ["file"],
            "idx" => ["images", "labels"],
            "npy" => ["features", "labels"],
            _ => [],
        };
        if (parts.Length == 0) return Problems.Field("format", "is required: csv, idx or npy");
        NormalizationKind? normalization = null;
        if (fields.TryGetValue("normalization", out var n))
        {
            if (!TryParseNormalization(n, out var parsed)) return Problems.Field("normalization", "must be none, scale or standardize");
            normalization = parsed;
        }
        foreach (var part in parts)
            if (!upload.Files.ContainsKey(part)) return Problems.Field(part, $"is required for format {format}");
        foreach (var part in upload.Files.Keys)
            if (!parts.Contains(part, StringComparer.OrdinalIgnoreCase)) return Problems.Field(part, $"is not used by format {format}");
        if (format != "csv")
            foreach (var field in new[] { "labelColumn", "hasHeader", "regression" })
                if (fields.ContainsKey(field)) return Problems.Field(field, "applies to csv only");
        if (!TryParseBool(fields, "hasHeader", out var hasHeader)) return Problems.Field("hasHeader", "must be true or false");
        if (!TryParseBool(fields, "regression", out var regression)) return Problems.Field("regression", "must be true or false");
        var labelColumn = fields.GetValueOrDefault("labelColumn");

        Dataset raw;
        string? dtype = null;
        try
        {
            (raw, dtype) = await Task.Run(() => Load(format!, upload, labelColumn, hasHeader, regression ?? false, options), ct);
        }
        catch (DataLimitException e)
        {
            return Problems.Field(parts[0], e.Message + " (Storage:MaxDecompressedBytes)", StatusCodes.Status413PayloadTooLarge);
        }
        catch (Exception e) when (e is DataFormatException or InvalidDataException or EndOfStreamException or ArgumentException or OverflowException)
        {
            return Problems.Field(parts[0], e.Message, StatusCodes.Status422UnprocessableEntity);
        }
        if (raw.Count == 0) return Problems.Field(parts[0], "contains no samples", StatusCodes.Status422UnprocessableEntity);

        // 8-bit data (all IDX files, uint8 NPY) is pixels by convention: ÷255 unless asked otherwise.
        var kind = normalization ?? (format == "idx" || dtype == "uint8" ? NormalizationKind.Scale : NormalizationKind.None);
        var source = new DatasetSource(Files: [.. parts.Select(p => upload.Files[p].FileName)], FeatureDType: dtype, LabelColumn: labelColumn);
        await using (var db = await contexts.CreateDbContextAsync(ct))
            if (await quota.CheckAddAsync(db, DatasetFile.EstimateBytes(raw), parts[0], ct) is { } full) return full;
        var row = await files.StoreAsync(raw, name, format!, kind, source, ct);
        return TypedResults.Created($"/datasets/{row.Id}", row.AsDto());
    }

    private static (Dataset, string?) Load(string format, DatasetUpload upload, string? labelColumn, bool? hasHeader, bool regression, StorageOptions options)
    {
        long maxBytes = options.MaxDecompressedBytes;
        static FileStream Open(DatasetUpload u, string part) =>
            new(u.Files[part].Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        switch (format)
        {
            case "csv":
                using (var csv = Open(upload, "file"))
                    return (CsvLoader.Load(csv, new CsvOptions(labelColumn, hasHeader, regression)), null);
            case "idx":
                using (var images = Open(upload, "images"))
                using (var labels = Open(upload, "labels"))
                    return (IdxLoader.Load(images, labels, maxBytes), "uint8");
            default:
                using (var features = Open(upload, "features"))
                using (var labels = Open(upload, "labels"))
                {
                    var npy = NpyLoader.Load(features, labels, maxBytes, options.MaxClasses);
                    return (npy.Dataset, npy.FeatureDType);
                }
        }
    }

    /// <summary>Generate a synthetic data set (xor, spirals, moons, blobs, regression, or stripes: 16×16 images).</summary>
    /// <remarks>The same kind, size, classes, seed and noise always give the same samples.</remarks>
    internal static async Task<Results<Created<DatasetDto>, ProblemHttpResult>> CreateSynthetic(
        CreateSyntheticDatasetRequest request, DatasetFiles files, Api.Security.StorageQuota quota,
        IDbContextFactory<TrainingDbContext> contexts, CancellationToken ct)
    {
        if (request.Kind is not { } kind) return Problems.Field("kind", "is required: xor, spirals, moons, blobs, regression or stripes");
        if (request.Size is not { } size) return Problems.Field("size", "is required");
        if (size is < 1 or > MaxSyntheticSize) return Problems.Field("size", $"must be between 1 and {MaxSyntheticSize}");
        // 256 values a sample: as many images as MNIST has at most.
        if (kind == SyntheticKind.Stripes && size > MaxSyntheticImages)
            return Problems.Field("size", $"must be between 1 and {MaxSyntheticImages} for stripes (16x16 images)");
        if (request.Name is { Length: > MaxNameLength }) return Problems.Field("name", $"must be at most {MaxNameLength} characters");
        var noise = request.Noise ?? 0.1f;
        if (!float.IsFinite(noise) || noise < 0) return Problems.Field("noise", "must be a finite number ≥ 0");
        int classes = request.Classes ?? (kind is SyntheticKind.Spirals or SyntheticKind.Blobs ? 3 : 2);
        ulong seed = request.Seed ?? 1;

        Dataset data;
        try
        {
            data = SyntheticData.Generate(kind, size, classes, seed, noise);
        }
        catch (ArgumentException e)
        {
            // The generator's parameter names are the request's field names.
            return Problems.Field(e.ParamName ?? "classes", FirstSentence(e.Message));
        }
        await using (var db = await contexts.CreateDbContextAsync(ct))
            if (await quota.CheckAddAsync(db, DatasetFile.EstimateBytes(data), "size", ct) is { } full) return full;
        var name = string.IsNullOrWhiteSpace(request.Name) ? kind.ToString().ToLowerInvariant() : request.Name;
        var row = await files.StoreAsync(data, name, "synthetic", request.Normalization ?? NormalizationKind.None,
            new DatasetSource(Kind: kind, Seed: seed, Noise: noise), ct);
        return TypedResults.Created($"/datasets/{row.Id}", row.AsDto());
    }

    /// <summary>List data sets, oldest first.</summary>
    internal static async Task<Ok<DatasetDto[]>> List(IDbContextFactory<TrainingDbContext> contexts, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.Datasets.AsNoTracking().OrderBy(d => d.Id).ToListAsync(ct);
        return TypedResults.Ok(rows.Select(d => d.AsDto()).ToArray());
    }

    /// <summary>Get one data set: shape, classes, per-class counts and normalization.</summary>
    internal static async Task<Results<Ok<DatasetDto>, ProblemHttpResult>> Get(long id, IDbContextFactory<TrainingDbContext> contexts, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var row = await db.Datasets.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id, ct);
        return row is null ? Problems.NotFound("dataset", id) : TypedResults.Ok(row.AsDto());
    }

    /// <summary>Delete a data set and its file. Refused (409) while a queued or running job uses it.</summary>
    internal static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        long id, IDbContextFactory<TrainingDbContext> contexts, DatasetFiles files, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var row = await db.Datasets.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id, ct);
        if (row is null) return Problems.NotFound("dataset", id);
        var user = await db.Jobs.AsNoTracking()
            .Where(j => (j.DatasetId == id || j.ValidationDatasetId == id) && (j.Status == JobStatus.Queued || j.Status == JobStatus.Running))
            .Select(j => (long?)j.Id).FirstOrDefaultAsync(ct);
        if (user is not null) return Problems.Conflict("id", $"dataset {id} is used by job {user}, which is queued or running; cancel it first");
        await db.Datasets.Where(d => d.Id == id).ExecuteDeleteAsync(ct);
        files.Delete(row);
        return TypedResults.NoContent();
    }

    internal static bool TryParseNormalization(string? text, out NormalizationKind kind) =>
        Enum.TryParse(text, ignoreCase: true, out kind) && Enum.IsDefined(kind) && !int.TryParse(text, out _);

    private static bool TryParseBool(IReadOnlyDictionary<string, string> fields, string name, out bool? value)
    {
        value = null;
        if (!fields.TryGetValue(name, out var text)) return true;
        if (!bool.TryParse(text, out var b)) return false;
        value = b;
        return true;
    }

    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" (Parameter", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
