using System.Runtime.InteropServices;
using Engine.Kernels;

namespace Engine.Tests.KernelTests;

/// <summary>
/// The per-shape choice between one thread and a split: made from the shape's own timed calls, re-measured
/// later, and invisible in the results. Timings are fed in, never asserted.
/// </summary>
[Collection(nameof(GemmCollection))]
public class ThreadChoiceTests
{
    [Fact]
    public void ARoundWarmsUpTheSplitThenAlternatesOneThreadAndTheSplitWithEveryCallTimed()
    {
        var choice = new ThreadChoice(threads: 2);
        var threads = new List<int>();
        var slots = new List<int>();
        for (int call = 0; call < ThreadChoice.RoundCalls; call++)
        {
            threads.Add(choice.Next(out int slot));
            slots.Add(slot);
            if (slot >= 0) choice.Record(slot, ticks: 100);
        }

        Assert.Equal([2, 1, 2, 1, 2, 1, 2, 1, 2], threads);
        Assert.Equal([-1, 1, 2, 3, 4, 5, 6, 7, 8], slots);
    }

    [Theory]
    [InlineData(1000, 600, 2)] // the split clearly faster: kept
    [InlineData(1000, 980, 1)] // within 1/32: not worth a second core
    [InlineData(1000, 1400, 1)] // the split slower: one thread
    public void TheRoundKeepsTheSplitOnlyWhenItsBestCallClearlyBeatsOneThreadsBest(long oneThread, long split, int expected)
    {
        var choice = new ThreadChoice(threads: 2);
        RunRound(choice, oneThread, split);

        for (int call = 0; call < 50; call++)
        {
            Assert.Equal(expected, choice.Next(out int slot));
            Assert.Equal(-1, slot);
        }
    }

    [Fact]
    public void TheChoiceIsMeasuredAgainAfterRecheckEveryCalls()
    {
        var choice = new ThreadChoice(threads: 2);
        RunRound(choice, oneThread: 1000, split: 1400);
        for (int call = ThreadChoice.RoundCalls; call < ThreadChoice.RecheckEvery; call++)
            Assert.Equal(1, choice.Next(out _));

        // The machine changed (the other core freed up): the next round finds the split faster, from fresh bests.
        RunRound(choice, oneThread: 1000, split: 550);

        Assert.Equal(2, choice.Next(out int after));
        Assert.Equal(-1, after);
    }

    [Fact]
    public void ProductsGiveTheSameBitsOnEveryCallOfARoundAndAfterTheChoice()
    {
        // A shape no other test uses, so its round starts here.
        const int m = 136, n = 264, k = 392;
        int saved = Gemm.MaxThreads;
        Gemm.MaxThreads = 2;
        try
        {
            var rng = new Random(3);
            var a = new float[m * k];
            var b = new float[k * n];
            for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() - 0.5);
            for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() - 0.5);
            var first = new float[m * n];
            Gemm.Multiply(a, b, first, m, n, k);
            var c = new float[m * n];
            for (int call = 1; call < ThreadChoice.RoundCalls + 4; call++)
            {
                c.AsSpan().Fill(float.NaN);
                Gemm.Multiply(a, b, c, m, n, k);
                Assert.Equal(Bits(first), Bits(c));
            }
            Assert.Contains(ThreadChoice.Chosen(m, n, k, false, false, false, threads: 2), new[] { 1, 2 });
        }
        finally { Gemm.MaxThreads = saved; }
    }

    private static void RunRound(ThreadChoice choice, long oneThread, long split)
    {
        for (int call = 0; call < ThreadChoice.RoundCalls; call++)
        {
            int threads = choice.Next(out int slot);
            // Noise on top of each option's best, as other processes would add.
            if (slot >= 0) choice.Record(slot, (threads == 1 ? oneThread : split) + 37 * (call % 3));
        }
    }

    private static int[] Bits(float[] x) => MemoryMarshal.Cast<float, int>(x).ToArray();
}
