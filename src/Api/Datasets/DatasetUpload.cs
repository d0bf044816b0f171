using System.Text;
using Api.Infrastructure;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace Api.Datasets;

/// <summary>
/// Reads a multipart upload part by part: form fields into memory (small), file parts straight to temp
/// files, counting bytes across all parts against the upload limit. Nothing is parsed until the whole
/// request is on disk, and the temp files go away with this object.
/// </summary>
internal sealed class DatasetUpload : IAsyncDisposable
{
    public static readonly string[] FileParts = ["file", "images", "labels", "features"];
    private static readonly string[] FieldNames = ["name", "format", "normalization", "labelColumn", "hasHeader", "regression"];
    private const int MaxFieldBytes = 4096;

    private readonly Dictionary<string, string> _fields = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (string Path, string FileName)> _files = new(StringComparer.OrdinalIgnoreCase);

    public IReadOnlyDictionary<string, string> Fields => _fields;
    public IReadOnlyDictionary<string, (string Path, string FileName)> Files => _files;

    /// <summary>Reads the request; a non-null result is the problem to answer with instead.</summary>
    public async Task<ProblemHttpResult?> ReadAsync(HttpRequest request, DatasetFiles files, long maxBytes, CancellationToken ct)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type) ||
            !type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase) ||
            HeaderUtilities.RemoveQuotes(type.Boundary).Value is not { Length: > 0 } boundary)
            return Problems.Field("Content-Type", "must be multipart/form-data with a boundary", StatusCodes.Status415UnsupportedMediaType);
        if (request.ContentLength > maxBytes) return TooLarge(maxBytes);
        // The service enforces its own limit below; Kestrel's 30 MB default would reject real data sets.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = null;

        var reader = new MultipartReader(boundary, request.Body) { BodyLengthLimit = null, HeadersLengthLimit = 16 * 1024 };
        try
        {
            return await ReadSectionsAsync(reader, files, maxBytes, ct);
        }
        catch (Exception e) when (e is IOException and not BadHttpRequestException || e is InvalidDataException)
        {
            // A body that ends before its closing boundary, or a malformed section header: the client's fault.
            return Problems.Field("body", $"is not well-formed multipart/form-data: {e.Message}");
        }
    }

    private async Task<ProblemHttpResult?> ReadSectionsAsync(MultipartReader reader, DatasetFiles files, long maxBytes, CancellationToken ct)
    {
        long total = 0;
        while (await reader.ReadNextSectionAsync(ct) is { } section)
        {
            if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) ||
                HeaderUtilities.RemoveQuotes(disposition.Name).Value is not { Length: > 0 } name)
                return Problems.Field("body", "every multipart section needs a Content-Disposition with a name");
            if (disposition.IsFileDisposition())
            {
                if (!FileParts.Contains(name, StringComparer.OrdinalIgnoreCase))
                    return Problems.Field(name, $"is not a file part of this endpoint (expected one of {string.Join(", ", FileParts)})");
                if (_files.ContainsKey(name)) return Problems.Field(name, "is given more than once");
                var path = files.NewTempPath();
                _files[name] = (path, HeaderUtilities.RemoveQuotes(disposition.FileName).Value ?? name);
                await using var target = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
                total = await CopyAsync(section.Body, target, total, maxBytes, ct);
                if (total < 0) return TooLarge(maxBytes);
            }
            else
            {
                if (!FieldNames.Contains(name, StringComparer.OrdinalIgnoreCase))
                    return Problems.Field(name, $"is not a field of this endpoint (expected one of {string.Join(", ", FieldNames)})");
                using var buffer = new MemoryStream();
                if (await CopyAsync(section.Body, buffer, 0, MaxFieldBytes, ct) < 0) return Problems.Field(name, $"is longer than {MaxFieldBytes} bytes");
                total += buffer.Length;
                _fields[name] = Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length).Trim();
            }
        }
        return null;
    }

    /// <summary>Copies until the end of the section; -1 when the running total passes <paramref name="max"/>.</summary>
    private static async Task<long> CopyAsync(Stream source, Stream target, long total, long max, CancellationToken ct)
    {
        var buffer = new byte[81920];
        int read;
        while ((read = await source.ReadAsync(buffer, ct)) > 0)
        {
            total += read;
            if (total > max) return -1;
            await target.WriteAsync(buffer.AsMemory(0, read), ct);
        }
        return total;
    }

    private static ProblemHttpResult TooLarge(long max) =>
        Problems.Field("body", $"the upload is larger than the limit of {max} bytes (Storage:MaxUploadBytes)", StatusCodes.Status413PayloadTooLarge);

    public ValueTask DisposeAsync()
    {
        foreach (var (path, _) in _files.Values) DatasetFiles.TryDelete(path);
        return ValueTask.CompletedTask;
    }
}
