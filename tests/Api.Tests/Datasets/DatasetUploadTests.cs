using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Api.Tests.Datasets;

public sealed class DatasetUploadTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    private static ByteArrayContent FilePart(byte[] bytes) =>
        new(bytes) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } };

    private Task<HttpResponseMessage> UploadAsync(string format, params (string Name, byte[] Bytes, string FileName)[] files) =>
        UploadAsync(new Dictionary<string, string> { ["name"] = "upload", ["format"] = format }, files);

    private Task<HttpResponseMessage> UploadAsync(Dictionary<string, string> fields, params (string Name, byte[] Bytes, string FileName)[] files)
    {
        var form = new MultipartFormDataContent();
        foreach (var (k, v) in fields) form.Add(new StringContent(v), k);
        foreach (var (name, bytes, fileName) in files) form.Add(FilePart(bytes), name, fileName);
        return _client.PostAsync("/datasets", form);
    }

    [Fact]
    public async Task CsvUploadIsParsedAndDescribed()
    {
        var csv = "x1,x2,label\n0,0,0\n1,1,0\n0,1,1\n1,0,1\n0.5,0.25,1\n"u8.ToArray();
        var response = await UploadAsync(new Dictionary<string, string> { ["name"] = "xor.csv", ["format"] = "csv", ["labelColumn"] = "label" },
            ("file", csv, "xor.csv"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var dataset = await response.ReadJsonAsync();
        Assert.Equal("csv", dataset.GetProperty("format").GetString());
        Assert.Equal([2], dataset.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()));
        Assert.Equal(5, dataset.GetProperty("sampleCount").GetInt32());
        Assert.Equal([2, 3], dataset.GetProperty("classCounts").EnumerateArray().Select(d => d.GetInt32()));
        Assert.Equal("none", dataset.GetProperty("normalization").GetString());
        Assert.Equal($"/datasets/{dataset.GetProperty("id").GetInt64()}", response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task GzippedIdxUploadDefaultsToScaling()
    {
        // Three 2×2 images and their labels, as MNIST stores them; the images gzipped.
        byte[] images = [0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 255, 10, 20, 30, 40, 50, 60, 255, 0, 255, 0];
        byte[] labels = [0, 0, 8, 1, 0, 0, 0, 3, 1, 0, 1];
        using var gz = new MemoryStream();
        using (var zip = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true)) zip.Write(images);
        var response = await UploadAsync("idx", ("images", gz.ToArray(), "images.gz"), ("labels", labels, "labels"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var dataset = await response.ReadJsonAsync();
        Assert.Equal(3, dataset.GetProperty("sampleCount").GetInt32());
        Assert.Equal(4, dataset.GetProperty("shape").EnumerateArray().Aggregate(1, (a, d) => a * d.GetInt32()));
        Assert.Equal("scale", dataset.GetProperty("normalization").GetString());
    }

    [Fact]
    public async Task BadUploadsAreRefusedAndLeaveNothingBehind()
    {
        int before = (await (await _client.GetAsync("/datasets")).ReadJsonAsync()).GetArrayLength();
        var datasetsFolder = Path.Combine(factory.DataDirectory, "datasets");
        int filesBefore = Directory.GetFiles(datasetsFolder).Length;

        await Problem.AssertAsync(await UploadAsync("csv", ("file", "1,2,0\n3,x,1\n"u8.ToArray(), "bad.csv")), HttpStatusCode.UnprocessableEntity, "file");
        await Problem.AssertAsync(await UploadAsync("idx", ("images", [1, 2, 3], "images")), HttpStatusCode.BadRequest, "labels");
        await Problem.AssertAsync(await UploadAsync("idx", ("images", [0, 0, 8, 3, 0, 0], "i"), ("labels", [0, 0, 8, 1], "l")),
            HttpStatusCode.UnprocessableEntity, "images");
        await Problem.AssertAsync(await UploadAsync("parquet", ("file", [1], "x")), HttpStatusCode.BadRequest, "format");
        await Problem.AssertAsync(await UploadAsync(new Dictionary<string, string> { ["format"] = "csv" }, ("file", "1,0\n"u8.ToArray(), "x.csv")),
            HttpStatusCode.BadRequest, "name");
        await Problem.AssertAsync(await UploadAsync("csv", ("file", [1], "x"), ("weights", [1], "w")), HttpStatusCode.BadRequest, "weights");
        await Problem.AssertAsync(await UploadAsync(new Dictionary<string, string> { ["name"] = "n", ["format"] = "csv", ["normalization"] = "zscore" },
            ("file", "1,0\n"u8.ToArray(), "x.csv")), HttpStatusCode.BadRequest, "normalization");
        var tooLarge = new byte[ServiceFactory.MaxUploadBytes + 1];
        Array.Fill(tooLarge, (byte)'1');
        await Problem.AssertAsync(await UploadAsync("csv", ("file", tooLarge, "big.csv")), HttpStatusCode.RequestEntityTooLarge, "body");
        await Problem.AssertAsync(await _client.PostAsync("/datasets", new StringContent("name=x", Encoding.UTF8, "application/x-www-form-urlencoded")),
            HttpStatusCode.UnsupportedMediaType, "Content-Type");

        Assert.Equal(before, (await (await _client.GetAsync("/datasets")).ReadJsonAsync()).GetArrayLength());
        Assert.Equal(filesBefore, Directory.GetFiles(datasetsFolder).Length);
        Assert.Empty(Directory.GetFiles(Path.Combine(factory.DataDirectory, "tmp")));
    }

    [Fact]
    public async Task DatasetInUseCannotBeDeletedAndAFreeOneGoesWithItsFile()
    {
        var datasetId = await _client.CreateSyntheticAsync("moons", size: 100, classes: 2);
        var file = Directory.GetFiles(Path.Combine(factory.DataDirectory, "datasets")).OrderBy(File.GetCreationTimeUtc).Last();
        Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteAsync($"/datasets/{datasetId}")).StatusCode);
        Assert.False(File.Exists(file));
        await Problem.AssertAsync(await _client.GetAsync($"/datasets/{datasetId}"), HttpStatusCode.NotFound, "id");
    }
}
