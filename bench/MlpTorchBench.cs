using System.Diagnostics;
using System.Globalization;
using Engine.Data;
using Engine.Kernels;
using Engine.Training;

namespace Bench;

/// <summary>
/// `mlp --torch [rounds=5] [samples=60000]`: the reference MLP (<see cref="MlpBench.Spec"/>, Adam 1e-3, batch 128)
/// in the engine and in Debian's PyTorch in one run, each the best of 1 and all threads. The two alternate epoch by
/// epoch, so both see the same load; each round's ratio is engine / PyTorch, and the median of the rounds is the figure.
/// </summary>
internal static class MlpTorchBench
{
    private const int Batch = 128;

    public static void Run(string[] args)
    {
        int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        int samples = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : MlpBench.Samples;
        Console.WriteLine($"mlp 784-256-128-10 vs PyTorch: {samples} samples, batch {Batch}, Adam 1e-3, {rounds} rounds of one epoch each " +
                          $"on 1 and {Environment.ProcessorCount} threads; CPU {CpuInfo.Model()}, {Environment.ProcessorCount} cores");
        using var torch = TorchPeer.Start("mlp", samples);
        if (torch is null) return;
        var data = MlpBench.MakeData(samples);
        int[] threadCounts = [.. new[] { 1, Environment.ProcessorCount }.Distinct()];
        var sessions = threadCounts.ToDictionary(t => t, t => Warm(data, t, rounds));
        foreach (int t in threadCounts) torch.Epoch(t); // its warm-up epoch, outside the rounds

        var ratios = new List<double>();
        Console.WriteLine($"{"round",5} {"engine 1t",10} {"engine 2t",10} {"torch 1t",10} {"torch 2t",10} {"ratio",7} {"load",6}");
        for (int r = 1; r <= rounds; r++)
        {
            var engine = threadCounts.Select(t => EngineEpoch(sessions[t], t)).ToArray();
            var peer = threadCounts.Select(torch.Epoch).ToArray();
            double ratio = engine.Min() / peer.Min();
            ratios.Add(ratio);
            Console.WriteLine($"{r,5} {string.Join(' ', engine.Select(s => $"{s,10:F3}"))} {string.Join(' ', peer.Select(s => $"{s,10:F3}"))} " +
                              $"{ratio,7:F3} {CpuInfo.LoadAverage(),6}");
        }
        Gemm.MaxThreads = Environment.ProcessorCount;
        ratios.Sort();
        Console.WriteLine($"engine / pytorch {torch.Version} epoch time (best of 1 and {Environment.ProcessorCount} threads each): " +
                          $"median {ratios[ratios.Count / 2]:F3}x over {rounds} rounds (min {ratios[0]:F3}, max {ratios[^1]:F3}); goal <= 0.4x");
    }

    private static TrainingSession Warm(Dataset data, int threads, int rounds)
    {
        Gemm.MaxThreads = threads;
        var options = new TrainingOptions(new OptimizerSpec(OptimizerKind.Adam, 1e-3f), Epochs: rounds + 1, BatchSize: Batch, Seed: 7);
        var session = TrainingSession.Create(MlpBench.Spec, options, data);
        session.RunEpoch();
        return session;
    }

    private static double EngineEpoch(TrainingSession session, int threads)
    {
        Gemm.MaxThreads = threads;
        var sw = Stopwatch.StartNew();
        session.RunEpoch();
        return sw.Elapsed.TotalSeconds;
    }
}
