using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using static Reliability.Tests.Abuse.AbuseClient;
using static Shared.DataFiles;

namespace Reliability.Tests.Abuse;

/// <summary>
/// One real service process with small limits, so each can be met with a small request. Tests use their own
/// owner key, so the per-owner quota and job count of one test do not reach another.
/// </summary>
public sealed class LimitedService : IAsyncLifetime
{
    public const long Quota = 512 * 1024;
    public const double MaxJobCost = 1e9;
    public const int ReplayEpochs = 5;
    public const int QueueLength = 32;
    /// <summary>One slot, so one unread download fills it; 32 requests per slot may wait.</summary>
    public const int ModelRequests = 1;
    public const int ModelRequestQueue = 32 * ModelRequests;

    private readonly DataFolder _folder = new();
    public ServiceProcess Service { get; private set; } = null!;
    public string DataDirectory => _folder.Path;

    public async Task InitializeAsync() => Service = await ServiceProcess.StartAsync(_folder.Path, new Dictionary<string, string>
    {
        ["Security:MaxStoredBytesPerOwner"] = Quota.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Security:MaxJobCost"] = MaxJobCost.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        ["Training:HubReplayEpochs"] = ReplayEpochs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Training:HubQueueLength"] = QueueLength.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Security:MaxConcurrentModelRequests"] = ModelRequests.ToString(System.Globalization.CultureInfo.InvariantCulture),
        // An event per batch: a subscriber that stops reading falls behind within an epoch.
        ["Training:BatchProgressIntervalMs"] = "0",
        // The dashboard as built in the source tree: the child runs from the test folder, which has no wwwroot.
        ["ASPNETCORE_WEBROOT"] = Path.Combine(Shared.Repository.Root, "src", "Api", "wwwroot"),
    });

    public async Task DisposeAsync()
    {
        await Service.DisposeAsync();
        _folder.Dispose();
    }
}

public sealed class LimitsTests(LimitedService fixture) : IClassFixture<LimitedService>
{
    private ServiceProcess Service => fixture.Service;

    [Fact]
    public async Task UploadsPastMaxConcurrentUploadsAre429WhileTwoAreBeingRead()
    {
        var (client, _, _) = await OwnerAsync(Service, "uploader");
        var tmp = Path.Combine(fixture.DataDirectory, "tmp");
        int Receiving() => Directory.Exists(tmp) ? Directory.EnumerateFiles(tmp).Count() : 0;
        Assert.Equal(0, Receiving());

        // Two uploads whose bodies stop half-way: the service holds both upload slots while it waits for the rest.
        var held = new[] { new HeldUpload(), new HeldUpload() };
        var pending = held.Select(h => client.PostAsync("/datasets", h.Content)).ToArray();
        await EventuallyAsync(() => Receiving() == 2, TimeSpan.FromMinutes(1), () => $"{Receiving()} uploads being received");

        var third = await UploadAsync(client, "csv", ("file", "1,2,0\n3,4,1\n"u8.ToArray()));
        var body = await AssertProblemAsync(third, HttpStatusCode.TooManyRequests, "");
        Assert.Contains("Storage:MaxConcurrentUploads", body);
        Assert.NotNull(third.Headers.RetryAfter);

        foreach (var h in held) h.Finish();
        foreach (var response in await Task.WhenAll(pending)) Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await UploadAsync(client, "csv", ("file", "1,2,0\n3,4,1\n"u8.ToArray()))).StatusCode);
    }

    [Fact]
    public async Task NpyLabelsAtOrPastMaxClassesAre422AndTheListingStaysSmall()
    {
        var (client, _, _) = await OwnerAsync(Service, "classes");
        var features = Npy("<f4", "(2, 2)", Floats(1, 2, 3, 4));
        foreach (var label in new[] { 2147483646, 20_000_000, 65_536 })
        {
            var response = await UploadAsync(client, "npy", ("features", features), ("labels", Npy("<i4", "(2,)", Int32s(0, label))));
            var body = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "features");
            Assert.Contains("65536", body);
        }
        var accepted = await UploadAsync(client, "npy", ("features", features), ("labels", Npy("<i4", "(2,)", Int32s(0, 65_535))));
        Assert.Equal(65_536, (await accepted.ReadJsonAsync()).GetProperty("classes").GetInt32());
        var listing = await client.GetStringAsync("/datasets");
        // The per-class counts list is as long as the class count, which MaxClasses bounds: "0," per empty class.
        Assert.True(listing.Length < 2 * 65_536 + 4096, $"GET /datasets is {listing.Length} characters");
    }

    [Fact]
    public async Task StoragePastTheOwnersQuotaIs413ForDataAnd409ForJobsNamingTheQuotaAndTheUse()
    {
        var (client, _, _) = await OwnerAsync(Service, "hoarder");
        var small = await SpiralsAsync(client, 600);
        // 100,000 samples × 3 floats: more than the 512 KiB quota on their own.
        var big = await client.PostAsJsonAsync("/datasets/synthetic", new { name = "big", kind = "spirals", size = 100_000, classes = 3, seed = 1 });
        var body = await AssertProblemAsync(big, HttpStatusCode.RequestEntityTooLarge, "size");
        Assert.Contains("Security:MaxStoredBytesPerOwner", body);
        Assert.Contains($"{LimitedService.Quota}", body);

        // A job whose one checkpoint (≈265k float parameters, ≈1 MB) fills the quota; checkpoints count against it.
        var job = await (await SubmitAsync(client, Mlp(hidden: 512, depth: 2), small, epochs: 1)).ReadJsonAsync();
        var done = await client.WaitForStatusAsync(job.GetProperty("id").GetInt64(), TimeSpan.FromMinutes(3), "succeeded", "failed");
        Assert.Equal("succeeded", done.Status());

        var next = await SubmitAsync(client, Mlp(hidden: 8, depth: 1), small, epochs: 1);
        body = await AssertProblemAsync(next, HttpStatusCode.Conflict, "datasetId");
        Assert.Contains("Security:MaxStoredBytesPerOwner", body);
        Assert.Contains("checkpoints use", body);
        var upload = await UploadAsync(client, "csv", ("file", "1,2,0\n3,4,1\n"u8.ToArray()));
        Assert.Contains("Security:MaxStoredBytesPerOwner", await AssertProblemAsync(upload, HttpStatusCode.RequestEntityTooLarge, "file"));

        // The quota is the owner's: another owner still stores data.
        var (other, _, _) = await OwnerAsync(Service, "hoarder-neighbour");
        await SpiralsAsync(other, 600);
    }

    [Fact]
    public async Task AJobCostingMoreThanMaxJobCostIs422OnEpochs()
    {
        var (client, _, _) = await OwnerAsync(Service, "spender");
        var dataset = await SpiralsAsync(client, 600);
        // 1,251 parameters × 600 samples × 10,000 epochs ≈ 7.5e9, past the 1e9 limit of this service.
        var response = await SubmitAsync(client, Mlp(hidden: 32, depth: 1), dataset, epochs: 10_000);
        var body = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "epochs");
        Assert.Contains("Security:MaxJobCost", body);
        Assert.Equal(HttpStatusCode.Accepted, (await SubmitAsync(client, Mlp(hidden: 32, depth: 1), dataset, epochs: 1)).StatusCode);
    }

    [Fact]
    public async Task AGradientCheckOfMoreThanMaxGradientCheckParametersIs422BeforeAnyWork()
    {
        var (client, _, _) = await OwnerAsync(Service, "checker");
        var dataset = await SpiralsAsync(client, 200);
        // 2 → 2,000 → 2,000 → 3: about 4M parameters, past the 2M default.
        var response = await client.PostAsJsonAsync("/models/gradient-check", new { spec = Mlp(hidden: 2000, depth: 2), datasetId = dataset });
        var body = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "spec");
        Assert.Contains("Security:MaxGradientCheckParameters", body);
        var small = await client.PostAsJsonAsync("/models/gradient-check", new { spec = Mlp(hidden: 8, depth: 1), datasetId = dataset });
        Assert.True((await small.ReadJsonAsync()).GetProperty("passed").GetBoolean());
    }

    [Fact]
    public async Task PredictWithNonFiniteInputsIs400AndWithOverflowingOutputsIs422NeverA500()
    {
        var (client, _, _) = await OwnerAsync(Service, "predictor");
        var dataset = await SpiralsAsync(client, 300);
        var job = await (await SubmitAsync(client, Mlp(hidden: 64, depth: 2), dataset, epochs: 1)).ReadJsonAsync();
        long id = job.GetProperty("id").GetInt64();
        Assert.Equal("succeeded", (await client.WaitForStatusAsync(id, TimeSpan.FromMinutes(3), "succeeded", "failed")).Status());

        Task<HttpResponseMessage> Predict(string rows) =>
            client.PostAsync($"/jobs/{id}/predict", new StringContent("{\"inputs\":[" + rows + "]}", Encoding.UTF8, "application/json"));
        foreach (var row in new[] { "[1e309, 0]", "[\"NaN\", 0]", "[\"Infinity\", 0]", "[0, \"-Infinity\"]", "[0, 1e39]" })
        {
            var response = await Predict(row);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{row}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        // Finite float32 inputs that overflow inside the network: reported per row, the finite row is not the problem.
        var overflow = await Predict("[0.5, 0.5], [3e38, 3e38]");
        var body = await AssertProblemAsync(overflow, HttpStatusCode.UnprocessableEntity, "inputs[1]");
        Assert.DoesNotContain("inputs[0]", body);
        Assert.Equal(HttpStatusCode.OK, (await Predict("[0.5, 0.5]")).StatusCode);
    }

    [Fact]
    public async Task ModelRequestsPastMaxConcurrentModelRequestsAndItsQueueAre429WhileADownloadIsUnread()
    {
        var (client, _, _) = await OwnerAsync(Service, "downloader");
        var dataset = await SpiralsAsync(client, 300);
        // ≈2.3M parameters: tens of MB of JSON weights, far more than the socket buffers, so an unread download stays open.
        var job = await (await SubmitAsync(client, Mlp(hidden: 1500, depth: 2), dataset, epochs: 1)).ReadJsonAsync();
        long id = job.GetProperty("id").GetInt64();
        Assert.Equal("succeeded", (await client.WaitForStatusAsync(id, TimeSpan.FromMinutes(5), "succeeded", "failed")).Status());

        // A download whose body is never read holds the one model-request slot of this service.
        var held = await client.GetAsync($"/jobs/{id}/weights?format=json", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        // More predicts than the queue holds: the queue's worth wait, the rest are refused at once.
        const int sent = LimitedService.ModelRequestQueue + 8;
        var predicts = Enumerable.Range(0, sent)
            .Select(_ => client.PostAsJsonAsync($"/jobs/{id}/predict", new { inputs = new[] { new[] { 0.5f, 0.5f } } })).ToArray();
        await EventuallyAsync(() => predicts.Count(p => p.IsCompleted) >= 8, TimeSpan.FromMinutes(1),
            () => $"{predicts.Count(p => p.IsCompleted)} of {sent} predicts answered while the slot is held");
        var refused = predicts.Where(p => p.IsCompleted).Select(p => p.Result).ToList();
        Assert.Equal(8, refused.Count);
        foreach (var response in refused)
            Assert.Contains("Security:MaxConcurrentModelRequests", await AssertProblemAsync(response, HttpStatusCode.TooManyRequests, ""));

        held.Dispose();
        var all = await Task.WhenAll(predicts);
        Assert.Equal(LimitedService.ModelRequestQueue, all.Count(r => r.StatusCode == HttpStatusCode.OK));
    }

    [Fact]
    public async Task ASubscriberThatStopsReadingIsDroppedAndTheJobStillFinishes()
    {
        var (client, key, _) = await OwnerAsync(Service, "slow-reader");
        var dataset = await SpiralsAsync(client, 3000);
        // 2,400 training samples in batches of 4: 600 batch events an epoch, about 10 MB in 150 epochs, more than the
        // kernel's socket buffers (up to 4 MB) and the connection's pipe take before the service's writes are held up.
        var job = await (await SubmitAsync(client, Mlp(hidden: 32, depth: 1), dataset, epochs: 150, batchSize: 4)).ReadJsonAsync();
        long id = job.GetProperty("id").GetInt64();

        await using var reader = await StalledHubClient.ConnectAsync(Service.Address, key);
        await reader.SubscribeAsync(id);
        // From here on the client reads nothing; it only pings, so it is dropped for not reading, not for silence.
        var done = await client.WaitForStatusAsync(id, TimeSpan.FromMinutes(5), "succeeded", "failed");
        Assert.Equal("succeeded", done.Status());
        Assert.Equal(150, done.GetProperty("epoch").GetInt32());
        await EventuallyAsync(() => Service.Log.Contains("did not read its events", StringComparison.Ordinal), TimeSpan.FromSeconds(30),
            () => "the service never closed the connection that stopped reading:\n" + Service.Log);
        Assert.True(await reader.WasClosedByServerAsync(), "the stalled connection is still open");
    }

    [Fact]
    public async Task SubscribeReplaysOnlyTheLastEpochsAfterAHistoryTruncatedEvent()
    {
        var (client, key, _) = await OwnerAsync(Service, "replayer");
        var dataset = await SpiralsAsync(client, 300);
        var job = await (await SubmitAsync(client, Mlp(hidden: 16, depth: 1), dataset, epochs: 12)).ReadJsonAsync();
        long id = job.GetProperty("id").GetInt64();
        Assert.Equal("succeeded", (await client.WaitForStatusAsync(id, TimeSpan.FromMinutes(3), "succeeded", "failed")).Status());

        var events = new List<(string Kind, JsonElement Body)>();
        var gate = new object();
        await using var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(Service.Address, "/hubs/training"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(key))
            .Build();
        foreach (var kind in new[] { "HistoryTruncated", "EpochCompleted", "JobStatusChanged" })
            connection.On<JsonElement>(kind, e => { lock (gate) events.Add((kind, e)); });
        await connection.StartAsync();
        await connection.InvokeAsync("Subscribe", id);
        await EventuallyAsync(() => { lock (gate) return events.Any(e => e.Kind == "JobStatusChanged"); }, TimeSpan.FromSeconds(30), () => "no status");

        lock (gate)
        {
            Assert.Equal("HistoryTruncated", events[0].Kind);
            var truncated = events[0].Body;
            Assert.Equal(12 - LimitedService.ReplayEpochs, truncated.GetProperty("omittedEpochs").GetInt32());
            Assert.Equal(12 - LimitedService.ReplayEpochs + 1, truncated.GetProperty("firstReplayedEpoch").GetInt32());
            Assert.Equal($"/jobs/{id}/metrics", truncated.GetProperty("metricsUrl").GetString());
            Assert.True(truncated.GetProperty("bestEpoch").GetInt32() is >= 1 and <= 12);
            Assert.Equal(Enumerable.Range(12 - LimitedService.ReplayEpochs + 1, LimitedService.ReplayEpochs),
                events.Where(e => e.Kind == "EpochCompleted").Select(e => e.Body.GetProperty("epoch").GetInt32()));
        }
        // The REST route still has every epoch.
        Assert.Equal(Enumerable.Range(1, 12), await client.MetricEpochsAsync(id));
    }

    [Fact]
    public async Task DashboardAndSwaggerCarryTheSecurityHeaders()
    {
        using var anonymous = new HttpClient { BaseAddress = Service.Address };
        foreach (var path in new[] { "/", "/index.html", "/swagger/index.html", "/swagger/v1/swagger.json", "/jobs" })
        {
            var response = await anonymous.GetAsync(path);
            var csp = string.Join(";", response.Headers.TryGetValues("Content-Security-Policy", out var v) ? v : []);
            Assert.Contains("frame-ancestors 'none'", csp);
            Assert.Contains("script-src 'self'", csp);
            Assert.Equal("DENY", string.Join(",", response.Headers.GetValues("X-Frame-Options")));
            Assert.Equal("nosniff", string.Join(",", response.Headers.GetValues("X-Content-Type-Options")));
        }
        var dashboard = await anonymous.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        Assert.Contains("<script", await dashboard.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/swagger/index.html")).StatusCode);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void TheDataDirectoryIsOwnerOnlyAndTheDatabaseFilesAreOwnerReadWrite()
    {
        const UnixFileMode ownerAll = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Assert.Equal(ownerAll, File.GetUnixFileMode(fixture.DataDirectory));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(fixture.DataDirectory, "service.db")));
        foreach (var file in Directory.EnumerateFiles(fixture.DataDirectory, "service.db*"))
            Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(file) & (UnixFileMode)0b000_111_111);
        Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(Path.Combine(fixture.DataDirectory, "admin.key")) & (UnixFileMode)0b000_111_111);
    }

    [Fact]
    public async Task AHugePageIs400NamingPageNotTheFirstPageAgain()
    {
        foreach (var page in new[] { "2147483647", "1000001", "0", "-5" })
            await AssertProblemAsync(await Service.Client.GetAsync($"/jobs?page={page}&pageSize=100"), HttpStatusCode.BadRequest, "page");
        Assert.Equal(HttpStatusCode.OK, (await Service.Client.GetAsync("/jobs?page=1000000&pageSize=100")).StatusCode);
    }

    /// <summary>A multipart CSV upload that sends its first rows and then waits for <see cref="Finish"/> before the rest.</summary>
    private sealed class HeldUpload
    {
        private readonly TaskCompletionSource _finish = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public HttpContent Content { get; }

        public HeldUpload()
        {
            var file = new HeldContent(_finish.Task);
            file.Headers.ContentType = new("text/csv");
            Content = new MultipartFormDataContent { { new StringContent("held"), "name" }, { new StringContent("csv"), "format" }, { file, "file", "held.csv" } };
        }

        public void Finish() => _finish.TrySetResult();

        private sealed class HeldContent(Task finish) : HttpContent
        {
            protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
            {
                await stream.WriteAsync("1,2,0\n3,4,1\n"u8.ToArray());
                await stream.FlushAsync();
                await finish;
                await stream.WriteAsync("5,6,2\n"u8.ToArray());
            }

            protected override bool TryComputeLength(out long length)
            {
                length = 0;
                return false;
            }
        }
    }
}
