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
/// On a loaded machine wall time mostly measures the scheduler, so the one-thread CPU-time ratio is printed beside it.
/// </summary>
internal static class MlpTorchBench
{
    private const int Batch = 128;

    public static void Run(string[] args)
    {
        int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        int samples = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : MlpBench.Samples;
        double scale = (double)MlpBench.Samples / samples;
        Console.WriteLine($"mlp 784-256-128-10 vs PyTorch: {samples} samples (times scaled to {MlpBench.Samples}), batch {Batch}, Adam 1e-3, " +
                          $"{rounds} rounds of one epoch each on 1 and {Environment.ProcessorCount} threads; CPU {CpuInfo.Model()}, {Environment.ProcessorCount} cores");
        using var torch = TorchPeer.Start("mlp", samples);
        if (torch is null) return;
        var data = MlpBench.MakeData(samples);
        int[] threadCounts = [.. new[] { 1, Environment.ProcessorCount }.Distinct()];
        var sessions = threadCounts.ToDictionary(t => t, t => Warm(data, t, rounds));
        foreach (int t in threadCounts) torch.Epoch(t); // its warm-up epoch, outside the rounds

        var wallRatios = new List<double>();
        var cpuRatios = new List<double>();
        Console.WriteLine($"{"round",5} {string.Join(' ', threadCounts.Select(t => $"{$"engine {t}t",10}"))} " +
                          $"{string.Join(' ', threadCounts.Select(t => $"{$"torch {t}t",10}"))} {"ratio",7} {"cpu 1t",7} {"load",6}");
        for (int r = 1; r <= rounds; r++)
        {
            var engine = threadCounts.Select(t => EngineEpoch(sessions[t], t)).ToArray();
            var peer = threadCounts.Select(torch.Epoch).ToArray();
            double wall = engine.Min(e => e.Wall) / peer.Min(p => p.Wall), cpu = engine[0].Cpu / peer[0].Cpu;
            wallRatios.Add(wall);
            cpuRatios.Add(cpu);
            Console.WriteLine($"{r,5} {string.Join(' ', engine.Select(e => $"{e.Wall * scale,10:F3}"))} {string.Join(' ', peer.Select(p => $"{p.Wall * scale,10:F3}"))} " +
                              $"{wall,7:F3} {cpu,7:F3} {CpuInfo.LoadAverage(),6}");
        }
        Gemm.MaxThreads = Environment.ProcessorCount;
        Console.WriteLine($"engine / pytorch {torch.Version}, s/epoch, best of 1 and {Environment.ProcessorCount} threads each: " +
                          $"median {Median(wallRatios):F3}x over {rounds} rounds (min {wallRatios.Min():F3}, max {wallRatios.Max():F3}); goal <= 0.4x");
        Console.WriteLine($"engine / pytorch CPU seconds per epoch on 1 thread: median {Median(cpuRatios):F3}x (min {cpuRatios.Min():F3}, max {cpuRatios.Max():F3})");
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static TrainingSession Warm(Dataset data, int threads, int rounds)
    {
        Gemm.MaxThreads = threads;
        var options = new TrainingOptions(new OptimizerSpec(OptimizerKind.Adam, 1e-3f), Epochs: rounds + 1, BatchSize: Batch, Seed: 7);
        var session = TrainingSession.Create(MlpBench.Spec, options, data);
        session.RunEpoch();
        return session;
    }

    /// <summary>One epoch's wall seconds and the process's CPU seconds over it (on one thread, the epoch's own cost).</summary>
    private static (double Wall, double Cpu) EngineEpoch(TrainingSession session, int threads)
    {
        Gemm.MaxThreads = threads;
        var self = Process.GetCurrentProcess();
        var cpu = self.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        session.RunEpoch();
        double wall = sw.Elapsed.TotalSeconds;
        self.Refresh();
        return (wall, (self.TotalProcessorTime - cpu).TotalSeconds);
    }
}
