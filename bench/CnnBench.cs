using System.Diagnostics;
using System.Globalization;
using Engine;
using Engine.Data;
using Engine.Kernels;
using Engine.Losses;
using Engine.Specs;
using Engine.Tensors;
using Engine.Training;

namespace Bench;

/// <summary>
/// Seconds per epoch of the reference CNN (input [1, 28, 28], conv 32 3×3 same, relu, maxpool 2, conv 64
/// 3×3 same, relu, maxpool 2, flatten, dense 128, relu, dense 10; Adam 1e-3, batch 128) on synthetic images,
/// best of 1 and all threads, and the same network in PyTorch in the same run when <c>import torch</c> works.
/// Each product's time is also set against its arithmetic floor: the epoch's FLOPs at that product's own
/// large-GEMM rate (the engine's Gemm, PyTorch's torch.mm), both measured here.
/// `bench cnn [samples=12800] [epochs=1]`: the time is measured on <c>samples</c> and scaled to 60,000.
/// `bench cnn --breakdown [batch=128] [threads=all] [samples=2560]`: where the epoch goes, layer by layer (<see cref="Breakdown"/>).
/// `bench cnn --ab [threads=all] [rounds=7]`: the second convolution with its column matrix stored or written into the panels (<see cref="ConvAb"/>).
/// `bench cnn --relu-ab [threads=all] [rounds=7]`: a training batch layer by layer in spec order, or through Network, where each ReLU
/// runs after its max pooling and a conv writes the pooling after it (<see cref="ReluAb"/>).
/// </summary>
internal static class CnnBench
{
    private const int FullEpoch = 60_000, Batch = 128, Classes = 10;

    internal static readonly ModelSpec Spec = new([1, 28, 28],
    [
        new Conv2dSpec(32, 3, Padding: ConvPadding.SameSize), new ReluSpec(), new MaxPool2dSpec(2),
        new Conv2dSpec(64, 3, Padding: ConvPadding.SameSize), new ReluSpec(), new MaxPool2dSpec(2),
        new FlattenSpec(), new DenseSpec(128), new ReluSpec(), new DenseSpec(Classes),
    ], LossKind.SoftmaxCrossEntropy);

    public static void Run(string[] args)
    {
        if (args.Length > 0 && args[0] == "--breakdown")
        {
            int batch = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : Batch;
            int threads = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
            int count = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 2560;
            Breakdown.Run(MakeImages(count), Spec, batch, threads);
            return;
        }
        if (args.Length > 0 && args[0] == "--relu-ab")
        {
            int threads = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
            int rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 7;
            ReluAb(threads, rounds);
            return;
        }
        if (args.Length > 0 && args[0] == "--ab")
        {
            int threads = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
            int rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 7;
            ConvAb(threads, rounds);
            return;
        }
        int samples = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 12_800;
        int epochs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1;
        var report = SpecValidator.Validate(Spec);
        double trainingFlops = TrainingFlopsPerSample(report) * (double)FullEpoch;
        Console.WriteLine($"cnn reference network, {report.TotalParameters} parameters, {report.FlopsPerSample / 1e6:F2} MFLOP forward per sample, " +
                          $"{trainingFlops / 1e12:F2} TFLOP per 60,000-sample training epoch");
        Console.WriteLine($"timed on {samples} samples x {epochs} epoch(s) after a warm-up epoch, scaled to 60,000 samples; " +
                          $"CPU {CpuInfo.Model()}, {Environment.ProcessorCount} cores (shared machine: read the ratios)");

        var data = MakeImages(samples);
        double best = double.MaxValue;
        int bestThreads = 0;
        foreach (int threads in new[] { 1, Environment.ProcessorCount })
        {
            double perEpoch = Measure(data, threads, epochs) * FullEpoch / samples;
            Console.WriteLine($"engine  threads {threads}: {perEpoch,7:F2} s/epoch");
            if (perEpoch < best) (best, bestThreads) = (perEpoch, threads);
        }
        Gemm.MaxThreads = Environment.ProcessorCount;
        double gemmRate = GemmRate();
        double engineFloor = trainingFlops / gemmRate;
        Console.WriteLine($"engine  best {best:F2} s/epoch ({bestThreads} threads); Gemm 1024³ at {gemmRate / 1e9:F1} GFLOP/s -> floor {engineFloor:F2} s, " +
                          $"{best / engineFloor:F2}x the floor");

        using var torch = TorchPeer.Start("cnn", samples);
        if (torch is null) return;
        double torchBest = double.MaxValue;
        int torchThreads = 0;
        foreach (int threads in new[] { 1, Environment.ProcessorCount })
        {
            double seconds = 0;
            for (int e = 0; e < epochs; e++) seconds += torch.Epoch(threads).Wall;
            double perEpoch = seconds / epochs * FullEpoch / samples;
            Console.WriteLine($"pytorch threads {threads}: {perEpoch,7:F2} s/epoch");
            if (perEpoch < torchBest) (torchBest, torchThreads) = (perEpoch, threads);
        }
        double matmulFlops = torch.MatmulFlops(torchThreads);
        double torchFloor = trainingFlops / matmulFlops;
        Console.WriteLine($"pytorch {torch.Version}: best {torchBest:F2} s/epoch ({torchThreads} threads); torch.mm 1024³ at " +
                          $"{matmulFlops / 1e9:F1} GFLOP/s -> floor {torchFloor:F2} s, {torchBest / torchFloor:F2}x the floor");
        Console.WriteLine($"engine / pytorch epoch time: {best / torchBest:F3}x (load average {CpuInfo.LoadAverage()})");
    }

    /// <summary>
    /// `bench cnn --ab [threads=all] [rounds=7]`: the reference network's second convolution (32→64, 3×3 same, 14×14, batch 128)
    /// with its column matrix stored (A) and written straight into the products' panels (B), interleaved in one run; best
    /// of the rounds, each 20 batches of forward, weight gradient alone and both gradients.
    /// </summary>
    private static void ConvAb(int threads, int rounds)
    {
        Gemm.MaxThreads = threads;
        var conv = new Engine.Layers.Conv2d(32, 14, 14, 64, 3, 1, 1);
        var rng = new Rng(5);
        foreach (var p in conv.Parameters)
            for (int i = 0; i < p.Value.Length; i++) p.Value[i] = rng.NextSingle() - 0.5f;
        var x = new Tensor(Batch, conv.InputWidth);
        var dy = new Tensor(Batch, conv.OutputWidth);
        for (int i = 0; i < x.Span.Length; i++) x.Span[i] = rng.NextSingle() - 0.5f;
        for (int i = 0; i < dy.Span.Length; i++) dy.Span[i] = rng.NextSingle() - 0.5f;
        const int batches = 20;
        double flops = 2.0 * batches * Batch * conv.Filters * conv.PatchSize * conv.OutHeight * conv.OutWidth;
        var best = new double[2, 3];
        for (int i = 0; i < best.Length; i++) best[i / 3, i % 3] = double.MaxValue;
        Action[] parts = [() => conv.Forward(x, training: true), () => conv.BackwardParameters(dy), () => conv.Backward(dy)];
        for (int round = 0; round <= rounds; round++)
            for (int v = 0; v < 2; v++)
            {
                Engine.Layers.Conv2d.ForceStoredColumns = v == 0;
                for (int part = 0; part < 3; part++)
                {
                    var sw = Stopwatch.StartNew();
                    for (int b = 0; b < batches; b++) parts[part]();
                    if (round > 0) best[v, part] = Math.Min(best[v, part], sw.Elapsed.TotalSeconds);
                }
            }
        Engine.Layers.Conv2d.ForceStoredColumns = false;
        Console.WriteLine($"conv 32->64 3x3 same 14x14, batch {Batch}, {threads} thread(s), best of {rounds} rounds of {batches} batches; CPU {CpuInfo.Model()}, load average {CpuInfo.LoadAverage()}");
        string[] names = ["forward", "weight grad", "weight+input grad"];
        for (int part = 0; part < 3; part++)
        {
            double f = part == 2 ? 2 * flops : flops;
            Console.WriteLine($"  {names[part],-18} stored columns {best[0, part] * 1000,7:F1} ms ({f / best[0, part] / 1e9,6:F1} GFLOP/s)   panels {best[1, part] * 1000,7:F1} ms ({f / best[1, part] / 1e9,6:F1} GFLOP/s)   B/A {best[1, part] / best[0, part]:F3}");
        }
    }

    /// <summary>
    /// `bench cnn --relu-ab [threads=all] [rounds=7]`: the reference network's forward and backward pass on a batch of 128,
    /// run layer by layer in spec order (A) and through Network.Forward, which runs each ReLU after its max pooling (B),
    /// interleaved in one run; best of the rounds, each 10 batches.
    /// </summary>
    private static void ReluAb(int threads, int rounds)
    {
        Gemm.MaxThreads = threads;
        var network = Network.Create(Spec, new Rng(5));
        var data = MakeImages(Batch);
        var x = new Tensor(data.Features, Batch, network.InputWidth);
        var targets = Targets.FromLabels(data.Labels!);
        const int batches = 10;
        var best = new[] { double.MaxValue, double.MaxValue };
        for (int round = 0; round <= rounds; round++)
            for (int v = 0; v < 2; v++)
            {
                var sw = Stopwatch.StartNew();
                for (int b = 0; b < batches; b++)
                {
                    network.ZeroGrad();
                    if (v == 1)
                    {
                        network.ComputeLoss(network.Forward(x, training: true), targets);
                        network.Backward();
                        continue;
                    }
                    var y = x;
                    foreach (var layer in network.Layers) y = layer.Forward(y, training: true);
                    network.ComputeLoss(y, targets);
                    network.BackwardInSpecOrder();
                }
                if (round > 0) best[v] = Math.Min(best[v], sw.Elapsed.TotalSeconds);
            }
        Console.WriteLine($"reference cnn forward+backward, batch {Batch}, {threads} thread(s), best of {rounds} rounds of {batches} batches; " +
                          $"CPU {CpuInfo.Model()}, load average {CpuInfo.LoadAverage()}");
        Console.WriteLine($"  spec order {best[0] * 1000 / batches,7:F2} ms/batch   Network (ReLU after pooling, pooling written by its conv) {best[1] * 1000 / batches,7:F2} ms/batch   B/A {best[1] / best[0]:F3}");
    }

    /// <summary>Forward FLOPs, plus twice them for the backward pass (dW and dX) except dX of the first trainable layer.</summary>
    internal static double TrainingFlopsPerSample(SpecReport report)
    {
        double total = 0;
        bool first = true;
        foreach (var layer in report.Layers)
        {
            bool trainable = layer.Type is "conv2d" or "dense";
            total += layer.Flops * (trainable ? (first ? 2 : 3) : 2);
            if (trainable) first = false;
        }
        return total;
    }

    private static double Measure(Dataset data, int threads, int epochs)
    {
        Gemm.MaxThreads = threads;
        var options = new TrainingOptions(new OptimizerSpec(OptimizerKind.Adam, 1e-3f), Epochs: epochs + 1, BatchSize: Batch, Seed: 7);
        var session = TrainingSession.Create(Spec, options, data);
        session.RunEpoch(); // warm-up: JIT, buffers, optimizer state
        long allocBefore = GC.GetTotalAllocatedBytes(precise: true);
        var sw = Stopwatch.StartNew();
        for (int e = 0; e < epochs; e++) session.RunEpoch();
        double seconds = sw.Elapsed.TotalSeconds / epochs;
        double alloc = (GC.GetTotalAllocatedBytes(precise: true) - allocBefore) / (double)epochs;
        Console.WriteLine($"        (threads {threads}: {alloc / 1024:F1} KiB allocated per timed epoch of {data.Count} samples)");
        return seconds;
    }

    private static double GemmRate()
    {
        const int n = 1024;
        var rng = new Rng(3);
        var a = new float[n * n];
        var b = new float[n * n];
        var c = new float[n * n];
        for (int i = 0; i < a.Length; i++) { a[i] = rng.NextSingle(); b[i] = rng.NextSingle(); }
        Gemm.Multiply(a, b, c, n, n, n);
        double best = double.MaxValue;
        for (int r = 0; r < 5; r++)
        {
            var sw = Stopwatch.StartNew();
            Gemm.Multiply(a, b, c, n, n, n);
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / best;
    }

    /// <summary>28×28 images of one bright bar whose position and orientation give the class, plus noise.</summary>
    internal static Dataset MakeImages(int samples)
    {
        var rng = new Rng(42);
        var x = new float[samples * 784];
        var labels = new int[samples];
        for (int s = 0; s < samples; s++)
        {
            int label = rng.NextInt(Classes);
            labels[s] = label;
            var image = x.AsSpan(s * 784, 784);
            for (int i = 0; i < image.Length; i++) image[i] = 0.2f * rng.NextSingle();
            int at = 3 + 2 * (label % 5);
            for (int t = 4; t < 24; t++)
            {
                if (label < 5) image[at * 28 + t] = 1f;
                else image[t * 28 + at] = 1f;
            }
        }
        return new Dataset(x, [28, 28], samples, labels, null, 1, Classes);
    }
}
