using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Xunit.Abstractions;

namespace Reliability.Tests;

/// <summary>SQLite under concurrent API load and over a long run: no busy errors, bounded growth.</summary>
public sealed class StorageTests(ITestOutputHelper output)
{
    /// <summary>40 s in CI; bench/soak-load.sh sets RELIABILITY_LOAD_SECONDS=600.</summary>
    private static TimeSpan LoadDuration =>
        TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("RELIABILITY_LOAD_SECONDS"), out var s) ? s : 40);

    /// <summary>Epochs of each training job: a few seconds of training, so jobs end and are replaced all through the load.</summary>
    private const int TrainingEpochs = 30;

    private const string ClientJobName = "from a load client";

    [Fact]
    public async Task EightClientsWhileTwoJobsKeepTrainingGetNo5xxAndEveryJobTrainsEachEpochOnceToTheSameWeights()
    {
        using var folder = new DataFolder();
        await using var service = await ServiceProcess.StartAsync(folder.Path, new Dictionary<string, string>
        {
            ["Training:Concurrency"] = "2",
            // The clients' small jobs pile up in a long soak; the cap on them is tested elsewhere.
            ["Security:MaxActiveJobsPerOwner"] = "100000",
        });
        using var keep = service.KeepLogOnExit("soak-load");
        var failures = new ConcurrentBag<string>();
        var counts = new ConcurrentDictionary<string, int>();
        var trained = new ConcurrentBag<long>();
        var until = DateTime.UtcNow + LoadDuration;
        // Two jobs train for the whole load, however long: each slot submits the same job again as soon as its last one ends.
        var slots = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            while (DateTime.UtcNow < until)
            {
                long id = await service.Client.SubmitStandardJobAsync(epochs: TrainingEpochs);
                trained.Add(id);
                await service.Client.WaitForStatusAsync(id, LoadDuration + TimeSpan.FromMinutes(10), "succeeded", "failed", "cancelled");
            }
        })).ToList();
        long firstJob = await FirstAsync(trained);
        await service.Client.WaitForEpochAsync(firstJob, 1, TimeSpan.FromMinutes(2));

        var clients = Enumerable.Range(0, 8).Select(c => Task.Run(async () =>
        {
            using var http = new HttpClient { BaseAddress = service.Address, Timeout = TimeSpan.FromSeconds(60) };
            http.DefaultRequestHeaders.Add("X-Api-Key", service.ApiKey);
            var random = new Random(c);
            while (DateTime.UtcNow < until)
            {
                var jobs = trained.ToArray();
                long job = jobs[random.Next(jobs.Length)];
                var (name, request) = random.Next(8) switch
                {
                    0 => ("create dataset", http.PostAsJsonAsync("/datasets/synthetic", new { kind = "blobs", size = 200, classes = 3, seed = c, noise = 0.1 })),
                    1 => ("create model", http.PostAsJsonAsync("/models", new
                    {
                        name = $"m{c}",
                        spec = new { input = new[] { 2 }, layers = new object[] { new { type = "dense", units = 8 }, new { type = "relu" }, new { type = "dense", units = 3 } }, loss = "softmax_cross_entropy" },
                    })),
                    // Now and then, as a write that also enqueues a Hangfire job; it queues behind the training jobs.
                    2 when random.Next(16) == 0 => ("create job", http.PostAsJsonAsync("/jobs", new
                    {
                        spec = new { input = new[] { 2 }, layers = new object[] { new { type = "dense", units = 8 }, new { type = "relu" }, new { type = "dense", units = 3 } }, loss = "softmax_cross_entropy" },
                        name = ClientJobName, datasetId = 1, epochs = 3, checkpointEvery = 1,
                    })),
                    3 => ("list", http.GetAsync("/jobs?page=1&pageSize=20")),
                    4 => ("get", http.GetAsync($"/jobs/{job}")),
                    5 => ("metrics", http.GetAsync($"/jobs/{job}/metrics")),
                    6 => ("checkpoints", http.GetAsync($"/jobs/{job}/checkpoints")),
                    _ => ("download", http.GetAsync($"/jobs/{job}/weights?format=safetensors")),
                };
                using var response = await request;
                counts.AddOrUpdate(name, 1, (_, n) => n + 1);
                if ((int)response.StatusCode >= 500 || response.StatusCode == HttpStatusCode.TooManyRequests)
                    failures.Add($"{name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        })).ToList();
        await Task.WhenAll(clients);
        // The last training jobs finish after the load, so every one's weights are checked; the clients' small jobs still
        // waiting would only delay them.
        var clientJobs = new List<long>();
        for (int page = 1; ; page++)
        {
            var items = (await (await service.Client.GetAsync($"/jobs?page={page}&pageSize=100")).ReadJsonAsync()).GetProperty("items").EnumerateArray().ToList();
            if (items.Count == 0) break;
            clientJobs.AddRange(items.Where(j => j.GetProperty("name").GetString() == ClientJobName).Select(j => j.GetProperty("id").GetInt64()));
        }
        foreach (var id in clientJobs) (await service.Client.PostAsync($"/jobs/{id}/cancel", null)).Dispose();
        await Task.WhenAll(slots);
        output.WriteLine($"{LoadDuration.TotalSeconds:F0} s of load: {counts.Values.Sum()} requests ({string.Join(", ", counts.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}"))}), " +
                         $"{failures.Count} 5xx/429; {trained.Count} training jobs of {TrainingEpochs} epochs, {clientJobs.Count} small jobs from the clients");

        // The outcome first: no 5xx or 429; every training job succeeded once, each epoch stored once and in order, all with
        // the same weights (same data, spec and seed); the small jobs the clients queued have their epochs in order too.
        Assert.Empty(failures);
        byte[]? weights = null;
        foreach (var id in trained.Order())
        {
            var job = await service.Client.GetJobAsync(id);
            Assert.True(job.Status() == "succeeded", $"{job}");
            Assert.Equal(Enumerable.Range(1, TrainingEpochs), await service.Client.MetricEpochsAsync(id));
            var tensors = Api.TensorData(await service.Client.WeightsAsync(id));
            weights ??= tensors;
            Assert.True(weights.AsSpan().SequenceEqual(tensors), $"job {id}'s weights differ from job {trained.Min()}'s");
            Assert.Equal(1, job.GetProperty("attempts").GetInt32());
        }
        foreach (var id in clientJobs)
        {
            var epochs = await service.Client.MetricEpochsAsync(id);
            Assert.Equal(Enumerable.Range(1, epochs.Length), epochs);
        }
        await service.StopAsync();
        foreach (var symptom in new[] { "database is locked", "SQLITE_BUSY", "SQLite Error", "Unhandled exception" })
            Assert.DoesNotContain(symptom, service.Log, StringComparison.OrdinalIgnoreCase);
        // Then that the load meant something.
        Assert.True(counts.Values.Sum() > 100, $"too few requests to mean anything: {counts.Values.Sum()}");
        Assert.True(trained.Count >= 2, $"only {trained.Count} training jobs");
    }

    private static async Task<long> FirstAsync(ConcurrentBag<long> jobs)
    {
        while (jobs.IsEmpty) await Task.Delay(10);
        return jobs.Min();
    }

    [Fact]
    public async Task PruningKeepsLastThreePlusBestAndOnlyTheirStateFilesStay()
    {
        const int epochs = 40;
        using var folder = new DataFolder();
        long id;
        long stateBytes;
        await using (var service = await ServiceProcess.StartAsync(folder.Path))
        {
            // About 0.8 MB of training state per checkpoint (weights plus Adam's two moments), one every epoch.
            id = await service.Client.SubmitStandardJobAsync(epochs: epochs, size: 400, hidden: 256);
            var job = await service.Client.WaitForStatusAsync(id, TimeSpan.FromMinutes(3), "succeeded", "failed");
            Assert.Equal("succeeded", job.Status());
            var checkpoints = (await (await service.Client.GetAsync($"/jobs/{id}/checkpoints")).ReadJsonAsync()).EnumerateArray().ToList();
            var kept = checkpoints.Select(c => c.GetProperty("epoch").GetInt32()).Order().ToList();
            int best = job.GetProperty("bestEpoch").GetInt32();
            Assert.Equal(new[] { epochs - 2, epochs - 1, epochs }.Union([best]).Order(), kept);
            stateBytes = checkpoints[0].GetProperty("sizeBytes").GetInt64();
            await service.StopAsync();
        }

        using var db = Api.OpenDatabase(folder.Path);
        var rows = new List<string>();
        using (var command = db.CreateCommand())
        {
            command.CommandText = $"SELECT FileName FROM Checkpoints WHERE JobId = {id} ORDER BY Epoch";
            using var reader = command.ExecuteReader();
            while (reader.Read()) rows.Add(reader.GetString(0));
        }
        // The kept checkpoints' files and nothing else: the 36 pruned ones were deleted, not left behind.
        var files = Directory.GetFiles(Path.Combine(folder.Path, "checkpoints", id.ToString(CultureInfo.InvariantCulture)));
        Assert.Equal(rows.Order(), files.Select(f => Path.GetRelativePath(folder.Path, f)).Order());
        Assert.All(files, f => Assert.Equal(stateBytes, new FileInfo(f).Length));
        // The states are not in the database: 40 epochs of metrics and diagnostics take less room than one state.
        long database = new FileInfo(Path.Combine(folder.Path, "service.db")).Length;
        output.WriteLine($"state {stateBytes} B, database {database} B");
        Assert.True(database < stateBytes, $"{database} database bytes for {stateBytes}-byte states");
    }
}
