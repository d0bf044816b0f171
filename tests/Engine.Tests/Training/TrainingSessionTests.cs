using Engine.Data;
using Engine.Specs;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>In one collection with the state tests: both set the process-wide Gemm thread count.</summary>
[Collection("GemmThreads")]
public class TrainingSessionTests
{
    private static ModelSpec Mlp(int inputs, int hidden, int outputs, LossKind loss = LossKind.SoftmaxCrossEntropy) =>
        new([inputs], [new DenseSpec(hidden), new ReluSpec(), new DenseSpec(hidden), new ReluSpec(), new DenseSpec(outputs)], loss);

    [Fact]
    public void XorIsLearnedToFullAccuracy()
    {
        var data = SyntheticData.Generate(SyntheticKind.Xor, 64, 2, seed: 1);
        var spec = new ModelSpec([2], [new DenseSpec(8), new TanhSpec(), new DenseSpec(2, InitKind.Xavier)], LossKind.SoftmaxCrossEntropy);
        var session = TrainingSession.Create(spec, new TrainingOptions(new OptimizerSpec(OptimizerKind.Adam, 0.05f), Epochs: 100, BatchSize: 16, Seed: 2), data);
        var metrics = session.Run();
        Assert.Equal(1f, metrics[^1].TrainAccuracy);
        Assert.Equal(1f, session.Evaluate(data).Accuracy);
    }

    [Fact]
    public void ThreeClassSpiralsReachNinetyFivePercentTrainAccuracy()
    {
        var data = SyntheticData.Generate(SyntheticKind.Spirals, 300, 3, seed: 3);
        var options = new TrainingOptions(new OptimizerSpec(OptimizerKind.Adam, 0.01f), Epochs: 300, BatchSize: 32, Seed: 4);
        var session = TrainingSession.Create(Mlp(2, 64, 3), options, data);
        session.Run();
        Assert.True(session.Evaluate(data).Accuracy >= 0.95f, $"accuracy {session.Evaluate(data).Accuracy}");
    }

    [Fact]
    public void NoisyLinearRegressionReachesLowMse()
    {
        // Noise σ = 0.05 gives an irreducible ½·mean square of about 0.00125.
        var data = SyntheticData.Generate(SyntheticKind.Regression, 256, 4, seed: 5, noise: 0.05f);
        var spec = new ModelSpec([4], [new DenseSpec(16), new ReluSpec(), new DenseSpec(1)], LossKind.Mse);
        var options = new TrainingOptions(new OptimizerSpec(OptimizerKind.Adam, 0.02f), Epochs: 150, BatchSize: 32, Seed: 6);
        var session = TrainingSession.Create(spec, options, data);
        var last = session.Run()[^1];
        Assert.Null(last.TrainAccuracy);
        Assert.True(session.Evaluate(data).Loss < 0.01f, $"mse {session.Evaluate(data).Loss}");
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Momentum)]
    [InlineData(OptimizerKind.Nesterov)]
    [InlineData(OptimizerKind.AdaGrad)]
    [InlineData(OptimizerKind.RmsProp)]
    [InlineData(OptimizerKind.AdamW)]
    public void EveryOptimizerSeparatesBlobs(OptimizerKind kind)
    {
        var data = SyntheticData.Generate(SyntheticKind.Blobs, 120, 3, seed: 7, noise: 0.5f);
        var options = new TrainingOptions(new OptimizerSpec(kind, kind is OptimizerKind.Sgd or OptimizerKind.AdaGrad ? 0.1f : 0.01f),
            Epochs: 30, BatchSize: 16, Seed: 8, WeightDecay: 1e-4f, ClipNorm: 5f);
        var session = TrainingSession.Create(Mlp(2, 16, 3), options, data);
        session.Run();
        Assert.True(session.Evaluate(data).Accuracy >= 0.95f);
    }

    [Fact]
    public void MetricsReportEveryEpochWithValidationAndSchedule()
    {
        var data = SyntheticData.Generate(SyntheticKind.Moons, 200, 2, seed: 9);
        var options = new TrainingOptions(new OptimizerSpec(OptimizerKind.Adam, 0.01f), Epochs: 4, BatchSize: 32, Seed: 10,
            Schedule: new ScheduleSpec(ScheduleKind.Step, StepSize: 2, Gamma: 0.5f), ValidationSplit: 0.25f);
        var session = TrainingSession.Create(Mlp(2, 8, 2), options, data);
        var seen = new List<EpochMetrics>();
        var batches = new List<BatchProgress>();
        var metrics = session.Run(seen.Add, batches.Add);
        Assert.Equal(metrics, seen);
        Assert.Equal([1, 2, 3, 4], metrics.Select(m => m.Epoch));
        Assert.Equal([0.01f, 0.01f, 0.005f, 0.005f], metrics.Select(m => m.LearningRate));
        Assert.All(metrics, m => { Assert.NotNull(m.ValLoss); Assert.NotNull(m.ValAccuracy); Assert.True(m.SamplesPerSecond > 0); });
        Assert.Equal(150, session.TrainData.Count);
        Assert.Equal(50, session.ValidationData!.Count);
        Assert.Equal(4 * 5, batches.Count);
        Assert.Equal(new BatchProgress(1, 5, 5, batches[4].Loss), batches[4]);
        Assert.True(session.IsFinished);
        Assert.Throws<InvalidOperationException>(() => session.RunEpoch());
    }

    [Fact]
    public void ValidationSplitIsDeterministicAndDisjoint()
    {
        var data = SyntheticData.Generate(SyntheticKind.Blobs, 100, 4, seed: 11);
        var options = new TrainingOptions(new OptimizerSpec(), Seed: 12, ValidationSplit: 0.2f);
        var a = TrainingSession.Create(Mlp(2, 4, 4), options, data);
        var b = TrainingSession.Create(Mlp(2, 4, 4), options, data);
        Assert.Equal(a.ValidationData!.Features, b.ValidationData!.Features);
        var all = a.TrainData.Features.Chunk(2).Concat(a.ValidationData.Features.Chunk(2)).Select(p => (p[0], p[1])).ToHashSet();
        Assert.Equal(100, all.Count);
        var c = TrainingSession.Create(Mlp(2, 4, 4), options with { Seed = 13 }, data);
        Assert.NotEqual(a.ValidationData.Features, c.ValidationData!.Features);
    }

    [Fact]
    public void TransformIsCarriedFromTheTrainingSet()
    {
        var raw = SyntheticData.Generate(SyntheticKind.Moons, 20, 2, seed: 14);
        var transform = new InputTransform(NormalizationKind.Standardize, [0.5f, 0.25f], [2f, 3f]);
        var data = new Dataset(raw.Features, [2], 20, raw.Labels, null, 1, 2, transform);
        var session = TrainingSession.Create(Mlp(2, 4, 2), new TrainingOptions(new OptimizerSpec()), data);
        Assert.Same(transform, session.Network.Transform);
    }

    [Fact]
    public void HugeLearningRateFailsWithEpochAndBatch()
    {
        var data = SyntheticData.Generate(SyntheticKind.Regression, 64, 2, seed: 15);
        var spec = new ModelSpec([2], [new DenseSpec(8), new DenseSpec(1)], LossKind.Mse);
        var session = TrainingSession.Create(spec, new TrainingOptions(new OptimizerSpec(OptimizerKind.Sgd, 1e30f), Epochs: 3, BatchSize: 8), data);
        var e = Assert.Throws<TrainingDivergedException>(() => session.Run());
        Assert.Equal(1, e.Epoch);
        Assert.InRange(e.Batch, 2, 8);
        Assert.Contains($"epoch 1, batch {e.Batch}", e.Message);
    }

    [Fact]
    public void CancellationStopsBeforeTheNextBatch()
    {
        var data = SyntheticData.Generate(SyntheticKind.Moons, 100, 2, seed: 16);
        var session = TrainingSession.Create(Mlp(2, 4, 2), new TrainingOptions(new OptimizerSpec(), Epochs: 5, BatchSize: 10), data);
        using var cts = new CancellationTokenSource();
        int seen = 0;
        Assert.ThrowsAny<OperationCanceledException>(() => session.Run(onBatch: p => { seen++; if (p.Batch == 3) cts.Cancel(); }, ct: cts.Token));
        Assert.Equal(3, seen);
        Assert.Equal(0, session.CompletedEpochs);
    }

    [Fact]
    public void EarlyStoppingStopsAfterPatienceAndRestoresTheBestWeights()
    {
        // A min delta no loss can beat makes epoch 1 the best for ever, while the weights keep changing.
        var data = SyntheticData.Generate(SyntheticKind.Moons, 64, 2, seed: 17);
        var options = new TrainingOptions(new OptimizerSpec(OptimizerKind.Adam, 0.01f), Epochs: 20, BatchSize: 16,
            EarlyStopping: new EarlyStoppingSpec(Patience: 2, MinDelta: 1e6f));
        var session = TrainingSession.Create(Mlp(2, 8, 2), options, data);
        float[][]? best = null;
        var metrics = session.Run(m => { if (m.Epoch == 1) best = [.. session.Network.Parameters.Select(p => p.Value.ToArray())]; });
        Assert.Equal(3, metrics.Count);
        Assert.True(session.EarlyStopped);
        Assert.True(session.IsFinished);
        Assert.Equal([true, false, false], metrics.Select(m => m.IsBest));
        Assert.Equal(1, session.BestEpoch);
        for (int i = 0; i < best!.Length; i++) Assert.Equal(best[i], session.Network.Parameters[i].Value);
    }

    [Fact]
    public void EarlyStoppingMonitorsValidationLossWhenThereIsOne()
    {
        var train = SyntheticData.Generate(SyntheticKind.Blobs, 60, 2, seed: 18);
        var val = SyntheticData.Generate(SyntheticKind.Blobs, 30, 2, seed: 19);
        var options = new TrainingOptions(new OptimizerSpec(OptimizerKind.Sgd, 0f), Epochs: 10, BatchSize: 16,
            EarlyStopping: new EarlyStoppingSpec(Patience: 1, RestoreBestWeights: false));
        var session = TrainingSession.Create(Mlp(2, 4, 2), options, train, val);
        // η = 0: validation loss never changes, so the second epoch is no improvement.
        var metrics = session.Run();
        Assert.Equal(2, metrics.Count);
        Assert.Equal(metrics[0].ValLoss, metrics[1].ValLoss);
    }

    [Fact]
    public void SteadyStateEpochAllocatesNothingPerBatch()
    {
        var data = SyntheticData.Generate(SyntheticKind.Spirals, 2000, 3, seed: 20);
        var spec = new ModelSpec([2], [new DenseSpec(16), new BatchNormSpec(), new ReluSpec(), new DropoutSpec(0.1f), new DenseSpec(3)], LossKind.SoftmaxCrossEntropy);
        var options = new TrainingOptions(new OptimizerSpec(OptimizerKind.Adam), Epochs: 10, BatchSize: 8, ClipNorm: 1f, ValidationSplit: 0.1f,
            EarlyStopping: new EarlyStoppingSpec(Patience: 100));
        var session = TrainingSession.Create(spec, options, data);
        int threads = Kernels.Gemm.MaxThreads;
        // One thread: the allocation counter is per thread, and the trainer (not the kernel) is measured here.
        Kernels.Gemm.MaxThreads = 1;
        try
        {
            session.RunEpoch();
            session.RunEpoch();
            // The least of three epochs: another test class may briefly reset the shared thread count.
            long allocated = long.MaxValue;
            for (int i = 0; i < 3; i++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                session.RunEpoch(onBatch: _ => { });
                allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            // 225 batches; the epoch's metrics record is the only expected allocation.
            Assert.True(allocated < 2048, $"{allocated} bytes for {session.BatchesPerEpoch} batches");
        }
        finally { Kernels.Gemm.MaxThreads = threads; }
    }

    [Fact]
    public void MismatchedDataIsRejectedUpFront()
    {
        var data = SyntheticData.Generate(SyntheticKind.Blobs, 20, 3, seed: 21);
        var options = new TrainingOptions(new OptimizerSpec());
        Assert.Throws<ArgumentException>(() => TrainingSession.Create(Mlp(3, 4, 3), options, data));
        Assert.Throws<ArgumentException>(() => TrainingSession.Create(Mlp(2, 4, 2), options, data));
        Assert.Throws<ArgumentException>(() => TrainingSession.Create(Mlp(2, 4, 3, LossKind.Mse), options, data));
    }
}
