using Engine.Data;
using Engine.Kernels;
using Engine.Losses;
using Engine.Specs;
using Engine.Tensors;
using Engine.Training;

namespace Engine.Tests.KernelTests;

/// <summary>
/// The work the engine splits across its worker threads besides products (optimizer steps, mini-batch
/// gathers) gives the same bits on one thread or two, and really splits.
/// </summary>
[Collection(nameof(GemmCollection))]
public class ParallelSplitTests
{
    public static TheoryData<OptimizerKind> Kinds => [.. Enum.GetValues<OptimizerKind>()];

    [Theory, MemberData(nameof(Kinds))]
    public void OptimizerStepGivesTheSameBitsOnOneOrTwoThreads(OptimizerKind kind)
    {
        (float[][] Values, byte[] State) Train(int threads)
        {
            int saved = Gemm.MaxThreads;
            Gemm.MaxThreads = threads;
            // The split on every call, not only when the measured choice picks it.
            Gemm.ForceSplit = threads > 1;
            try
            {
                // An odd-sized weight, so chunk borders fall inside vectors and leave a scalar tail, and a bias.
                Parameter[] ps = [Random("w", 300_001, 1, decays: true), Random("b", 37, 2, decays: false)];
                var optimizer = Optimizer.Create(new OptimizerSpec(kind, 0.01f), weightDecay: 0.05f);
                long before = WorkerPool.ParallelRuns;
                for (int step = 0; step < 3; step++)
                {
                    for (int i = 0; i < ps.Length; i++) Fill(ps[i].Grad, (ulong)(10 * step + i + 3));
                    optimizer.Step(ps);
                }
                Assert.Equal(threads > 1, WorkerPool.ParallelRuns > before);
                using var state = new MemoryStream();
                optimizer.WriteState(state);
                return ([.. ps.Select(p => p.Value)], state.ToArray());
            }
            finally
            {
                Gemm.MaxThreads = saved;
                Gemm.ForceSplit = false;
            }
        }

        var one = Train(1);
        var two = Train(2);
        for (int i = 0; i < one.Values.Length; i++) Assert.Equal(Bits(one.Values[i]), Bits(two.Values[i]));
        Assert.Equal(one.State, two.State);
    }

    [Theory, MemberData(nameof(Kinds))]
    public void AStepThatClearsGradientsLeavesThemZeroAndStepsTheSameBits(OptimizerKind kind)
    {
        (float[] Value, float[] Grad) Step(bool clears)
        {
            // Longer than the step's block, with a tail, so blocks and the remainder are both cleared.
            var p = Random("w", 10_007, 4, decays: true);
            var optimizer = Optimizer.Create(new OptimizerSpec(kind, 0.01f), weightDecay: 0.05f);
            optimizer.ClearsGradients = clears;
            for (int step = 0; step < 2; step++)
            {
                Fill(p.Grad, (ulong)(step + 11));
                optimizer.Step([p]);
            }
            return (p.Value, p.Grad);
        }

        var kept = Step(clears: false);
        var cleared = Step(clears: true);
        Assert.Equal(Bits(kept.Value), Bits(cleared.Value));
        Assert.All(cleared.Grad, g => Assert.Equal(0f, g));
        Assert.Contains(kept.Grad, g => g != 0f);
    }

    [Fact]
    public void GatherCopiesEveryRequestedRowInOrderOnTwoThreads()
    {
        const int count = 3000, features = 97;
        var x = new float[count * features];
        Fill(x, 5);
        var data = new Dataset(x, [features], count, new int[count], null, 1, 2);
        var order = Enumerable.Range(0, count).ToArray();
        new Rng(6).Shuffle(order);
        var indices = order.AsSpan(100, 1500);

        int saved = Gemm.MaxThreads;
        Gemm.MaxThreads = 2;
        try
        {
            var destination = new float[indices.Length * features];
            long before = WorkerPool.ParallelRuns;
            Gemm.ForceSplit = true;
            try { data.CopySamples(indices, destination); }
            finally { Gemm.ForceSplit = false; }
            Assert.True(WorkerPool.ParallelRuns > before, "the gather did not split");
            for (int r = 0; r < indices.Length; r++)
                Assert.Equal(data.Sample(indices[r]).ToArray(), destination.AsSpan(r * features, features).ToArray());

            int[] bad = [0, count];
            Assert.Throws<ArgumentOutOfRangeException>(() => data.CopySamples(bad, destination));
        }
        finally { Gemm.MaxThreads = saved; }
    }

    [Fact]
    public void SoftmaxCrossEntropyGivesTheSameBitsForClassIndicesAndOneHotRows()
    {
        const int rows = 64, classes = 10;
        var logits = new Tensor(rows, classes);
        Fill(logits.Span, 8, scale: 4f);
        var labels = new int[rows];
        var oneHot = new float[rows * classes];
        var rng = new Rng(9);
        for (int r = 0; r < rows; r++)
        {
            labels[r] = (int)(rng.NextSingle() * classes) % classes;
            oneHot[r * classes + labels[r]] = 1f;
        }

        var byIndex = new SoftmaxCrossEntropy();
        var byRow = new SoftmaxCrossEntropy();
        float lossIndex = byIndex.Forward(logits, Targets.FromLabels(labels));
        float lossRow = byRow.Forward(logits, Targets.FromRows(oneHot, classes));

        Assert.Equal(BitConverter.SingleToInt32Bits(lossRow), BitConverter.SingleToInt32Bits(lossIndex));
        Assert.Equal(Bits(byRow.Backward().Span.ToArray()), Bits(byIndex.Backward().Span.ToArray()));
        Assert.Equal(byRow.CountCorrect(logits, Targets.FromRows(oneHot, classes)), byIndex.CountCorrect(logits, Targets.FromLabels(labels)));
        labels[3] = classes;
        Assert.Throws<ArgumentException>(() => byIndex.Forward(logits, Targets.FromLabels(labels)));
    }

    private static Parameter Random(string name, int n, ulong seed, bool decays)
    {
        var p = new Parameter(name, [n], decays);
        Fill(p.Value, seed);
        return p;
    }

    private static void Fill(Span<float> a, ulong seed, float scale = 1f)
    {
        var rng = new Rng(seed);
        for (int i = 0; i < a.Length; i++) a[i] = scale * rng.NextGaussian();
    }

    private static int[] Bits(float[] a) => [.. a.Select(BitConverter.SingleToInt32Bits)];
}
