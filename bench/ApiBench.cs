using System.Diagnostics;
using System.Net;

namespace Bench;

/// <summary>
/// Requests per second and latency of <c>GET /jobs/{id}</c> from a .NET load loop (C concurrent
/// workers, one keep-alive connection each) while that job trains in the service.
/// Args: [--connections 32] [--seconds 10] [--warmup 10] [--idle] (the job has finished: the API alone, for comparison).
/// </summary>
internal static class ApiBench
{
    public static void Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task RunAsync(string[] args)
    {
        int connections = ServiceBench.IntOption(args, "--connections", 32);
        int seconds = ServiceBench.IntOption(args, "--seconds", 10);
        // Long enough for tiered compilation to reach its final code on a loaded 2-core machine; earlier
        // profiles were dominated by the JIT and instrumented (PGO) code.
        int warmup = ServiceBench.IntOption(args, "--warmup", 10);
        bool idle = args.Contains("--idle");
        await using var service = await ServiceHost.StartAsync();
        long datasetId = await service.CreateSpiralsAsync(60_000);
        // Far more epochs than the run lasts, so it trains throughout; it ends with the service process.
        long jobId = await service.CreateJobAsync(new CreateJobRequest(Spec: ServiceHost.SmallSpec, DatasetId: datasetId,
            Epochs: idle ? 3 : 10_000, BatchSize: 32, CheckpointEvery: 1, Optimizer: new OptimizerSpec(OptimizerKind.Adam, 1e-3f)));
        await service.WaitForStatusAsync(jobId, idle ? JobStatus.Succeeded : JobStatus.Running);
        while ((await service.Api.GetJobAsync(jobId)).Epoch < 1) await Task.Delay(50);

        // Raw HTTP for the load itself: it times the service's answer, not the client's deserializing of it.
        using var client = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            AutomaticDecompression = DecompressionMethods.None,
        }) { BaseAddress = service.BaseAddress };
        client.DefaultRequestHeaders.Add("X-Api-Key", ServiceHost.ApiKey);
        var path = $"/jobs/{jobId}";

        await Load(client, path, connections, TimeSpan.FromSeconds(warmup)); // JIT, connection pool, EF query cache
        var cpuBefore = service.CpuTime;
        double? otherBefore = service.OtherThreadsRunSeconds();
        var (latencies, errors, elapsed) = await Load(client, path, connections, TimeSpan.FromSeconds(seconds));
        var cpu = service.CpuTime - cpuBefore;
        // Threads other than the training ones: what answering costs, without training's share of the cores.
        double? requestCpu = service.OtherThreadsRunSeconds() - otherBefore;
        var status = await service.StatusAsync(jobId);
        int epoch = (await service.Api.GetJobAsync(jobId)).Epoch;

        Array.Sort(latencies);
        Console.WriteLine($"GET {path}, {connections} connections, {seconds} s after {warmup} s warm-up; job {status} at epoch {epoch}");
        Console.WriteLine($"{latencies.Length / elapsed:F0} req/s, {latencies.Length} responses, {errors} errors; latency " +
                          $"p50 {Stats.Percentile(latencies, 0.50):F2} ms, p99 {Stats.Percentile(latencies, 0.99):F2} ms, " +
                          $"max {latencies[^1]:F2} ms");
        Console.WriteLine($"service CPU {cpu.TotalSeconds:F1} s in {elapsed:F1} s ({cpu.TotalSeconds / elapsed * 100:F0}% of one core, training included), " +
                          $"{cpu.TotalMilliseconds * 1000 / latencies.Length:F0} µs per request{(idle ? "" : " incl. training's share")}" +
                          (requestCpu is { } r ? $", {r * 1e6 / latencies.Length:F0} µs on threads other than training's" : "") + "; " +
                          $"load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
    }

    private static async Task<(double[] LatenciesMs, int Errors, double Seconds)> Load(HttpClient client, string path, int workers, TimeSpan duration)
    {
        var clock = Stopwatch.StartNew();
        var results = await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            var latencies = new List<double>(64 * 1024);
            int errors = 0;
            while (clock.Elapsed < duration)
            {
                long start = Stopwatch.GetTimestamp();
                using var response = await client.GetAsync(path, HttpCompletionOption.ResponseContentRead);
                if (response.StatusCode != HttpStatusCode.OK) errors++;
                latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
            return (latencies, errors);
        })));
        double elapsed = clock.Elapsed.TotalSeconds;
        return ([.. results.SelectMany(r => r.latencies)], results.Sum(r => r.errors), elapsed);
    }
}
