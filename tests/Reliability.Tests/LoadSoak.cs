using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Xunit.Abstractions;

namespace Reliability.Tests;

/// <summary>
/// Eight API clients against the nodes of a service (one process, or several sharing one database) while two training
/// jobs keep training for as long as the load lasts (each is submitted again as soon as it ends). The verdict, outcome
/// first: no 5xx or 429; every training job succeeded once with every epoch stored once and in order and the same
/// weights; no sign of a busy, locked or deadlocked database in any node's log. bench/soak-load.sh runs it for 10 minutes.
/// </summary>
public sealed class LoadSoak(IReadOnlyList<ServiceProcess> nodes, ITestOutputHelper output)
{
    /// <summary>40 s in CI; bench/soak-load.sh sets RELIABILITY_LOAD_SECONDS=600.</summary>
    public static TimeSpan Duration =>
        TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("RELIABILITY_LOAD_SECONDS"), out var s) ? s : 40);

    /// <summary>Epochs of each training job: a few seconds of training, so jobs end and are replaced all through the load.</summary>
    private const int TrainingEpochs = 30;

    private const string ClientJobName = "from a load client";

    /// <summary>The settings every node needs for the soak: its clients' small jobs pile up, and their cap is tested elsewhere.</summary>
    public static readonly IReadOnlyDictionary<string, string> Settings = new Dictionary<string, string>
    {
        ["Security:MaxActiveJobsPerOwner"] = "100000",
    };

    /// <param name="symptoms">Log lines that mean the storage struggled, looked for in every node's log after the load.</param>
    public async Task RunAsync(params string[] symptoms)
    {
        var first = nodes[0];
        var failures = new ConcurrentBag<string>();
        var counts = new ConcurrentDictionary<string, int>();
        var trained = new ConcurrentBag<long>();
        var until = DateTime.UtcNow + Duration;
        // Each slot submits to its own node, which queues it for whichever node is free.
        var slots = Enumerable.Range(0, 2).Select(slot => Task.Run(async () =>
        {
            var node = nodes[slot % nodes.Count];
            while (DateTime.UtcNow < until)
            {
                long id = await node.Client.SubmitStandardJobAsync(epochs: TrainingEpochs);
                trained.Add(id);
                await node.Client.WaitForStatusAsync(id, Duration + TimeSpan.FromMinutes(10), "succeeded", "failed", "cancelled");
            }
        })).ToList();
        long firstJob = await FirstAsync(trained);
        await first.Client.WaitForEpochAsync(firstJob, 1, TimeSpan.FromMinutes(2));

        var clients = Enumerable.Range(0, 8).Select(c => Task.Run(async () =>
        {
            var node = nodes[c % nodes.Count];
            using var http = new HttpClient { BaseAddress = node.Address, Timeout = TimeSpan.FromSeconds(60) };
            http.DefaultRequestHeaders.Add("X-Api-Key", node.ApiKey);
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
                    failures.Add($"{name} on {node.Address}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        })).ToList();
        await Task.WhenAll(clients);
        // The last training jobs finish after the load, so every one's weights are checked; the clients' small jobs still
        // waiting would only delay them.
        var clientJobs = new List<long>();
        for (int page = 1; ; page++)
        {
            var items = (await (await first.Client.GetAsync($"/jobs?page={page}&pageSize=100")).ReadJsonAsync()).GetProperty("items").EnumerateArray().ToList();
            if (items.Count == 0) break;
            clientJobs.AddRange(items.Where(j => j.GetProperty("name").GetString() == ClientJobName).Select(j => j.GetProperty("id").GetInt64()));
        }
        foreach (var id in clientJobs) (await first.Client.PostAsync($"/jobs/{id}/cancel", null)).Dispose();
        await Task.WhenAll(slots);
        output.WriteLine($"{Duration.TotalSeconds:F0} s of load on {nodes.Count} node(s): {counts.Values.Sum()} requests ({string.Join(", ", counts.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}"))}), " +
                         $"{failures.Count} 5xx/429; {trained.Count} training jobs of {TrainingEpochs} epochs, {clientJobs.Count} small jobs from the clients");

        // The outcome first: no 5xx or 429; every training job succeeded once, each epoch stored once and in order, all with
        // the same weights (same data, spec and seed); the small jobs the clients queued have their epochs in order too.
        Assert.Empty(failures);
        byte[]? weights = null;
        foreach (var id in trained.Order())
        {
            var job = await first.Client.GetJobAsync(id);
            Assert.True(job.Status() == "succeeded", $"{job}");
            Assert.Equal(Enumerable.Range(1, TrainingEpochs), await first.Client.MetricEpochsAsync(id));
            var tensors = Api.TensorData(await first.Client.WeightsAsync(id));
            weights ??= tensors;
            Assert.True(weights.AsSpan().SequenceEqual(tensors), $"job {id}'s weights differ from job {trained.Min()}'s");
            Assert.Equal(1, job.GetProperty("attempts").GetInt32());
        }
        foreach (var id in clientJobs)
        {
            var epochs = await first.Client.MetricEpochsAsync(id);
            Assert.Equal(Enumerable.Range(1, epochs.Length), epochs);
        }
        foreach (var node in nodes) await node.StopAsync();
        foreach (var node in nodes)
        foreach (var symptom in symptoms.Append("Unhandled exception"))
            Assert.DoesNotContain(symptom, node.Log, StringComparison.OrdinalIgnoreCase);
        // Then that the load meant something.
        Assert.True(counts.Values.Sum() > 100, $"too few requests to mean anything: {counts.Values.Sum()}");
        Assert.True(trained.Count >= 2, $"only {trained.Count} training jobs");
    }

    private static async Task<long> FirstAsync(ConcurrentBag<long> jobs)
    {
        while (jobs.IsEmpty) await Task.Delay(10);
        return jobs.Min();
    }
}
