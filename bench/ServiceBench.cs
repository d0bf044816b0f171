using System.Diagnostics;
using System.Numerics.Tensors;
using Engine.Data;
using Engine.Kernels;
using Engine.Specs;
using Engine.Tensors;
using Engine.Training;

namespace Bench;

/// <summary>
/// The reference MLP trained by the engine alone and by the real service (REST submit, Hangfire worker,
/// metrics and a checkpoint stored every epoch), on the same data; seconds per epoch and their ratio.
/// Args: [epochs (default 4)] [--samples N (default 60,000)] [--rounds R (default 3): service jobs, each between two engine-alone runs]
/// [--engine-nice N (default: the service's Training__Nice, 10)].
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

        // Rounds of engine alone and service job, alternated, each service job compared with the engine runs on
        // either side of it: the shared machine's speed drifts by tens of percent within a minute, so one
        // before/after pair is not enough; the medians over the rounds are the figures.
        int rounds = IntOption(args, "--rounds", 3);
        // The engine alone trains at the service's training priority unless told otherwise (--engine-nice 0: a nice-0
        // process against the service's nice-10 training shows what the priority costs on a shared machine).
        int engineNice = IntOption(args, "--engine-nice", ThreadNice.ServiceNice());
        ThreadNice.ForEngineWorkers(engineNice);
        Console.WriteLine($"service training threads at nice {ThreadNice.ServiceNice()}, engine alone at nice {engineNice}");
        var dir = Path.Combine(Path.GetTempPath(), $"bench-npy-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        try
        {
            string xPath = Path.Combine(dir, "x.npy"), yPath = Path.Combine(dir, "y.npy");
            Npy.WriteFloat32(xPath, x, samples, Features);
            Npy.WriteInt32(yPath, labels);
            // A small slice of the same data for the warm-up job: many short epochs (see StartServiceAsync).
            string xWarm = Path.Combine(dir, "x-warm.npy"), yWarm = Path.Combine(dir, "y-warm.npy");
            Npy.WriteFloat32(xWarm, x.AsSpan(0, WarmupSamples * Features).ToArray(), WarmupSamples, Features);
            Npy.WriteInt32(yWarm, labels[..WarmupSamples]);
            await using var service = await StartServiceAsync(xPath, yPath, xWarm, yWarm);
            await StartLatencyAsync(service);
            var engineRuns = new List<(double Wall, double Cpu)> { ThreadNice.Run(engineNice, () => EngineAlone(data, epochs)) };
            var serviceRuns = new List<(double Metric, double Wall, double Cpu, double Other)>();
            Console.WriteLine($"{"round",5} {"engine s/epoch",15} {"service own s",14} {"service wall s",15} {"own/engine",11} {"wall/engine",12} {"wall/own",9} {"CPU ratio",10} {"other CPU ms",13}");
            for (int r = 0; r < rounds; r++)
            {
                serviceRuns.Add(await ThroughService(service, epochs));
                engineRuns.Add(ThreadNice.Run(engineNice, () => EngineAlone(data, epochs)));
                var (m, w, c, o) = serviceRuns[r];
                double engine = (engineRuns[r].Wall + engineRuns[r + 1].Wall) / 2, engineCpu = (engineRuns[r].Cpu + engineRuns[r + 1].Cpu) / 2;
                Console.WriteLine($"{r + 1,5} {engine,15:F3} {m,14:F3} {w,15:F3} {m / engine,11:F3} {w / engine,12:F3} {w / m,9:F3} {c / engineCpu,10:F3} {o * 1e3,13:F1}");
            }
            string Interval(IEnumerable<double> v)
            {
                var (median, low, high) = Stats.MedianWithInterval([.. v]);
                return $"{median:F3} ({low:F3}-{high:F3})";
            }
            var ratios = Enumerable.Range(0, rounds).Select(r =>
            {
                double engine = (engineRuns[r].Wall + engineRuns[r + 1].Wall) / 2;
                return (Own: serviceRuns[r].Metric / engine, Wall: serviceRuns[r].Wall / engine, WallOwn: serviceRuns[r].Wall / serviceRuns[r].Metric);
            }).ToList();
            Console.WriteLine($"medians over {rounds} rounds (95 % bootstrap intervals): " +
                              $"wall between stored epochs / engine alone {Interval(ratios.Select(q => q.Wall))}, " +
                              $"service own seconds / engine alone {Interval(ratios.Select(q => q.Own))}, " +
                              $"wall / own seconds {Interval(ratios.Select(q => q.WallOwn))}");
            if (serviceRuns.All(s => !double.IsNaN(s.Other)))
                Console.WriteLine($"service CPU outside the training threads per epoch (median) {Stats.Median(serviceRuns.Select(s => s.Other)) * 1e3:F1} ms, " +
                                  $"{Stats.Median(serviceRuns.Select(s => s.Other / s.Wall)):P1} of a core");
            Console.WriteLine($"CPU {CpuInfo.Model()}, {Environment.ProcessorCount} cores, load average {CpuInfo.LoadAverage()}");
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

    private const int WarmupSamples = 2_560, WarmupEpochs = 40;

    /// <summary>
    /// The service with the data uploaded and a warm-up job trained, settled until idle. The warm-up job runs
    /// 40 short epochs, so the per-epoch path (state, checkpoint transaction, diagnostics, events) has been called
    /// often enough for tiered compilation to finish with it, as in a service that has been up a while; one epoch
    /// left the JIT recompiling that path during the measured job (2-5 % of a core).
    /// </summary>
    private static async Task<ServiceHost> StartServiceAsync(string xPath, string yPath, string xWarm, string yWarm)
    {
        var service = await ServiceHost.StartAsync();
        s_datasetId = await service.UploadNpyAsync("mlp-bench", xPath, yPath);
        long warmData = s_warmDatasetId = await service.UploadNpyAsync("mlp-bench-warmup", xWarm, yWarm);
        // Then a pause until the process is idle: a freshly started service spends a core on tiered compilation
        // (ASP.NET, EF Core, Hangfire, the training path) for its first tens of seconds.
        long warmup = await service.CreateJobAsync(Job(WarmupEpochs, warmData));
        await service.WaitForStatusAsync(warmup, JobStatus.Succeeded);
        var settled = await service.SettleAsync(TimeSpan.FromSeconds(60));
        Console.WriteLine($"service settled (under 5% of a core) {settled.TotalSeconds:F1} s after the warm-up job");
        return service;
    }

    private static long s_datasetId, s_warmDatasetId;

    private const int LatencySamples = 5;

    /// <summary>
    /// How long a job submitted to the idle service waits before it trains: from just before its POST until a poll
    /// (every 5 ms) first sees it training (a batch reported, or an epoch stored), an upper bound of the start; and
    /// Hangfire's part of it, from the service's own createdAt to startedAt (queued to Running). Each sample on the
    /// settled service, with nothing else queued.
    /// </summary>
    private static async Task StartLatencyAsync(ServiceHost service)
    {
        var toTraining = new List<double>();
        var toRunning = new List<double>();
        for (int i = 0; i < LatencySamples; i++)
        {
            await service.SettleAsync(TimeSpan.FromSeconds(30));
            var clock = Stopwatch.StartNew();
            long jobId = await service.CreateJobAsync(Job(2, s_warmDatasetId));
            while (true)
            {
                var job = await service.Api.GetJobAsync(jobId);
                if (job.Batch is not null || job.Epoch > 0 || job.Status == JobStatus.Succeeded)
                {
                    toTraining.Add(clock.Elapsed.TotalSeconds);
                    break;
                }
                await Task.Delay(5);
            }
            await service.WaitForStatusAsync(jobId, JobStatus.Succeeded);
            var done = await service.Api.GetJobAsync(jobId);
            toRunning.Add((done.StartedAt!.Value - done.CreatedAt).TotalSeconds);
        }
        Console.WriteLine($"queued-job start latency on the idle service ({LatencySamples} jobs): POST to training seen " +
                          $"median {Stats.Median(toTraining):F3} s, max {toTraining.Max():F3} s (goal ≤ 2 s); queued to Running " +
                          $"median {Stats.Median(toRunning) * 1e3:F1} ms; CPU {CpuInfo.Model()}, load average {CpuInfo.LoadAverage()}");
    }

    private static CreateJobRequest Job(int epochs, long? datasetId = null) => new(
        Spec: new ModelSpec([Features], [new DenseSpec(256), new ReluSpec(), new DenseSpec(128), new ReluSpec(), new DenseSpec(Classes)],
            LossKind.SoftmaxCrossEntropy),
        DatasetId: datasetId ?? s_datasetId, Epochs: epochs, BatchSize: Batch, Seed: Seed, CheckpointEvery: 1,
        Optimizer: new OptimizerSpec(OptimizerKind.Adam, 1e-3f));

    /// <summary>
    /// One job of <paramref name="epochs"/> epochs: the mean of its own per-epoch 'seconds', and the wall and
    /// service-process CPU time between stored epochs, epochs 2..N.
    /// </summary>
    /// <remarks>
    /// The wall time comes from the service's own timestamps (each metric's storedAt), so the bench watches the
    /// job the way a dashboard would, polling its status four times a second. Polling every 20 ms, as this
    /// did first, cost the service about 1 ms of CPU per request at that pace (thread wake-ups, not the
    /// endpoint), i.e. 5 % of a core taken from the training it measured. The CPU time is the service
    /// process's, sampled at each poll and interpolated at the two storedAt instants; so is the run time of its
    /// threads other than the training ones ("other": the epoch's write, diagnostics, events, requests), which
    /// is what the service adds to the engine's work, and which the machine's drift distorts far less than
    /// the ratios of seconds.
    /// </remarks>
    private static async Task<(double Metric, double Wall, double Cpu, double Other)> ThroughService(ServiceHost service, int epochs)
    {
        long jobId = await service.CreateJobAsync(Job(epochs));
        var cpu = new List<(DateTime At, double Seconds)>();
        var other = new List<(DateTime At, double Seconds)>();
        while (true)
        {
            var job = await service.Api.GetJobAsync(jobId);
            cpu.Add((DateTime.UtcNow, service.CpuTime.TotalSeconds));
            if (service.OtherThreadsRunSeconds() is { } seconds) other.Add((DateTime.UtcNow, seconds));
            if (job.Status == JobStatus.Succeeded) break;
            if (job.Status is JobStatus.Failed or JobStatus.Cancelled) throw new InvalidOperationException($"job {jobId} {job.Status}: {job.Error}");
            await Task.Delay(250);
        }
        var metrics = await service.Api.GetMetricsAsync(jobId);
        double metricMean = metrics.Skip(1).Average(m => m.Seconds);
        DateTime first = metrics[0].StoredAt, last = metrics[^1].StoredAt;
        int between = metrics.Length - 1;
        double otherPerEpoch = other.Count == cpu.Count ? (CpuAt(other, last) - CpuAt(other, first)) / between : double.NaN;
        return (metricMean, (last - first).TotalSeconds / between, (CpuAt(cpu, last) - CpuAt(cpu, first)) / between, otherPerEpoch);
    }

    /// <summary>The service's CPU seconds at <paramref name="at"/>, linear between the samples around it.</summary>
    private static double CpuAt(List<(DateTime At, double Seconds)> samples, DateTime at)
    {
        int i = samples.FindIndex(s => s.At >= at);
        if (i < 0) return samples[^1].Seconds;
        if (i == 0) return samples[0].Seconds;
        var (a, b) = (samples[i - 1], samples[i]);
        return a.Seconds + (b.Seconds - a.Seconds) * ((at - a.At) / (b.At - a.At));
    }

    internal static int IntOption(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
    }
}
