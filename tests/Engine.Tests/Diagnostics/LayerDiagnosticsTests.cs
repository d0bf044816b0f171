using Engine.Data;
using Engine.Diagnostics;
using Engine.Layers;
using Engine.Specs;
using Engine.Tensors;
using Engine.Training;

namespace Engine.Tests.Diagnostics;

public class LayerDiagnosticsTests
{
    private static readonly ModelSpec Spec = new([2],
        [new DenseSpec(32), new BatchNormSpec(), new ReluSpec(), new DropoutSpec(0.3f), new DenseSpec(16), new ReluSpec(), new DenseSpec(3)],
        LossKind.SoftmaxCrossEntropy);

    private static Dataset Data() => SyntheticData.Generate(SyntheticKind.Spirals, 300, 3, seed: 11);

    [Fact]
    public void TrainingWithDiagnosticsAfterEveryEpochIsBitIdenticalToTrainingWithout()
    {
        var options = new TrainingOptions(new OptimizerSpec(OptimizerKind.Adam, 0.01f), Epochs: 3, BatchSize: 32, Seed: 5, ValidationSplit: 0.2f);
        var plain = TrainingSession.Create(Spec, options, Data());
        var observed = TrainingSession.Create(Spec, options, Data());
        var probe = DiagnosticsProbe.From(observed.TrainData);
        var plainMetrics = plain.Run();
        var observedMetrics = new List<EpochMetrics>();
        while (!observed.IsFinished)
        {
            observedMetrics.Add(observed.RunEpoch());
            Assert.Equal(Spec.Layers.Count, LayerDiagnostics.Compute(observed.Network, probe).Count);
        }

        var a = plain.Network.ExportTensors();
        var b = observed.Network.ExportTensors();
        for (int i = 0; i < a.Count; i++) Assert.Equal(a[i].Data, b[i].Data); // weights and BatchNorm running statistics
        Assert.Equal(plain.Network.Rng.NextUInt64(), observed.Network.Rng.NextUInt64()); // no dropout draws consumed
        Assert.Equal(plainMetrics.Select(m => (m.TrainLoss, m.ValLoss)), observedMetrics.Select(m => (m.TrainLoss, m.ValLoss)));
        Assert.Equal(plain.SaveState().Length, observed.SaveState().Length);
    }

    /// <summary>The service computes them while it saves the epoch's state: the state must come out the same.</summary>
    [Fact]
    public async Task DiagnosticsAlongsideSaveStateLeaveTheStateAndTheTrainingUnchanged()
    {
        var options = new TrainingOptions(new OptimizerSpec(OptimizerKind.Adam, 0.01f), Epochs: 4, BatchSize: 32, Seed: 5, ValidationSplit: 0.2f);
        var plain = TrainingSession.Create(Spec, options, Data());
        var observed = TrainingSession.Create(Spec, options, Data());
        var probe = DiagnosticsProbe.From(observed.TrainData);
        while (!observed.IsFinished)
        {
            plain.RunEpoch();
            observed.RunEpoch();
            var expected = plain.SaveState();
            for (int i = 0; i < 20; i++)
            {
                using var start = new Barrier(2);
                var diagnostics = Task.Run(() => { start.SignalAndWait(); return LayerDiagnostics.Compute(observed.Network, probe); });
                start.SignalAndWait();
                Assert.Equal(expected, observed.SaveState());
                Assert.Equal(Spec.Layers.Count, (await diagnostics).Count);
            }
        }
        Assert.Equal(plain.SaveState(), observed.SaveState());
    }

    /// <summary>A service computes them every epoch: the gradients are kept aside in the probe's arrays, not in new ones.</summary>
    [Fact]
    public void DiagnosticsAfterTheFirstDoNotCopyTheGradientsIntoNewArrays()
    {
        var wide = new ModelSpec([2], [new DenseSpec(512), new ReluSpec(), new DenseSpec(512), new DenseSpec(3)], LossKind.SoftmaxCrossEntropy);
        var network = Network.Create(wide, new Rng(3));
        var probe = DiagnosticsProbe.From(Data(), size: 16);
        // The first calls also size the products' per-thread packing buffers, on whichever thread count they try.
        for (int i = 0; i < 3; i++) LayerDiagnostics.Compute(network, probe);
        long gradientBytes = network.Parameters.Sum(p => (long)p.Grad.Length * sizeof(float));
        long before = GC.GetAllocatedBytesForCurrentThread();
        LayerDiagnostics.Compute(network, probe);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < gradientBytes / 8, $"{allocated} bytes allocated with {gradientBytes} bytes of gradients");
    }

    [Fact]
    public void StatisticsAreSane()
    {
        var network = Network.Create(Spec, new Rng(3));
        var data = Data();
        var probe = DiagnosticsProbe.From(data);
        var stats = LayerDiagnostics.Compute(network, probe);

        Assert.Equal(256, probe.Inputs.Rows);
        Assert.Equal(["Dense", "BatchNorm", "Relu", "Dropout", "Dense", "Relu", "Dense"], stats.Select(s => s.Type));
        for (int i = 0; i < stats.Count; i++)
        {
            var s = stats[i];
            Assert.Equal(i, s.Index);
            Assert.Equal(LayerDiagnostics.Bins, s.Histogram.Length);
            Assert.Equal(256 * network.Layers[i].OutputWidth, s.Histogram.Sum());
            Assert.True(s.Std >= 0 && s.HistogramMin <= s.Mean && s.Mean <= s.HistogramMax, s.ToString());
            Assert.Equal(network.Layers[i].Parameters.Count > 0, s.WeightNorm is not null);
            Assert.Equal(network.Layers[i] is Relu, s.DeadFraction is not null);
        }
        // ReLU outputs are never negative; the first bin starts at 0.
        Assert.Equal(0, stats[2].HistogramMin);
        // Fresh BatchNorm (running mean 0, var 1) is the identity in evaluation mode.
        Assert.Equal(stats[0].Mean, stats[1].Mean, 4);

        // The gradient norm is that of a full backward pass on the probe, computed independently here.
        network.ZeroGrad();
        network.ComputeLoss(network.Forward(probe.Inputs, training: false), probe.Targets);
        network.Backward();
        var dense = (Dense)network.Layers[6];
        double expected = Math.Sqrt(dense.Weight.Grad.Concat(dense.Bias.Grad).Sum(g => (double)g * g));
        Assert.Equal(expected, stats[6].GradNorm!.Value, 6);
        Assert.True(stats[6].GradToWeight > 0);
    }

    [Fact]
    public void DeadReluFractionRisesWithVeryNegativeBiases()
    {
        var spec = new ModelSpec([2], [new DenseSpec(32), new ReluSpec(), new DenseSpec(3)], LossKind.SoftmaxCrossEntropy);
        var network = Network.Create(spec, new Rng(3));
        var probe = DiagnosticsProbe.From(Data());
        double healthy = LayerDiagnostics.Compute(network, probe)[1].DeadFraction!.Value;

        var bias = ((Dense)network.Layers[0]).Bias.Value;
        for (int i = 0; i < bias.Length; i += 2) bias[i] = -50f; // half the units can never fire on inputs of this size
        double half = LayerDiagnostics.Compute(network, probe)[1].DeadFraction!.Value;
        Array.Fill(bias, -50f);
        var allDead = LayerDiagnostics.Compute(network, probe);

        Assert.True(healthy < 0.2, $"healthy {healthy}");
        Assert.True(half >= 0.5 && half > healthy, $"half {half}");
        Assert.Equal(1.0, allDead[1].DeadFraction);
        // No gradient reaches the layer below dead units; the head still gets one for its bias.
        Assert.Equal(0.0, allDead[0].GradNorm);
        Assert.True(allDead[2].GradNorm > 0);
    }

    [Fact]
    public void ConvLayersGetStatisticsAndAReluAfterAConvCountsDeadFilters()
    {
        var spec = new ModelSpec([1, 6, 6],
            [new Conv2dSpec(4, 3, Padding: ConvPadding.SameSize), new BatchNormSpec(), new ReluSpec(), new MaxPool2dSpec(2),
             new Conv2dSpec(3, 3), new ReluSpec(), new GlobalAvgPool2dSpec(), new FlattenSpec(), new DenseSpec(2)],
            LossKind.SoftmaxCrossEntropy);
        var network = Network.Create(spec, new Rng(4));
        var rng = new Rng(9);
        var features = Enumerable.Range(0, 40 * 36).Select(_ => rng.NextGaussian()).ToArray();
        var probe = DiagnosticsProbe.From(new Dataset(features, [1, 6, 6], 40, [.. Enumerable.Range(0, 40).Select(i => i % 2)], null, 1, 2));

        var stats = LayerDiagnostics.Compute(network, probe);
        Assert.Equal(["Conv2d", "BatchNorm", "Relu", "MaxPool2d", "Conv2d", "Relu", "GlobalAvgPool2d", "Flatten", "Dense"], stats.Select(s => s.Type));
        for (int i = 0; i < stats.Count; i++) Assert.Equal(40 * network.Layers[i].OutputWidth, stats[i].Histogram.Sum());
        Assert.True(stats[0].GradNorm > 0 && stats[4].GradNorm > 0);
        Assert.Equal(0.0, stats[5].DeadFraction);

        // Filter 1 of the second conv can never fire: its output is −50 everywhere, so one channel in three is dead,
        // though other filters leave some of their positions at 0 too.
        var conv = (Conv2d)network.Layers[4];
        conv.Weight.Value.AsSpan(1 * 4 * 9, 4 * 9).Clear();
        conv.Bias!.Value[1] = -50f;
        Assert.Equal(1.0 / 3, LayerDiagnostics.Compute(network, probe)[5].DeadFraction!.Value, 12);
    }
}
