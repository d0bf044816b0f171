using Engine.Data;
using Engine.Specs;
using Engine.Training;
using static Engine.Tests.Training.TrainingStateTests;

namespace Engine.Tests.Training;

/// <summary>
/// A state saved between two batches of an epoch (what the service stores when a job yields its slot) continues in a
/// fresh session to the same weights and the same epoch metrics as a run that was never interrupted.
/// </summary>
[Collection("GemmThreads")]
public class MidEpochResumeTests
{
    // Wide enough that the matrix products are split over two threads when two are allowed; dropout and BatchNorm draw
    // from the network's RNG and carry running statistics, which the state must bring along mid-epoch too.
    private static readonly ModelSpec Spec = new([2],
        [new DenseSpec(64), new BatchNormSpec(), new ReluSpec(), new DropoutSpec(0.2f), new DenseSpec(16), new TanhSpec(), new DenseSpec(3)],
        LossKind.SoftmaxCrossEntropy);

    private static readonly Dataset Data = SyntheticData.Generate(SyntheticKind.Spirals, 120, 3, seed: 41);

    // 120 samples minus a 10 % split = 108: seven batches of 16, the last one short.
    private static TrainingOptions Options() => new(new OptimizerSpec(OptimizerKind.Adam, 0.01f),
        Epochs: 3, BatchSize: 16, Seed: 43, WeightDecay: 1e-3f, ClipNorm: 2f, ValidationSplit: 0.1f,
        Schedule: new ScheduleSpec(ScheduleKind.Cosine, WarmupEpochs: 1), EarlyStopping: new EarlyStoppingSpec(Patience: 10));

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 3)]
    [InlineData(1, 6)]
    [InlineData(2, 1)]
    [InlineData(2, 3)]
    [InlineData(2, 6)]
    public void BatchesTrainedSavedAndFinishedInAFreshSessionEqualTheUninterruptedRun(int threads, int batches)
    {
        OnThreads(threads, () =>
        {
            var (straight, straightMetrics) = Straight();

            var first = TrainingSession.Create(Spec, Options(), Data);
            var metrics = new List<EpochMetrics> { first.RunEpoch() };
            StopAfter(first, batches);
            var resumed = TrainingSession.Restore(first.SaveState(), Options(), Data);
            Assert.Equal(1, resumed.CompletedEpochs);
            Assert.Equal(batches, resumed.BatchesDoneInEpoch);
            metrics.AddRange(resumed.Run());

            SameBits(Weights(straight), Weights(resumed));
            SameMetrics(straightMetrics, metrics);
        });
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void YieldingSeveralTimesInOneEpochStillEqualsTheUninterruptedRun(int threads)
    {
        OnThreads(threads, () =>
        {
            var (straight, straightMetrics) = Straight();

            var session = TrainingSession.Create(Spec, Options(), Data);
            StopAfter(session, 2);
            session = TrainingSession.Restore(session.SaveState(), Options(), Data);
            StopAfter(session, 3);
            session = TrainingSession.Restore(session.SaveState(), Options(), Data);
            StopAfter(session, 1);
            session = TrainingSession.Restore(session.SaveState(), Options(), Data);
            Assert.Equal(6, session.BatchesDoneInEpoch);
            var metrics = session.Run();

            SameBits(Weights(straight), Weights(session));
            SameMetrics(straightMetrics, metrics);
        });
    }

    [Fact]
    public void CancelledBeforeTheFirstBatchOfAnEpochTheStateIsTheEpochStart()
    {
        var (straight, straightMetrics) = Straight();

        var session = TrainingSession.Create(Spec, Options(), Data);
        var metrics = new List<EpochMetrics> { session.RunEpoch() };
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => session.RunEpoch(cts.Token));
        Assert.Equal(0, session.BatchesDoneInEpoch);
        var resumed = TrainingSession.Restore(session.SaveState(), Options(), Data);
        metrics.AddRange(resumed.Run());

        SameBits(Weights(straight), Weights(resumed));
        SameMetrics(straightMetrics, metrics);
    }

    /// <summary>Trains <paramref name="batches"/> more batches of the current epoch and stops there, as a yield does.</summary>
    private static void StopAfter(TrainingSession session, int batches)
    {
        using var cts = new CancellationTokenSource();
        int stopAt = session.BatchesDoneInEpoch + batches;
        Assert.ThrowsAny<OperationCanceledException>(() => session.RunEpoch(cts.Token, p => { if (p.Batch == stopAt) cts.Cancel(); }));
        Assert.Equal(stopAt, session.BatchesDoneInEpoch);
    }

    private static (TrainingSession Session, IReadOnlyList<EpochMetrics> Metrics) Straight()
    {
        var s = TrainingSession.Create(Spec, Options(), Data);
        return (s, s.Run());
    }

    private static void OnThreads(int threads, Action test)
    {
        int saved = Kernels.Gemm.MaxThreads;
        Kernels.Gemm.MaxThreads = threads;
        try { test(); }
        finally { Kernels.Gemm.MaxThreads = saved; }
    }

    /// <summary>Every metric but the timings, to the bit.</summary>
    private static void SameMetrics(IReadOnlyList<EpochMetrics> expected, IReadOnlyList<EpochMetrics> actual)
    {
        static object Key(EpochMetrics m) => (m.Epoch, Bits(m.TrainLoss), Bits(m.TrainAccuracy), Bits(m.ValLoss), Bits(m.ValAccuracy),
            Bits(m.LearningRate), m.IsBest);
        static int? Bits(float? v) => v is { } f ? BitConverter.SingleToInt32Bits(f) : null;
        Assert.Equal(expected.Select(Key), actual.Select(Key));
    }
}
