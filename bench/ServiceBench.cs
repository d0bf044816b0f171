using System.Diagnostics;
using System.Numerics.Tensors;
using Engine.Data;
using Engine.Kernels;
using Engine.Specs;
using Engine.Tensors;
using Engine.Training;

namespace Bench;

/// <summary>
/// The reference MLP trained by the engine alone and by the real service (REST submit, Quartz worker,
/// metrics and a checkpoint stored every epoch), on the same data; seconds per epoch and their ratio.
/// Args: [epochs (default 4)] [--samples N (default 60,000)].
/// </summary>
internal static class ServiceBench
{
    private const int Features = MlpBench.Features, Classes = MlpBench.Classes, Batch = 128;
    private const ulong Seed = 7;

    public static void Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task RunAsync(string[] args)
    {
        int samples = IntOption(args, "--samples", 60_000);
        int epochs = args.Length > 0 && int.TryParse(args[0], out var e) ? e : 4;
        if (epochs < 2) throw new ArgumentException("at least 2 epochs: the first (JIT, buffers) is not timed");
        var data = MlpBench.MakeData(samples);
        var (x, labels) = (data.Features, data.Labels!);
        Console.WriteLine($"mlp 784-256-128-10, {samples} samples, Adam 1e-3, batch {Batch}, {epochs} epochs; " +
                          $"epochs 2..{epochs} timed, checkpointEvery 1 in the service");

        // Engine alone before and after the service, averaged: the shared machine's load drifts within a run.
        var before = EngineAlone(data, epochs);
        var dir = Path.Combine(Path.GetTempPath(), $"bench-npy-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        try
        {
            string xPath = Path.Combine(dir, "x.npy"), yPath = Path.Combine(dir, "y.npy");
            Npy.WriteFloat32(xPath, x, samples, Features);
            Npy.WriteInt32(yPath, labels);
            var (metricSeconds, wallSeconds, cpuSeconds) = await ThroughService(xPath, yPath, epochs);
            var after = EngineAlone(data, epochs);
            double engine = (before.Wall + after.Wall) / 2, engineCpu = (before.Cpu + after.Cpu) / 2;

            Console.WriteLine($"{"",-36} {"s/epoch",8} {"ratio",6} {"CPU s/epoch",12} {"ratio",6}");
            Console.WriteLine($"{"engine alone, before the service",-36} {before.Wall,8:F3} {"",6} {before.Cpu,12:F3}");
            Console.WriteLine($"{"engine alone, after the service",-36} {after.Wall,8:F3} {"",6} {after.Cpu,12:F3}");
            Console.WriteLine($"{"engine alone, mean",-36} {engine,8:F3} {1.0,6:F3} {engineCpu,12:F3} {1.0,6:F3}");
            Console.WriteLine($"{"service, its metrics' seconds",-36} {metricSeconds,8:F3} {metricSeconds / engine,6:F3}");
            Console.WriteLine($"{"service, wall between stored epochs",-36} {wallSeconds,8:F3} {wallSeconds / engine,6:F3} " +
                              $"{cpuSeconds,12:F3} {cpuSeconds / engineCpu,6:F3}");
            // Same run, same moments: what the service adds around its own epochs, unaffected by the load drifting
            // between the engine-alone runs and the service run.
            Console.WriteLine($"{"service, wall / its metrics' seconds",-36} {"",8} {wallSeconds / metricSeconds,6:F3}");
            Console.WriteLine($"load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Wall and CPU seconds (this process, all threads) per timed epoch.</summary>
    private static (double Wall, double Cpu) EngineAlone(Dataset data, int epochs)
    {
        var spec = MlpBench.Spec;
        var options = new TrainingOptions(new OptimizerSpec(OptimizerKind.Adam, 1e-3f), Epochs: epochs, BatchSize: Batch, Seed: Seed);
        var session = TrainingSession.Create(spec, options, data);
        session.RunEpoch(); // warm-up, as the service's first epoch
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        for (int i = 1; i < epochs; i++) session.RunEpoch();
        process.Refresh();
        return (sw.Elapsed.TotalSeconds / (epochs - 1), (process.TotalProcessorTime - cpu).TotalSeconds / (epochs - 1));
    }

    /// <summary>
    /// Mean of the service's own per-epoch 'seconds', and the wall and service-process CPU time between
    /// stored epochs, epochs 2..N.
    /// </summary>
    private static async Task<(double Metric, double Wall, double Cpu)> ThroughService(string xPath, string yPath, int epochs)
    {
        await using var service = await ServiceHost.StartAsync();
        long datasetId = await service.UploadNpyAsync("mlp-bench", xPath, yPath);
        var spec = new
        {
            input = new[] { Features },
            layers = new object[]
            {
                new { type = "dense", units = 256 }, new { type = "relu" }, new { type = "dense", units = 128 }, new { type = "relu" },
                new { type = "dense", units = Classes },
            },
            loss = "softmax_cross_entropy",
        };
        object Job(int n) => new
        {
            spec, datasetId, epochs = n, batchSize = Batch, seed = Seed, checkpointEvery = 1,
            optimizer = new { type = "adam", learningRate = 1e-3 },
        };
        // A one-epoch job first, then a pause until the process is idle: a freshly started service spends a
        // core on tiered compilation (ASP.NET, EF Core, Quartz, the training path) for its first tens of seconds.
        long warmup = await service.CreateJobAsync(Job(1));
        await service.WaitForStatusAsync(warmup, "succeeded");
        var settled = await service.SettleAsync(TimeSpan.FromSeconds(60));
        Console.WriteLine($"service settled (under 5% of a core) {settled.TotalSeconds:F1} s after the warm-up job");
        long jobId = await service.CreateJobAsync(Job(epochs));

        // Polled (cheaply, 20 ms) for the moment each epoch's row appears: the wall time between two rows is
        // the whole per-epoch cost of the service (training, metrics, checkpoint, events).
        var seen = new Dictionary<int, (double Wall, double Cpu)>();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var job = await service.GetJsonAsync($"/jobs/{jobId}");
            int epoch = job["epoch"]!.GetValue<int>();
            if (epoch > 0 && !seen.ContainsKey(epoch)) seen[epoch] = (clock.Elapsed.TotalSeconds, service.CpuTime.TotalSeconds);
            var status = job["status"]!.GetValue<string>();
            if (status == "succeeded") break;
            if (status is "failed" or "cancelled") throw new InvalidOperationException($"job {jobId} {status}: {job["error"]}");
            await Task.Delay(20);
        }
        var final = await service.GetJsonAsync($"/jobs/{jobId}");
        Console.WriteLine($"service job {jobId}: options {final["options"]!.ToJsonString()}");
        var metrics = (await service.GetJsonAsync($"/jobs/{jobId}/metrics")).AsArray();
        double metricMean = metrics.Skip(1).Average(m => m!["seconds"]!.GetValue<double>());
        // From the first epoch seen to the last, divided by the epochs between: a missed poll cannot skew it.
        int first = seen.Keys.Min(), last = seen.Keys.Max();
        if (last == first) return (metricMean, double.NaN, double.NaN);
        return (metricMean, (seen[last].Wall - seen[first].Wall) / (last - first), (seen[last].Cpu - seen[first].Cpu) / (last - first));
    }

    internal static int IntOption(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
    }
}
