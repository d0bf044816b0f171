using System.Globalization;
using TrainingService.Contracts;

namespace TrainingService.Client;

/// <summary>
/// The multipart form of <c>POST /datasets</c>: a name, a format and its files, each streamed from a file or a
/// stream when the request is sent (never read into memory). Start with <see cref="Csv(string, string)"/>,
/// <see cref="Idx(string, string, string)"/> or <see cref="Npy(string, string, string)"/>.
/// </summary>
public sealed class DatasetUpload
{
    private readonly List<Part> _parts = [];

    private DatasetUpload(string name, string format)
    {
        Name = name;
        Format = format;
    }

    public string Name { get; }

    /// <summary>csv, idx or npy.</summary>
    public string Format { get; }

    /// <summary>none, scale or standardize; the service's default when null (scale for uint8 data, none otherwise).</summary>
    public NormalizationKind? Normalization { get; set; }

    /// <summary>CSV: the label column by header name or 0-based index; the last when null.</summary>
    public string? LabelColumn { get; set; }

    /// <summary>CSV: whether the first line is a header; detected when null.</summary>
    public bool? HasHeader { get; set; }

    /// <summary>CSV: float targets instead of class labels.</summary>
    public bool? Regression { get; set; }

    /// <summary>A CSV table (numbers only, header optional) from a file.</summary>
    public static DatasetUpload Csv(string name, string path) => new DatasetUpload(name, "csv").WithFile("file", path);

    /// <summary>A CSV table read from <paramref name="table"/> when the request is sent; the caller keeps ownership of the stream.</summary>
    public static DatasetUpload Csv(string name, Stream table, string fileName = "data.csv") =>
        new DatasetUpload(name, "csv").WithStream("file", table, fileName);

    /// <summary>IDX images and labels files (plain or gzip), e.g. MNIST's.</summary>
    public static DatasetUpload Idx(string name, string imagesPath, string labelsPath) =>
        new DatasetUpload(name, "idx").WithFile("images", imagesPath).WithFile("labels", labelsPath);

    public static DatasetUpload Idx(string name, Stream images, Stream labels) =>
        new DatasetUpload(name, "idx").WithStream("images", images, "images.idx").WithStream("labels", labels, "labels.idx");

    /// <summary>NumPy .npy features (float32, float64, uint8 or int64) and labels.</summary>
    public static DatasetUpload Npy(string name, string featuresPath, string labelsPath) =>
        new DatasetUpload(name, "npy").WithFile("features", featuresPath).WithFile("labels", labelsPath);

    public static DatasetUpload Npy(string name, Stream features, Stream labels) =>
        new DatasetUpload(name, "npy").WithStream("features", features, "features.npy").WithStream("labels", labels, "labels.npy");

    private DatasetUpload WithFile(string field, string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"the {field} file does not exist", path);
        _parts.Add(new Part(field, Path.GetFileName(path), path, null, 0));
        return this;
    }

    private DatasetUpload WithStream(string field, Stream stream, string fileName)
    {
        _parts.Add(new Part(field, fileName, null, stream, stream.CanSeek ? stream.Position : 0));
        return this;
    }

    /// <summary>Whether the form can be sent again (after a 429): files are reopened, streams must seek back.</summary>
    internal bool CanResend => _parts.All(p => p.Path is not null || p.Stream!.CanSeek);

    /// <summary>
    /// A fresh form for one attempt. Files it opens are added to <paramref name="opened"/> for the caller to dispose;
    /// the caller's streams are rewound to where they were and never disposed.
    /// </summary>
    internal MultipartFormDataContent CreateContent(List<Stream> opened)
    {
        var form = new MultipartFormDataContent();
        form.Add(new StringContent(Name), "name");
        form.Add(new StringContent(Format), "format");
        if (Normalization is { } n) form.Add(new StringContent(n.ToString().ToLowerInvariant()), "normalization");
        if (LabelColumn is not null) form.Add(new StringContent(LabelColumn), "labelColumn");
        if (HasHeader is { } h) form.Add(new StringContent(h ? "true" : "false"), "hasHeader");
        if (Regression is { } r) form.Add(new StringContent(r ? "true" : "false"), "regression");
        foreach (var part in _parts)
        {
            Stream body;
            if (part.Path is not null)
            {
                body = new FileStream(part.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
                opened.Add(body);
            }
            else
            {
                if (part.Stream!.CanSeek) part.Stream.Position = part.Start;
                body = new LeaveOpenStream(part.Stream);
            }
            form.Add(new StreamContent(body, 1 << 16), part.Field, part.FileName);
        }
        return form;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Format} upload '{Name}' ({_parts.Count} files)");

    private sealed record Part(string Field, string FileName, string? Path, Stream? Stream, long Start);

    /// <summary>Keeps the caller's stream open when the request's content is disposed.</summary>
    private sealed class LeaveOpenStream(Stream inner) : Stream
    {
        public override bool CanRead => inner.CanRead;
        public override bool CanSeek => inner.CanSeek;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => inner.Position = value; }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(buffer, cancellationToken);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            inner.ReadAsync(buffer, offset, count, cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
