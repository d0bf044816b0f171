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
/// `mlp --breakdown [batch] [threads]` and `cnn --breakdown [batch] [threads] [samples]`: where one epoch's time
/// goes. Replays the training loop of <see cref="TrainingSession.RunEpoch"/> phase by phase through the public
/// layer API, timing each phase, then times the epoch's dense products alone and each convolution's parts
/// (forward, weight gradient, input gradient) alone for comparison.
/// </summary>
internal static class Breakdown
{
    // On one thread the process's CPU time is the clock: other processes on a shared machine then add little to it.
    private static bool s_cpuClock;
    private static long Now() => s_cpuClock ? Environment.CpuUsage.TotalTime.Ticks : Stopwatch.GetTimestamp();
    private static double Seconds(long ticks) => ticks / (double)(s_cpuClock ? TimeSpan.TicksPerSecond : Stopwatch.Frequency);

    public static void Run(Dataset data, ModelSpec spec, int batch, int threads)
    {
        Gemm.MaxThreads = threads;
        s_cpuClock = threads == 1;
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
            long epochStart = Now();
            for (int first = 0; first < n; first += batch)
            {
                int rows = Math.Min(batch, n - first), p = 0;
                long t = Now();
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
            if (timed) total += Seconds(Now() - epochStart);
        }

        double perEpoch = total / 2;
        var flops = PhaseFlops(layers, names.Count, n);
        Console.WriteLine($"breakdown: batch {batch}, {threads} thread(s), {perEpoch:F3} s/epoch of {n} samples ({(s_cpuClock ? "process CPU time" : "wall time")}); CPU {CpuInfo.Model()}, load average {CpuInfo.LoadAverage()}");
        double products = 0, productFlops = 0;
        for (int i = 0; i < names.Count; i++)
        {
            double s = Seconds(ticks[i]) / 2;
            string rate = flops[i] > 0 ? $"{flops[i] / s / 1e9,7:F1} GFLOP/s" : "";
            Console.WriteLine($"  {names[i],-22} {s * 1000,8:F1} ms {100 * s / perEpoch,6:F1} % {rate}");
            if (flops[i] > 0) (products, productFlops) = (products + s, productFlops + flops[i]);
        }
        Console.WriteLine($"  {"dense and conv layers",-22} {products * 1000,8:F1} ms {100 * products / perEpoch,6:F1} % {productFlops / products / 1e9,7:F1} GFLOP/s");
        if (!layers.Any(l => l is Conv2d))
        {
            double gemm = GemmOnly(spec, batch, n);
            Console.WriteLine($"  {"(their GEMMs alone)",-22} {gemm * 1000,8:F1} ms {100 * gemm / perEpoch,6:F1} % {productFlops / gemm / 1e9,7:F1} GFLOP/s");
        }
        Console.WriteLine($"  {"everything else",-22} {(perEpoch - products) * 1000,8:F1} ms {100 * (perEpoch - products) / perEpoch,6:F1} %");
        for (int i = 0; i < layers.Count; i++)
            if (layers[i] is Conv2d conv) ConvParts(conv, i, i == 0, batch, n, perEpoch);
    }

    /// <summary>One epoch's worth of a convolution's forward, weight-gradient and input-gradient passes alone, on random rows.</summary>
    private static void ConvParts(Conv2d conv, int index, bool first, int batch, int samples, double perEpoch)
    {
        var rng = new Rng(11);
        var x = new Tensor(batch, conv.InputWidth);
        var dy = new Tensor(batch, conv.OutputWidth);
        for (int i = 0; i < x.Span.Length; i++) x.Span[i] = rng.NextSingle() - 0.5f;
        for (int i = 0; i < dy.Span.Length; i++) dy.Span[i] = rng.NextSingle() - 0.5f;
        int batches = (samples + batch - 1) / batch;
        double one = 2.0 * samples * conv.Filters * conv.PatchSize * conv.OutHeight * conv.OutWidth;
        double Time(Action step)
        {
            step();
            double best = double.MaxValue;
            for (int rep = 0; rep < 2; rep++)
            {
                long start = Now();
                for (int b = 0; b < batches; b++) step();
                best = Math.Min(best, Seconds(Now() - start));
            }
            return best;
        }
        double forward = Time(() => conv.Forward(x, training: true));
        double weights = Time(() => conv.BackwardParameters(dy));
        double both = Time(() => conv.Backward(dy));
        foreach (var (part, s, f) in new[] { ("forward", forward, one), ("weight grad", weights, one), ("input grad", both - weights, first ? 0 : one) })
            Console.WriteLine($"  {$"conv {index} {part}",-22} {s * 1000,8:F1} ms {100 * s / perEpoch,6:F1} % {(f > 0 ? $"{f / s / 1e9,7:F1} GFLOP/s" : "(not run in training)")}");
    }

    /// <summary>Per-epoch FLOPs of each phase: the Dense and Conv2d layers' products (forward; backward dW and, past the first, dX).</summary>
    private static double[] PhaseFlops(IReadOnlyList<Layer> layers, int phases, int samples)
    {
        var flops = new double[phases];
        int firstLayerPhase = 2, firstBackwardPhase = 2 + layers.Count + 2;
        for (int i = 0; i < layers.Count; i++)
        {
            double one = layers[i] switch
            {
                Dense d => 2.0 * samples * d.Inputs * d.Units,
                Conv2d c => 2.0 * samples * c.Filters * c.PatchSize * c.OutHeight * c.OutWidth,
                _ => 0,
            };
            if (one == 0) continue;
            flops[firstLayerPhase + i] = one;
            flops[firstBackwardPhase + (layers.Count - 1 - i)] = i == 0 ? one : 2 * one;
        }
        return flops;
    }

    private static void Mark(ref long t, long[] ticks, ref int p, bool timed)
    {
        long now = Now();
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
