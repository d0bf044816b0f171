using System.Buffers.Binary;
using System.Security.Cryptography;
using Engine.Data;
using Engine.Specs;
using Engine.Training;

namespace Engine.Tests.Training;

[Collection("GemmThreads")]
public class TrainingStateTests
{
    private static readonly ModelSpec Spec = new([2],
        [new DenseSpec(12), new BatchNormSpec(), new ReluSpec(), new DropoutSpec(0.2f), new DenseSpec(8), new TanhSpec(), new DenseSpec(3)],
        LossKind.SoftmaxCrossEntropy);

    // About 1 MB of state with Adam's moments, so copies of it show against the JSON and bookkeeping around them.
    private static readonly ModelSpec WideSpec = new([2],
        [new DenseSpec(256), new ReluSpec(), new DenseSpec(256), new ReluSpec(), new DenseSpec(3)], LossKind.SoftmaxCrossEntropy);

    private static readonly Dataset Data = SyntheticData.Generate(SyntheticKind.Spirals, 90, 3, seed: 30);

    // 90 samples minus a 10 % split = 81, so batches of 16 leave a short last batch.
    private static TrainingOptions Options(OptimizerKind kind = OptimizerKind.Adam) => new(new OptimizerSpec(kind, 0.01f),
        Epochs: 4, BatchSize: 16, Seed: 31, WeightDecay: 1e-3f, ClipNorm: 2f, ValidationSplit: 0.1f,
        Schedule: new ScheduleSpec(ScheduleKind.Cosine, WarmupEpochs: 1), EarlyStopping: new EarlyStoppingSpec(Patience: 10));

    /// <summary>The session's weights and buffers, copied: what two runs must have bit for bit.</summary>
    internal static float[][] Weights(TrainingSession s) =>
        [.. s.Network.Parameters.Select(p => p.Value.ToArray()), .. s.Network.Buffers.Select(b => b.Value.ToArray())];

    internal static void SameBits(float[][] expected, float[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.Equal(expected[i].Select(BitConverter.SingleToInt32Bits), actual[i].Select(BitConverter.SingleToInt32Bits));
    }

    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.AdamW)]
    [InlineData(OptimizerKind.Nesterov)]
    [InlineData(OptimizerKind.RmsProp)]
    public void TwoEpochsSavedAndRestoredThenTwoMoreEqualFourStraight(OptimizerKind kind)
    {
        var straight = TrainingSession.Create(Spec, Options(kind), Data);
        var straightMetrics = straight.Run();

        var first = TrainingSession.Create(Spec, Options(kind), Data);
        first.RunEpoch();
        first.RunEpoch();
        var resumed = TrainingSession.Restore(first.SaveState(), Options(kind), Data);
        Assert.Equal(2, resumed.CompletedEpochs);
        var rest = resumed.Run();

        SameBits(Weights(straight), Weights(resumed));
        Assert.Equal(straightMetrics.Skip(2).Select(m => (m.TrainLoss, m.ValLoss, m.IsBest)), rest.Select(m => (m.TrainLoss, m.ValLoss, m.IsBest)));
    }

    [Fact]
    public void StateSavedBetweenBatchesAfterCancellationResumesExactly()
    {
        var straight = TrainingSession.Create(Spec, Options(), Data);
        straight.Run();

        var interrupted = TrainingSession.Create(Spec, Options(), Data);
        interrupted.RunEpoch();
        using var cts = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => interrupted.RunEpoch(cts.Token, p => { if (p.Batch == 2) cts.Cancel(); }));
        var resumed = TrainingSession.Restore(interrupted.SaveState(), Options(), Data);
        var metrics = resumed.Run();

        Assert.Equal(2, metrics[0].Epoch);
        SameBits(Weights(straight), Weights(resumed));
    }

    [Fact]
    public void SameSeedGivesBitIdenticalWeightsOnOneOrTwoGemmThreads()
    {
        float[][] Train(int threads)
        {
            int saved = Kernels.Gemm.MaxThreads;
            Kernels.Gemm.MaxThreads = threads;
            try
            {
                var s = TrainingSession.Create(Spec with { Layers = [new DenseSpec(64), .. Spec.Layers] }, Options(), Data);
                s.Run();
                return Weights(s);
            }
            finally { Kernels.Gemm.MaxThreads = saved; }
        }
        SameBits(Train(1), Train(2));
    }

    [Fact]
    public void LoadNetworkGivesTheTrainedModelWithItsTransform()
    {
        var transform = new InputTransform(NormalizationKind.Standardize, [0.1f, -0.2f], [1.5f, 0.5f]);
        var data = new Dataset(Data.Features, [2], Data.Count, Data.Labels, null, 1, 3, transform);
        var session = TrainingSession.Create(Spec, Options() with { Epochs = 2 }, data);
        session.Run();
        byte[] state = session.SaveState();

        var net = TrainingState.LoadNetwork(state);
        Assert.Equal(Spec.Layers.Count, TrainingState.ReadSpec(state).Layers.Count);
        Assert.Equal(transform.Offset, net.Transform!.Offset);
        Assert.Equal(transform.Factor, net.Transform.Factor);
        float[] raw = [0.3f, -0.4f, 1f, 2f];
        Assert.Equal(session.Network.Predict(raw, 2), net.Predict(raw, 2));
        TrainingState.Verify(state);
    }

    /// <summary>
    /// A service saves a checkpoint every epoch, of megabytes for real models: after the first, the state is written
    /// into one buffer of its final size, not grown by doubling and copied out (three times its size, each epoch).
    /// </summary>
    [Fact]
    public void StatesAfterTheFirstAllocateLittleMoreThanThemselvesAndStillRestore()
    {
        var session = TrainingSession.Create(WideSpec, Options(), Data);
        session.RunEpoch();
        var first = session.SaveState();
        session.RunEpoch();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var second = session.SaveState();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(first.Length, second.Length);
        Assert.True(allocated < second.Length + 64 * 1024, $"{allocated} bytes allocated for a {second.Length}-byte state");
        SameBits(Weights(session), Weights(TrainingSession.Restore(second, Options(), Data)));
    }

    [Fact]
    public void RecycledStateIsOverwrittenByTheNextOneOfItsSizeWithoutAllocating()
    {
        var session = TrainingSession.Create(WideSpec, Options(), Data);
        session.RunEpoch();
        var first = session.SaveState();
        session.RecycleState(first);
        session.RunEpoch();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var second = session.SaveState(out var sha256);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Same(first, second);
        Assert.Equal(SHA256.HashData(second), sha256);
        Assert.True(allocated < 64 * 1024, $"{allocated} bytes allocated for a {second.Length}-byte state");
        SameBits(Weights(session), Weights(TrainingSession.Restore(second, Options(), Data)));

        // A spare of another size is left alone: the state gets an array of its own.
        var wrongSize = new byte[second.Length - 1];
        session.RecycleState(wrongSize);
        session.RunEpoch();
        var third = session.SaveState(out sha256);
        Assert.Equal(SHA256.HashData(third), sha256);
        Assert.NotSame(wrongSize, third);
        Assert.All(wrongSize, b => Assert.Equal(0, b));
        SameBits(Weights(session), Weights(TrainingSession.Restore(third, Options(), Data)));
    }

    [Fact]
    public void TruncatedStateIsRejected()
    {
        byte[] state = TrainedState();
        foreach (int length in new[] { 0, 10, 47, state.Length / 2, state.Length - 1 })
        {
            var e = Assert.Throws<InvalidTrainingStateException>(() => TrainingState.Verify(state.AsSpan(0, length)));
            Assert.Contains("truncated", e.Message);
        }
        Assert.Throws<InvalidTrainingStateException>(() => TrainingSession.Restore(state.AsSpan(0, state.Length - 40), Options(), Data));
    }

    [Fact]
    public void AnyFlippedBitIsRejected()
    {
        byte[] state = TrainedState();
        // Every 97th byte covers the header, every section and the checksum itself.
        for (int i = 0; i < state.Length; i += 97)
        {
            byte[] bad = [.. state];
            bad[i] ^= 0x10;
            Assert.Throws<InvalidTrainingStateException>(() => TrainingState.LoadNetwork(bad));
        }
    }

    [Fact]
    public void AnotherVersionIsRejectedByName()
    {
        byte[] state = TrainedState();
        BinaryPrimitives.WriteInt32LittleEndian(state.AsSpan(4), 2);
        var e = Assert.Throws<InvalidTrainingStateException>(() => TrainingState.Verify(state));
        Assert.Contains("version 2", e.Message);
        Assert.Throws<InvalidTrainingStateException>(() => TrainingState.Verify("not a state at all, just text padding it out"u8));
    }

    [Fact]
    public void ConsistentlyChecksummedButInconsistentContentIsStillRejected()
    {
        // Re-sign a blob whose weights section claims a wrong length: the checksum passes, the parser must not.
        byte[] state = TrainedState();
        int at = IndexOf(state, "PARM"u8) + 8 + 4; // tag, length, tensor count → first name's length
        state[at] ^= 0x01;
        SHA256.HashData(state.AsSpan(0, state.Length - 32), state.AsSpan(state.Length - 32));
        Assert.Throws<InvalidTrainingStateException>(() => TrainingState.Verify(state));
    }

    [Fact]
    public void RestoreRejectsOptionsThatChangeTheRun()
    {
        byte[] state = TrainedState();
        Assert.Throws<ArgumentException>(() => TrainingSession.Restore(state, Options() with { Seed = 99 }, Data));
        Assert.Throws<ArgumentException>(() => TrainingSession.Restore(state, Options(OptimizerKind.Sgd), Data));
        Assert.Throws<ArgumentException>(() => TrainingSession.Restore(state, Options(), SyntheticData.Generate(SyntheticKind.Spirals, 60, 3, 30)));
        // More epochs is allowed: extending a run.
        var longer = TrainingSession.Restore(state, Options() with { Epochs = 6 }, Data);
        Assert.Equal(4, longer.Run().Count);
    }

    private static byte[] TrainedState()
    {
        var s = TrainingSession.Create(Spec, Options(), Data);
        s.RunEpoch();
        s.RunEpoch();
        return s.SaveState();
    }

    private static int IndexOf(byte[] data, ReadOnlySpan<byte> needle) => data.AsSpan().IndexOf(needle);
}
