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
    private const int Features = 784, Classes = 10, Batch = 128;
    private const ulong Seed = 7;

    public static void Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task RunAsync(string[] args)
    {
        int samples = IntOption(args, "--samples", 60_000);
        int epochs = args.Length > 0 && int.TryParse(args[0], out var e) ? e : 4;
        if (epochs < 2) throw new ArgumentException("at least 2 epochs: the first (JIT, buffers) is not timed");
        var (x, labels) = MakeData(samples);
        Console.WriteLine($"mlp 784-256-128-10, {samples} samples, Adam 1e-3, batch {Batch}, {epochs} epochs; " +
                          $"epochs 2..{epochs} timed, checkpointEvery 1 in the service");

        var engine = EngineAlone(x, labels, samples, epochs);
        var dir = Path.Combine(Path.GetTempPath(), $"bench-npy-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        try
        {
            string xPath = Path.Combine(dir, "x.npy"), yPath = Path.Combine(dir, "y.npy");
            Npy.WriteFloat32(xPath, x, samples, Features);
            Npy.WriteInt32(yPath, labels);
            var (metricSeconds, wallSeconds) = await ThroughService(xPath, yPath, epochs);

            Console.WriteLine($"{"",-34} {"s/epoch",9} {"ratio",7}");
            Console.WriteLine($"{"engine alone (RunEpoch wall)",-34} {engine,9:F3} {1.0,7:F3}");
            Console.WriteLine($"{"service, metrics 'seconds'",-34} {metricSeconds,9:F3} {metricSeconds / engine,7:F3}");
            Console.WriteLine($"{"service, wall between epoch rows",-34} {wallSeconds,9:F3} {wallSeconds / engine,7:F3}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static double EngineAlone(float[] x, int[] labels, int samples, int epochs)
    {
        var data = new Dataset(x, [Features], samples, labels, null, 1, Classes);
        var spec = new ModelSpec([Features],
            [new DenseSpec(256), new ReluSpec(), new DenseSpec(128), new ReluSpec(), new DenseSpec(Classes)],
            LossKind.SoftmaxCrossEntropy);
        var options = new TrainingOptions(new OptimizerSpec(OptimizerKind.Adam, 1e-3f), Epochs: epochs, BatchSize: Batch, Seed: Seed);
        var session = TrainingSession.Create(spec, options, data);
        session.RunEpoch(); // warm-up, as the service's first epoch
        var sw = Stopwatch.StartNew();
        for (int i = 1; i < epochs; i++) session.RunEpoch();
        return sw.Elapsed.TotalSeconds / (epochs - 1);
    }

    /// <summary>Mean of the service's own per-epoch 'seconds' and of the wall time between stored epochs, epochs 2..N.</summary>
    private static async Task<(double Metric, double Wall)> ThroughService(string xPath, string yPath, int epochs)
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
        long jobId = await service.CreateJobAsync(new
        {
            spec, datasetId, epochs, batchSize = Batch, seed = Seed, checkpointEvery = 1,
            optimizer = new { type = "adam", learningRate = 1e-3 },
        });

        // Polled (cheaply, 20 ms) for the moment each epoch's row appears: the wall time between two rows is
        // the whole per-epoch cost of the service (training, metrics, checkpoint, events).
        var seen = new Dictionary<int, double>();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var job = await service.GetJsonAsync($"/jobs/{jobId}");
            int epoch = job["epoch"]!.GetValue<int>();
            if (epoch > 0) seen.TryAdd(epoch, clock.Elapsed.TotalSeconds);
            var status = job["status"]!.GetValue<string>();
            if (status == "succeeded") break;
            if (status is "failed" or "cancelled") throw new InvalidOperationException($"job {jobId} {status}: {job["error"]}");
            await Task.Delay(20);
        }
        var metrics = (await service.GetJsonAsync($"/jobs/{jobId}/metrics")).AsArray();
        double metricMean = metrics.Skip(1).Average(m => m!["seconds"]!.GetValue<double>());
        // Epochs missed by the poll (shorter than 20 ms apart cannot happen here) would only widen the span.
        int first = seen.Keys.Where(k => k >= 1).Min(), last = seen.Keys.Max();
        double wall = last > first ? (seen[last] - seen[first]) / (last - first) : double.NaN;
        return (metricMean, wall);
    }

    /// <summary>Random features, labels from a fixed random linear teacher (as the mlp bench), so the loss really falls.</summary>
    private static (float[] X, int[] Labels) MakeData(int samples)
    {
        var rng = new Rng(42);
        var x = new float[samples * Features];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle();
        var teacher = new float[Features * Classes];
        for (int i = 0; i < teacher.Length; i++) teacher[i] = rng.NextGaussian();
        var scores = new float[samples * Classes];
        Gemm.Multiply(x, teacher, scores, samples, Classes, Features);
        var labels = new int[samples];
        for (int s = 0; s < samples; s++) labels[s] = TensorPrimitives.IndexOfMax(scores.AsSpan(s * Classes, Classes));
        return (x, labels);
    }

    internal static int IntOption(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
    }
}
