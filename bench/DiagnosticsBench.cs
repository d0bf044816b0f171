using System.Diagnostics;
using Engine.Data;
using Engine.Diagnostics;
using Engine.Specs;
using Engine.Tensors;
using Engine.Training;

namespace Bench;

/// <summary>
/// Cost of per-epoch layer diagnostics on the reference MLP (784-256-128-10, 60,000 samples, batch 128):
/// seconds per training epoch against seconds per <see cref="LayerDiagnostics.Compute"/> on the 256-sample
/// probe, and their ratio, which the service promises stays ≤ 3 %.
/// </summary>
internal static class DiagnosticsBench
{
    public static void Run(string[] args)
    {
        int epochs = args.Length > 0 ? int.Parse(args[0]) : 2;
        var data = MlpBench.MakeData();
        var spec = MlpBench.Spec;
        var options = new TrainingOptions(new OptimizerSpec(OptimizerKind.Adam, 1e-3f), Epochs: epochs + 1, BatchSize: 128, Seed: 7);
        var session = TrainingSession.Create(spec, options, data);
        var probe = DiagnosticsProbe.From(session.TrainData);
        session.RunEpoch(); // warm-up: JIT, buffers, optimizer state
        LayerDiagnostics.Compute(session.Network, probe);

        var sw = Stopwatch.StartNew();
        for (int e = 0; e < epochs; e++) session.RunEpoch();
        double epoch = sw.Elapsed.TotalSeconds / epochs;
        const int repeats = 20;
        sw.Restart();
        for (int i = 0; i < repeats; i++) LayerDiagnostics.Compute(session.Network, probe);
        double diagnostics = sw.Elapsed.TotalSeconds / repeats;
        Console.WriteLine($"mlp 784-256-128-10, {MlpBench.Samples} samples, batch 128, probe {probe.Inputs.Rows} samples");
        Console.WriteLine($"{"s/epoch",9} {"s/diagnostics",14} {"ratio",8}");
        Console.WriteLine($"{epoch,9:F3} {diagnostics,14:F5} {diagnostics / epoch,8:P2}");
    }
}
