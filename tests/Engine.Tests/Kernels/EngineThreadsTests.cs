using Engine.Kernels;

namespace Engine.Tests.KernelTests;

/// <summary><see cref="EngineThreads.Invoke"/>: the second action on an engine worker, kernels inside either still exact.</summary>
[Collection(nameof(GemmCollection))]
public class EngineThreadsTests : IDisposable
{
    private readonly int _savedThreads = Gemm.MaxThreads;

    // Two threads whatever the machine, as the service's two cores.
    public EngineThreadsTests() => Gemm.MaxThreads = 2;

    public void Dispose() => Gemm.MaxThreads = _savedThreads;

    [Fact]
    public void BothActionsRunAtOnceOnTwoThreadsOneOfThemAnEngineWorker()
    {
        // Each action waits for the other to arrive: only two threads running them at once get both past the barrier.
        using var barrier = new Barrier(2);
        var threads = new string?[2];
        var met = new bool[2];
        void Action(int i)
        {
            threads[i] = Thread.CurrentThread.Name ?? $"caller {Environment.CurrentManagedThreadId}";
            met[i] = barrier.SignalAndWait(TimeSpan.FromSeconds(30));
        }

        EngineThreads.Invoke(() => Action(0), () => Action(1));

        Assert.Equal([true, true], met);
        Assert.NotEqual(threads[0], threads[1]);
        Assert.Contains(threads, t => t!.StartsWith("engine-worker-", StringComparison.Ordinal));
    }

    [Fact]
    public void KernelsInsideEitherActionGiveTheSameBitsAsOutside()
    {
        // Large enough that a product on its own is split across both threads.
        const int m = 160, n = 160, k = 160;
        var a = Random(m * k, 1);
        var b = Random(k * n, 2);
        var expected = new float[m * n];
        Gemm.Multiply(a, b, expected, m, n, k);
        var first = new float[m * n];
        var second = new float[m * n];

        EngineThreads.Invoke(() => Gemm.Multiply(a, b, first, m, n, k), () => Gemm.Multiply(a, b, second, m, n, k));

        Assert.Equal(expected, first);
        Assert.Equal(expected, second);
        // And the pool is free again for a parallel call (split whatever this machine measured for the shape).
        long before = WorkerPool.ParallelRuns;
        Gemm.ForceSplit = true;
        try { Gemm.Multiply(a, b, first, m, n, k); }
        finally { Gemm.ForceSplit = false; }
        Assert.True(WorkerPool.ParallelRuns > before);
        Assert.Equal(expected, first);
    }

    [Fact]
    public void AnExceptionFromEitherActionReachesTheCaller()
    {
        Assert.Throws<InvalidOperationException>(() => EngineThreads.Invoke(() => { }, () => throw new InvalidOperationException("second")));
        Assert.Throws<InvalidOperationException>(() => EngineThreads.Invoke(() => throw new InvalidOperationException("first"), () => { }));
    }

    private static float[] Random(int length, int seed)
    {
        var rng = new System.Random(seed);
        var values = new float[length];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);
        return values;
    }
}
