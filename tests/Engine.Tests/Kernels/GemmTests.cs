using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Engine.Kernels;

// Not "Engine.Tests.Kernels": that would shadow the `Kernels.Gemm` other test folders write.
namespace Engine.Tests.KernelTests;

/// <summary>These tests change Gemm.MaxThreads, so they run alone rather than beside other classes.</summary>
[CollectionDefinition(nameof(GemmCollection), DisableParallelization = true)]
public sealed class GemmCollection;

[Collection(nameof(GemmCollection))]
public class GemmTests
{
    // m, n, k: degenerate, primes, tile-exact and tile+1 edges, several k slices (> 256), several
    // row blocks (> 240), several column blocks (> 3072), tall/skinny, and the MLP's own shapes.
    public static readonly int[][] Shapes =
    [
        [1, 1, 1], [2, 3, 5], [7, 11, 13], [31, 37, 41], [33, 65, 129], [8, 32, 256], [9, 33, 257],
        [6, 16, 40], [12, 48, 300], [64, 300, 513], [500, 70, 300], [3, 3100, 40], [1000, 3, 17],
        [3, 1000, 17], [5, 7, 1000], [1, 200, 300], [17, 1, 23], [40, 50, 1], [128, 10, 128], [128, 256, 784],
    ];

    public static TheoryData<string, bool, bool, bool> PathsAndModes()
    {
        var data = new TheoryData<string, bool, bool, bool>();
        foreach (var path in AvailablePaths())
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    foreach (bool acc in new[] { false, true })
                        data.Add(path.ToString(), ta, tb, acc);
        return data;
    }

    private static IEnumerable<Gemm.Path> AvailablePaths()
    {
        if (Vector512.IsHardwareAccelerated) yield return Gemm.Path.Vector512;
        if (Vector256.IsHardwareAccelerated) yield return Gemm.Path.Vector256;
        yield return Gemm.Path.Simple;
    }

    [Theory]
    [MemberData(nameof(PathsAndModes))]
    public void MatchesDoublePrecisionReferenceWithinFloatRoundingBound(string path, bool transA, bool transB, bool accumulate)
    {
        var rng = new Random(HashCode.Combine(path, transA, transB, accumulate) & 0xffff);
        foreach (var s in Shapes)
        {
            var (a, b, c0) = Operands(rng, s[0], s[1], s[2], integers: false);
            var c = Run(Enum.Parse<Gemm.Path>(path), a, b, c0, s, transA, transB, accumulate);
            var (expected, bound) = Reference(a, b, c0, s, transA, transB, accumulate);
            // Rounding bound of a k-term float32 sum (any order, fused or not): (k+1)·ε·Σ|a||b| + ε·|C₀|.
            const double eps = 1.0 / (1 << 23);
            for (int i = 0; i < c.Length; i++)
            {
                double tol = (s[2] + 1) * eps * bound[i] + 1e-30;
                Assert.True(Math.Abs(c[i] - expected[i]) <= tol,
                    $"{s[0]}×{s[1]}×{s[2]} element {i}: {c[i]} vs {expected[i]} (tolerance {tol:G3})");
            }
        }
    }

    [Theory]
    [MemberData(nameof(PathsAndModes))]
    public void IsExactOnSmallIntegers(string path, bool transA, bool transB, bool accumulate)
    {
        // Small integers make every product and partial sum exact in float32, so any indexing,
        // packing or edge mistake shows up as an exact mismatch rather than hiding in a tolerance.
        var rng = new Random(7);
        foreach (var s in Shapes)
        {
            var (a, b, c0) = Operands(rng, s[0], s[1], s[2], integers: true);
            var c = Run(Enum.Parse<Gemm.Path>(path), a, b, c0, s, transA, transB, accumulate);
            var (expected, _) = Reference(a, b, c0, s, transA, transB, accumulate);
            for (int i = 0; i < c.Length; i++)
                Assert.True(c[i] == (float)expected[i], $"{s[0]}×{s[1]}×{s[2]} element {i}: {c[i]} vs {expected[i]}");
        }
    }

    [Theory]
    [InlineData(128, 256, 784, false, false, false)] // Dense forward, X·W
    [InlineData(128, 784, 256, false, true, false)]  // dX = dY·Wᵀ
    [InlineData(784, 256, 128, true, false, true)]   // dW += Xᵀ·dY
    [InlineData(97, 203, 311, true, true, false)]
    [InlineData(300, 41, 700, false, false, true)]
    public void GivesBitIdenticalResultsOnOneTwoAndThreeThreads(int m, int n, int k, bool transA, bool transB, bool accumulate)
    {
        int saved = Gemm.MaxThreads;
        // Every product split, whatever this machine measured for the shape.
        Gemm.ForceSplit = true;
        try
        {
            foreach (var path in AvailablePaths())
            {
                var (a, b, c0) = Operands(new Random(m + n + k), m, n, k, integers: false);
                int[] s = [m, n, k];
                Gemm.MaxThreads = 1;
                var one = Run(path, a, b, c0, s, transA, transB, accumulate);
                long before = WorkerPool.ParallelRuns;
                Gemm.MaxThreads = 2;
                var two = Run(path, a, b, c0, s, transA, transB, accumulate);
                if (path != Gemm.Path.Simple) Assert.True(WorkerPool.ParallelRuns > before, "the product did not split across threads");
                Gemm.MaxThreads = 3;
                var three = Run(path, a, b, c0, s, transA, transB, accumulate);
                Assert.Equal(Bits(one), Bits(two));
                Assert.Equal(Bits(one), Bits(three));
            }
        }
        finally
        {
            Gemm.MaxThreads = saved;
            Gemm.ForceSplit = false;
        }
    }

    [Fact]
    public void SteadyStateCallsAllocateNothingOnTheCallingThread()
    {
        int saved = Gemm.MaxThreads;
        try
        {
            var (a, b, c) = Operands(new Random(1), 128, 256, 784, integers: false);
            long before = 0;
            foreach (int threads in new[] { 1, 2 })
            {
                Gemm.MaxThreads = threads;
                // The three products of a Dense layer: a = X (128×784), b = W (784×256), c = Y or dY (128×256).
                // The first round warms up packing buffers and worker threads.
                for (int r = 0; r < 4; r++)
                {
                    if (r == 1) before = GC.GetAllocatedBytesForCurrentThread();
                    Gemm.Multiply(a, b, c, 128, 256, 784);
                    Gemm.Multiply(c, b, a, 128, 784, 256, transB: true);
                    Gemm.Multiply(a, c, b, 784, 256, 128, transA: true, accumulate: true);
                }
                Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            }
        }
        finally { Gemm.MaxThreads = saved; }
    }

    [Fact]
    public void ZeroDepthClearsOrKeepsCAndEmptyProductsTouchNothing()
    {
        var c = new[] { 1f, 2f, 3f, 4f, 5f, 6f };
        Gemm.Multiply([], [], c, 2, 3, 0, accumulate: true);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], c);
        Gemm.Multiply([], [], c, 2, 3, 0);
        Assert.All(c, v => Assert.Equal(0f, v));
        var untouched = new[] { 9f };
        Gemm.Multiply([1f, 2f], [], untouched, 0, 0, 2);
        Assert.Equal(9f, untouched[0]);
    }

    [Fact]
    public void RejectsNegativeSizesShortSpansAndOverlap()
    {
        var a = new float[6];
        var b = new float[12];
        var c = new float[8];
        Assert.Throws<ArgumentOutOfRangeException>("m", () => Gemm.Multiply(a, b, c, -1, 4, 3));
        Assert.Throws<ArgumentOutOfRangeException>("n", () => Gemm.Multiply(a, b, c, 2, -4, 3));
        Assert.Throws<ArgumentOutOfRangeException>("k", () => Gemm.Multiply(a, b, c, 2, 4, -3));
        var ea = Assert.Throws<ArgumentException>("a", () => Gemm.Multiply(a.AsSpan(0, 5), b, c, 2, 4, 3, transA: true));
        Assert.Contains("stored 3×2", ea.Message);
        var eb = Assert.Throws<ArgumentException>("b", () => Gemm.Multiply(a, b.AsSpan(0, 11), c, 2, 4, 3, transB: true));
        Assert.Contains("stored 4×3", eb.Message);
        Assert.Throws<ArgumentException>("c", () => Gemm.Multiply(a, b, c.AsSpan(0, 7), 2, 4, 3));
        var shared = new float[20];
        Assert.Throws<ArgumentException>("c", () => Gemm.Multiply(shared.AsSpan(0, 6), b, shared.AsSpan(4, 8), 2, 4, 3));
        Assert.Throws<ArgumentException>("c", () => Gemm.Multiply(a, shared.AsSpan(0, 12), shared.AsSpan(8, 8), 2, 4, 3));
        // Longer spans than needed are fine: only the leading m·k, k·n, m·n elements are used.
        Gemm.Multiply(new float[10], new float[20], new float[9], 2, 4, 3);
    }

    private static float[] Run(Gemm.Path path, float[] a, float[] b, float[] c0, int[] s,
        bool transA, bool transB, bool accumulate)
    {
        var c = (float[])c0.Clone();
        var saved = Gemm.ForcedPath;
        Gemm.ForcedPath = path;
        try { Gemm.Multiply(a, b, c, s[0], s[1], s[2], transA, transB, accumulate); }
        finally { Gemm.ForcedPath = saved; }
        return c;
    }

    private static (float[] A, float[] B, float[] C) Operands(Random rng, int m, int n, int k, bool integers)
    {
        float Next() => integers ? rng.Next(-3, 4) : (float)(rng.NextDouble() * 2 - 1);
        var a = new float[m * k];
        var b = new float[k * n];
        var c = new float[m * n];
        for (int i = 0; i < a.Length; i++) a[i] = Next();
        for (int i = 0; i < b.Length; i++) b[i] = Next();
        for (int i = 0; i < c.Length; i++) c[i] = Next();
        return (a, b, c);
    }

    /// <summary>C in double, and per element Σ|a||b| + |C₀| for the rounding bound.</summary>
    private static (double[] C, double[] Bound) Reference(float[] a, float[] b, float[] c0, int[] s,
        bool transA, bool transB, bool accumulate)
    {
        int m = s[0], n = s[1], k = s[2];
        var c = new double[m * n];
        var bound = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? c0[i * n + j] : 0, abs = accumulate ? Math.Abs(c0[i * n + j]) : 0;
                for (int p = 0; p < k; p++)
                {
                    double x = transA ? a[p * m + i] : a[i * k + p];
                    double y = transB ? b[j * k + p] : b[p * n + j];
                    sum += x * y;
                    abs += Math.Abs(x * y);
                }
                c[i * n + j] = sum;
                bound[i * n + j] = abs;
            }
        return (c, bound);
    }

    private static int[] Bits(float[] x) => MemoryMarshal.Cast<float, int>(x).ToArray();
}
