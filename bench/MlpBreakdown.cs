using System.Diagnostics;
using Engine;
using Engine.Data;
using Engine.Kernels;
using Engine.Layers;
using Engine.Losses;
using Engine.Specs;
using Engine.Tensors;
using Engine.Training;

namespace Bench;

/// <summary>
/// `mlp --breakdown [batch] [threads]`: where one epoch's time goes. Replays the training loop of
/// <see cref="TrainingSession.RunEpoch"/> phase by phase through the public layer API, timing each
/// phase, then times the epoch's matrix products alone for comparison.
/// </summary>
internal static class MlpBreakdown
{
    public static void Run(Dataset data, ModelSpec spec, int batch, int threads)
    {
        Gemm.MaxThreads = threads;
        var net = Network.Create(spec, new Rng(7));
        // As TrainingSession: the step clears the gradients it used, so only the first batch runs ZeroGrad.
        var optimizer = Optimizer.Create(new OptimizerSpec(OptimizerKind.Adam, 1e-3f), 0f);
        optimizer.ClearsGradients = true;
        bool gradientsClear = false;
        var layers = net.Layers;
        var names = new List<string> { "gather", "zero grad" };
        for (int i = 0; i < layers.Count; i++) names.Add($"fwd {i} {layers[i].GetType().Name}");
        names.Add("loss fwd+grad");
        names.Add("count correct");
        for (int i = layers.Count - 1; i >= 0; i--) names.Add($"bwd {i} {layers[i].GetType().Name}");
        names.Add("optimizer step");
        var ticks = new long[names.Count];

        int n = data.Count, fs = data.FeatureSize;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var x = new Tensor(batch, fs);
        var labels = new int[batch];
        var ps = net.Parameters;
        double total = 0;
        for (int epoch = 0; epoch < 3; epoch++)
        {
            bool timed = epoch > 0; // the first epoch warms up JIT and buffers
            net.Rng.Shuffle(order);
            long epochStart = Stopwatch.GetTimestamp();
            for (int first = 0; first < n; first += batch)
            {
                int rows = Math.Min(batch, n - first), p = 0;
                long t = Stopwatch.GetTimestamp();
                x.Resize(rows, fs);
                data.CopySamples(order.AsSpan(first, rows), x.Span);
                for (int r = 0; r < rows; r++) labels[r] = data.Labels![order[first + r]];
                var targets = Targets.FromLabels(labels.AsMemory(0, rows));
                Mark(ref t, ticks, ref p, timed);
                if (!gradientsClear) net.ZeroGrad();
                Mark(ref t, ticks, ref p, timed);
                var y = x;
                foreach (var layer in layers)
                {
                    y = layer.Forward(y, training: true);
                    Mark(ref t, ticks, ref p, timed);
                }
                net.ComputeLoss(y, targets);
                Mark(ref t, ticks, ref p, timed);
                net.Loss.CountCorrect(y, targets);
                Mark(ref t, ticks, ref p, timed);
                var dy = net.Loss.Backward();
                // As Network.Backward: the first layer computes parameter gradients only.
                for (int i = layers.Count - 1; i >= 0; i--)
                {
                    if (i > 0) dy = layers[i].Backward(dy);
                    else layers[i].BackwardParameters(dy);
                    Mark(ref t, ticks, ref p, timed);
                }
                optimizer.Step(ps);
                gradientsClear = true;
                Mark(ref t, ticks, ref p, timed);
            }
            if (timed) total += Stopwatch.GetElapsedTime(epochStart).TotalSeconds;
        }

        double perEpoch = total / 2;
        var flops = PhaseFlops(layers, names.Count, n);
        Console.WriteLine($"breakdown: batch {batch}, {threads} thread(s), {perEpoch:F3} s/epoch; CPU {CpuInfo.Model()}, load average {CpuInfo.LoadAverage()}");
        double products = 0, productFlops = 0;
        for (int i = 0; i < names.Count; i++)
        {
            double s = ticks[i] / (double)Stopwatch.Frequency / 2;
            string rate = flops[i] > 0 ? $"{flops[i] / s / 1e9,7:F1} GFLOP/s" : "";
            Console.WriteLine($"  {names[i],-22} {s * 1000,8:F1} ms {100 * s / perEpoch,6:F1} % {rate}");
            if (flops[i] > 0) (products, productFlops) = (products + s, productFlops + flops[i]);
        }
        double gemm = GemmOnly(spec, batch, n);
        Console.WriteLine($"  {"dense layers",-22} {products * 1000,8:F1} ms {100 * products / perEpoch,6:F1} % {productFlops / products / 1e9,7:F1} GFLOP/s");
        Console.WriteLine($"  {"(their GEMMs alone)",-22} {gemm * 1000,8:F1} ms {100 * gemm / perEpoch,6:F1} % {productFlops / gemm / 1e9,7:F1} GFLOP/s");
        Console.WriteLine($"  {"everything else",-22} {(perEpoch - products) * 1000,8:F1} ms {100 * (perEpoch - products) / perEpoch,6:F1} %");
    }

    /// <summary>Per-epoch FLOPs of each phase: the Dense layers' products (forward X·W; backward Xᵀ·dY and, past the first, dY·Wᵀ).</summary>
    private static double[] PhaseFlops(IReadOnlyList<Layer> layers, int phases, int samples)
    {
        var flops = new double[phases];
        int firstLayerPhase = 2, firstBackwardPhase = 2 + layers.Count + 2;
        for (int i = 0; i < layers.Count; i++)
        {
            if (layers[i] is not Dense d) continue;
            double one = 2.0 * samples * d.Inputs * d.Units;
            flops[firstLayerPhase + i] = one;
            flops[firstBackwardPhase + (layers.Count - 1 - i)] = i == 0 ? one : 2 * one;
        }
        return flops;
    }

    private static void Mark(ref long t, long[] ticks, ref int p, bool timed)
    {
        long now = Stopwatch.GetTimestamp();
        if (timed) ticks[p] += now - t;
        p++;
        t = now;
    }

    /// <summary>One epoch of the products Dense layers run (forward, dW, dX), on scratch buffers.</summary>
    private static double GemmOnly(ModelSpec spec, int batch, int samples)
    {
        var widths = new List<int> { spec.Input[0] };
        foreach (var l in spec.Layers) if (l is DenseSpec d) widths.Add(d.Units);
        int max = widths.Max();
        var a = new float[batch * max];
        var b = new float[max * max];
        var c = new float[Math.Max(batch, max) * max];
        double best = double.MaxValue;
        for (int rep = 0; rep < 3; rep++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int first = 0; first < samples; first += batch)
            {
                int m = Math.Min(batch, samples - first);
                for (int i = 0; i + 1 < widths.Count; i++)
                {
                    int inW = widths[i], outW = widths[i + 1];
                    Gemm.Multiply(a, b, c, m, outW, inW);
                    Gemm.Multiply(a, b, c, inW, outW, m, transA: true, accumulate: true);
                    if (i > 0) Gemm.Multiply(a, b, c, m, inW, outW, transB: true);
                }
            }
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return best;
    }
}
