using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text;

namespace Api.Tests.Security;

/// <summary>Small limits, so each can be met with a small request.</summary>
public sealed class LimitsFactory : ServiceFactory
{
    public const long MaxBody = 64 * 1024;
    public const long MaxDecompressed = 64L * 1024 * 1024;

    protected override IEnumerable<(string Key, string Value)> Settings =>
    [
        ("Security:MaxRequestBodyBytes", MaxBody.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("Security:MaxActiveJobsPerOwner", "2"),
        // A gzip bomb of 1 GB is about 1 MB compressed: deflate cannot do better than about 1:1000.
        ("Storage:MaxUploadBytes", (4 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("Storage:MaxDecompressedBytes", MaxDecompressed.ToString(System.Globalization.CultureInfo.InvariantCulture)),
    ];
}

public sealed class LimitsTests(LimitsFactory factory) : IClassFixture<LimitsFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task BodiesOverTheLimitAre413WithOrWithoutContentLength()
    {
        var big = $$"""{"name":"{{new string('x', (int)LimitsFactory.MaxBody)}}","spec":null}""";
        var sized = new StringContent(big, Encoding.UTF8, "application/json");
        await Problem.AssertAsync(await _client.PostAsync("/models", sized), HttpStatusCode.RequestEntityTooLarge, "body");

        var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big)));
        chunked.Headers.ContentType = new("application/json");
        chunked.Headers.ContentLength = null;
        var response = await _client.PostAsync("/models", chunked);
        await Problem.AssertAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/health")).StatusCode);
    }

    [Fact]
    public async Task GzipBombsAreRefusedQuicklyWithFlatMemoryAndLeaveNothingOnDisk()
    {
        const int side = 32, declared = 1 << 20; // 2^20 images of 32×32 bytes: 1 GiB once decompressed
        var zeros = Gzip(new byte[16 << 20]);
        byte[] Bomb(int images) => [.. Gzip(Shared.DataFiles.IdxImageHeader(images, side)), .. Enumerable.Repeat(zeros, 64).SelectMany(z => z)];
        var honestHeaderBomb = Bomb(declared);
        var lyingHeaderBomb = Bomb(1000); // declares 1 MB, then carries 1 GB
        var npyBomb = Gzip(Shared.DataFiles.Npy("<f4", $"({declared}, 256)", [])).Concat(Enumerable.Repeat(zeros, 64).SelectMany(z => z)).ToArray();
        Assert.True(honestHeaderBomb.Length < 2 << 20, honestHeaderBomb.Length.ToString());

        string[] Stored() => [.. new[] { "datasets", "tmp" }
            .SelectMany(d => Directory.EnumerateFiles(Path.Combine(factory.DataDirectory, d), "*", SearchOption.AllDirectories)).Order()];
        var before = Stored();
        var listed = await _client.GetStringAsync("/datasets");
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        var declaredTooLarge = await UploadAsync("idx", ("images", honestHeaderBomb), ("labels", Shared.DataFiles.IdxLabels(declared, withData: false)));
        var messages = await Problem.AssertAsync(declaredTooLarge, HttpStatusCode.RequestEntityTooLarge, "images");
        Assert.Contains("MaxDecompressedBytes", messages[0]);
        var trailing = await UploadAsync("idx", ("images", lyingHeaderBomb), ("labels", Shared.DataFiles.IdxLabels(1000, withData: true)));
        await Problem.AssertAsync(trailing, HttpStatusCode.UnprocessableEntity, "images");
        var npy = await UploadAsync("npy", ("features", npyBomb), ("labels", Shared.DataFiles.Npy("<i4", $"({declared},)", [])));
        await Problem.AssertAsync(npy, HttpStatusCode.RequestEntityTooLarge, "features");
        clock.Stop();
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), clock.Elapsed.ToString());
        // Three 1 GB expansions would allocate gigabytes; the uploads themselves are a few MB.
        Assert.True(allocated < 200L << 20, $"{allocated >> 20} MB allocated");
        Assert.Equal(before, Stored());
        Assert.Equal(listed, await _client.GetStringAsync("/datasets"));
    }

    [Fact]
    public async Task HugeSpecsAre422FastAndNonsenseSizesAre400()
    {
        object Dense(object units) => new { input = new[] { 1_000_000 }, layers = new object[] { new { type = "dense", units } }, loss = "mse" };
        // The fastest of a few tries: two shared cores make any single wall-clock reading noisy, while a
        // validator that allocated 10^12 weights would never answer at all.
        var times = new List<long>();
        for (int i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            var huge = await _client.PostAsJsonAsync("/models", new { name = "huge", spec = Dense(1_000_000) });
            times.Add(clock.ElapsedMilliseconds);
            await Problem.AssertAsync(huge, HttpStatusCode.UnprocessableEntity);
        }
        Assert.True(times.Min() < 100, string.Join(", ", times) + " ms");

        // Raw JSON tokens: zero, negative, NaN and infinity as strings, a number no double holds, a fraction.
        foreach (var units in new[] { "0", "-1", "\"NaN\"", "\"Infinity\"", "1e400", "2.5" })
        {
            var body = "{\"name\":\"m\",\"spec\":{\"input\":[2],\"layers\":[{\"type\":\"dense\",\"units\":" + units + "}],\"loss\":\"mse\"}}";
            var response = await _client.PostAsync("/models", new StringContent(body, Encoding.UTF8, "application/json"));
            await Problem.AssertAsync(response, HttpStatusCode.BadRequest);
        }
        foreach (var input in new[] { "[0]", "[-3]", "[\"NaN\"]", "[1e400]", "[]" })
        {
            var body = "{\"name\":\"m\",\"spec\":{\"input\":" + input + ",\"layers\":[{\"type\":\"dense\",\"units\":2}],\"loss\":\"mse\"}}";
            await Problem.AssertAsync(await _client.PostAsync("/models", new StringContent(body, Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest);
        }
        foreach (var rate in new[] { "\"NaN\"", "\"-Infinity\"", "1e400", "-0.1", "0" })
        {
            var body = "{\"modelId\":1,\"datasetId\":1,\"optimizer\":{\"type\":\"sgd\",\"learningRate\":" + rate + "}}";
            await Problem.AssertAsync(await _client.PostAsync("/jobs", new StringContent(body, Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest);
        }
    }

    [Fact]
    public async Task EpochsBatchSizesAndQueuedJobsPerOwnerAreCapped()
    {
        var datasetId = await _client.CreateSyntheticAsync(size: 400);
        var modelId = await _client.CreateModelAsync();
        foreach (var (field, value) in new (string, object)[] { ("epochs", 1_000_000), ("epochs", 0), ("batchSize", 10_000_000), ("batchSize", -1), ("epochs", "NaN") })
        {
            var body = new Dictionary<string, object> { ["modelId"] = modelId, ["datasetId"] = datasetId, [field] = value };
            await Problem.AssertAsync(await _client.PostAsJsonAsync("/jobs", body), HttpStatusCode.BadRequest);
        }

        var first = await _client.CreateJobAsync(modelId, datasetId, epochs: 10_000);
        var second = await _client.CreateJobAsync(modelId, datasetId, epochs: 10_000);
        var third = await _client.PostAsJsonAsync("/jobs", new { modelId, datasetId, epochs = 5 });
        await Problem.AssertAsync(third, HttpStatusCode.Conflict, "status");
        // The cap is per owner: someone else still gets a job in.
        var other = factory.CreateClient(await factory.CreateOwnerKeyAsync("other-owner"));
        var otherJob = await other.CreateJobAsync(await other.CreateModelAsync(), await other.CreateSyntheticAsync(size: 100), epochs: 1);
        foreach (var id in new[] { first, second }) await _client.PostAsync($"/jobs/{id}/cancel", null);
        await other.WaitForStatusAsync(otherJob, TimeSpan.FromSeconds(60), "succeeded");
        Assert.Equal(HttpStatusCode.Accepted, (await _client.PostAsJsonAsync("/jobs", new { modelId, datasetId, epochs = 1 })).StatusCode);
    }

    private Task<HttpResponseMessage> UploadAsync(string format, params (string Name, byte[] Bytes)[] files)
    {
        var form = new MultipartFormDataContent { { new StringContent("bomb"), "name" }, { new StringContent(format), "format" } };
        foreach (var (name, bytes) in files) form.Add(new ByteArrayContent(bytes), name, name + ".gz");
        return _client.PostAsync("/datasets", form);
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true)) gzip.Write(data);
        return output.ToArray();
    }
}
