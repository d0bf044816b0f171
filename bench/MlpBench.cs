using System.Diagnostics;
using Engine.Data;
using Engine.Kernels;
using Engine.Specs;
using Engine.Tensors;
using Engine.Training;

namespace Bench;

/// <summary>
/// Seconds per epoch of the reference network (784-256-128-10, ReLU, softmax cross entropy, Adam 1e-3)
/// on 60,000 synthetic samples, plus allocation and GC counts per steady-state epoch.
/// </summary>
internal static class MlpBench
{
    internal const int Samples = 60_000, Features = 784, Classes = 10;

    /// <summary>The reference network every training bench uses.</summary>
    internal static readonly ModelSpec Spec = new([Features],
        [new DenseSpec(256), new ReluSpec(), new DenseSpec(128), new ReluSpec(), new DenseSpec(Classes)],
        LossKind.SoftmaxCrossEntropy);

    public static void Run(string[] args)
    {
        if (args.Length > 0 && args[0] == "--torch")
        {
            MlpTorchBench.Run(args[1..]);
            return;
        }
        var data = MakeData();
        var spec = Spec;
        if (args.Length > 0 && args[0] == "--breakdown")
        {
            // `mlp --breakdown [batch] [threads]`: per-phase times of one configuration.
            int batch = args.Length > 1 ? int.Parse(args[1]) : 128;
            int threads = args.Length > 2 ? int.Parse(args[2]) : Environment.ProcessorCount;
            Breakdown.Run(data, spec, batch, threads);
            return;
        }
        int epochs = args.Length > 0 ? int.Parse(args[0]) : 3;

        Console.WriteLine($"mlp 784-256-128-10, {Samples} samples, Adam 1e-3, {epochs} timed epochs after one warm-up epoch");
        Console.WriteLine($"{"batch",6} {"threads",8} {"s/epoch",9} {"samples/s",11} {"alloc/epoch",13} {"gen0",5} {"gen1",5} {"gen2",5}");
        foreach (int batch in new[] { 128, 32, 512 })
            foreach (int threads in new[] { Environment.ProcessorCount, 1 })
                Measure(spec, data, batch, threads, epochs);
        Gemm.MaxThreads = Environment.ProcessorCount;
        Console.WriteLine($"peak working set: {Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024):F0} MiB");
    }

    private static void Measure(ModelSpec spec, Dataset data, int batch, int threads, int epochs)
    {
        Gemm.MaxThreads = threads;
        var options = new TrainingOptions(new OptimizerSpec(OptimizerKind.Adam, 1e-3f), Epochs: epochs + 1, BatchSize: batch, Seed: 7);
        var session = TrainingSession.Create(spec, options, data);
        session.RunEpoch(); // warm-up: JIT, buffers, optimizer state

        long allocBefore = GC.GetTotalAllocatedBytes(precise: true);
        int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
        var sw = Stopwatch.StartNew();
        for (int e = 0; e < epochs; e++) session.RunEpoch();
        double perEpoch = sw.Elapsed.TotalSeconds / epochs;
        double alloc = (GC.GetTotalAllocatedBytes(precise: true) - allocBefore) / (double)epochs;
        Console.WriteLine($"{batch,6} {threads,8} {perEpoch,9:F3} {Samples / perEpoch,11:F0} {FormatBytes(alloc),13} " +
            $"{GC.CollectionCount(0) - g0,5} {GC.CollectionCount(1) - g1,5} {GC.CollectionCount(2) - g2,5}");
    }

    /// <summary>Random features with labels from a fixed random linear teacher, so the loss really falls.</summary>
    internal static Dataset MakeData(int samples = Samples)
    {
        var rng = new Rng(42);
        var x = new float[samples * Features];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle();
        var teacher = new float[Features * Classes];
        for (int i = 0; i < teacher.Length; i++) teacher[i] = rng.NextGaussian();
        var scores = new float[samples * Classes];
        Gemm.Multiply(x, teacher, scores, samples, Classes, Features);
        var labels = new int[samples];
        for (int s = 0; s < samples; s++)
            labels[s] = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(scores.AsSpan(s * Classes, Classes));
        return new Dataset(x, [Features], samples, labels, null, 1, Classes);
    }

    private static string FormatBytes(double b) => b < 1024 * 1024 ? $"{b / 1024:F1} KiB" : $"{b / (1024 * 1024):F1} MiB";
}
