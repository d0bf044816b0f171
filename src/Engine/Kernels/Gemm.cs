using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels;

/// <summary>
/// The engine's matrix product, row-major float32: C[m×n] = β·C + op(A)·op(B) with β ∈ {0, 1}.
/// op(A) is m×k (A stored k×m when <c>transA</c>), op(B) is k×n (B stored n×k when <c>transB</c>).
/// Every element of C is reduced over k in the same order whatever the thread count, so results
/// are bit-identical on 1 thread or all cores.
/// </summary>
/// <remarks>
/// Large products are packed and blocked for cache (<see cref="GemmDriver"/>) and run through a
/// Vector512 8×32 or Vector256 6×16 FMA micro-kernel, split by rows or columns of C across the engine's
/// <see cref="WorkerPool"/> for the shapes where the split measured faster on this machine
/// (<see cref="ThreadChoice"/>). Tiny products and single rows take plain vectorized loops, where packing
/// and threading cost more than they save; machines without 256-bit SIMD take those loops for everything.
/// </remarks>
public static class Gemm
{
    private static int _maxThreads = Environment.ProcessorCount;

    /// <summary>
    /// Threads the engine's hot loops may use (products, optimizer steps, mini-batch gathers; default: all
    /// cores). Results do not depend on it.
    /// </summary>
    public static int MaxThreads
    {
        get => _maxThreads;
        set => _maxThreads = Math.Clamp(value, 1, Environment.ProcessorCount * 4);
    }

    /// <summary>
    /// Runs on each thread of the engine's worker pool as it starts, before any work: a host uses it to
    /// give the workers the same treatment as its own compute threads (the service lowers their priority so
    /// requests are served before training). Set it at start-up: workers already started keep their settings.
    /// </summary>
    public static Action? WorkerThreadStarted { get; set; }

    internal enum Path { Auto, Vector512, Vector256, Simple }

    /// <summary>Forces one code path on the calling thread, so tests cover every kernel on any machine.</summary>
    internal static Path ForcedPath { get => t_forcedPath; set => t_forcedPath = value; }
    [ThreadStatic] private static Path t_forcedPath;

    /// <summary>Skips the measured thread choice on the calling thread, so tests see the split on any machine.</summary>
    internal static bool ForceSplit { get => t_forceSplit; set => t_forceSplit = value; }
    [ThreadStatic] private static bool t_forceSplit;

    // Measured: the packed kernel overtakes the simple loops between 6³ and 8³ and is ~10× faster at 32³.
    internal const long SmallWork = 6 * 6 * 6;
    // A single row above this many multiply-adds (~10 µs) is worth packing B for the micro-kernel.
    internal const long SingleRowWork = 1L << 20;
    // Below this many multiply-adds per thread (under a microsecond) no machine gains from waking another
    // thread; above it, whether a split pays is measured per shape (ThreadChoice).
    internal const long MinWorkPerThread = 1L << 16;
    // Two chunks per thread let the caller absorb part of a worker stalled by another process, but
    // each chunk re-packs the shared operand, so only chunks of at least this many tiles are split.
    private const int MinTilesPerChunk = 4;

    private static readonly unsafe GemmKernel Kernel512 =
        new(GemmMicroKernel.Mr512, GemmMicroKernel.Nr512, &GemmMicroKernel.Tile8x32);
    private static readonly unsafe GemmKernel Kernel256 =
        new(GemmMicroKernel.Mr256, GemmMicroKernel.Nr256, &GemmMicroKernel.Tile6x16);

    internal static Path ActivePath => ForcedPath != Path.Auto ? ForcedPath
        : Vector512.IsHardwareAccelerated ? Path.Vector512
        : Vector256.IsHardwareAccelerated ? Path.Vector256
        : Path.Simple;

    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int m, int n, int k, bool transA = false, bool transB = false, bool accumulate = false) =>
        Multiply(a, b, c, m, n, k, transA, transB, accumulate, split: true);

    /// <summary>
    /// <see cref="Multiply(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, bool, bool, bool)"/> on the
    /// calling thread alone: for kernels that already split their own work across the pool (same bits either way).
    /// </summary>
    internal static void MultiplyOnThisThread(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int m, int n, int k, bool transA = false, bool transB = false, bool accumulate = false) =>
        Multiply(a, b, c, m, n, k, transA, transB, accumulate, split: false);

    private static unsafe void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int m, int n, int k, bool transA, bool transB, bool accumulate, bool split)
    {
        Validate(a, b, c, m, n, k, transA, transB);
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) c[..(m * n)].Clear();
            return;
        }

        var path = ActivePath;
        long work = (long)m * n * k;
        // A single row of C (a vector–matrix product) reuses nothing of B, so packing B is pure overhead.
        if (path == Path.Simple || work <= SmallWork || m == 1 && work <= SingleRowWork)
        {
            Simple(a, b, c, m, n, k, transA, transB, accumulate);
            return;
        }

        var kernel = path == Path.Vector512 ? Kernel512 : Kernel256;
        fixed (float* pa = a, pb = b, pc = c)
        {
            var problem = new GemmProblem
            {
                A = pa, B = pb, C = pc, M = m, N = n, K = k,
                TransA = transA, TransB = transB, Accumulate = accumulate,
            };
            int mTiles = (m + kernel.Mr - 1) / kernel.Mr, nTiles = (n + kernel.Nr - 1) / kernel.Nr;
            int threads = split ? (int)Math.Min(_maxThreads, Math.Max(1, work / MinWorkPerThread)) : 1;
            // Split the dimension whose split duplicates less packing: splitting columns makes every
            // chunk pack all of A (m·k), splitting rows makes every chunk pack all of B (k·n).
            bool splitN = nTiles >= threads && (m <= n || mTiles < threads);
            int tiles = splitN ? nTiles : mTiles;
            threads = Math.Min(threads, tiles);
            if (threads == 1)
            {
                GemmDriver.Run(problem, kernel, 0, m, 0, n);
                return;
            }
            if (t_forceSplit)
            {
                Split(problem, kernel, splitN, threads, tiles);
                return;
            }
            var choice = ThreadChoice.For(m, n, k, transA, transB, accumulate, path, threads);
            int use = choice.Next(out int slot);
            long start = slot >= 0 ? Stopwatch.GetTimestamp() : 0;
            if (use == 1) GemmDriver.Run(problem, kernel, 0, m, 0, n);
            else Split(problem, kernel, splitN, use, tiles);
            if (slot >= 0) choice.Record(slot, Stopwatch.GetTimestamp() - start);
        }
    }

    /// <summary>
    /// C[m×n] = op(A)·B on the calling thread with B never stored: <paramref name="panels"/> writes its packed panels.
    /// The same bits as <see cref="MultiplyOnThisThread"/> on the stored B. False, with nothing done, when the product
    /// would take the unpacked loops instead: the caller then stores B and calls <see cref="MultiplyOnThisThread"/>.
    /// </summary>
    internal static unsafe bool TryMultiplyPanels<TPanels>(ReadOnlySpan<float> a, ref TPanels panels, Span<float> c,
        int m, int n, int k, bool transA = false) where TPanels : struct, IPanelsB
    {
        var path = ActivePath;
        long work = (long)m * n * k;
        if (path == Path.Simple || work <= SmallWork || m == 1 && work <= SingleRowWork || k == 0) return false;
        ArgumentOutOfRangeException.ThrowIfLessThan(a.Length, m * k, nameof(a));
        ArgumentOutOfRangeException.ThrowIfLessThan(c.Length, m * n, nameof(c));
        var kernel = path == Path.Vector512 ? Kernel512 : Kernel256;
        fixed (float* pa = a, pc = c)
        {
            var problem = new GemmProblem { A = pa, C = pc, M = m, N = n, K = k, TransA = transA };
            GemmDriver.Run(problem, kernel, 0, m, 0, n, ref panels);
        }
        return true;
    }

    private static void Split(in GemmProblem problem, in GemmKernel kernel, bool splitN, int threads, int tiles)
    {
        int chunks = Math.Clamp(tiles / MinTilesPerChunk, threads, 2 * threads);
        var split = t_split ??= new SplitProduct();
        split.Set(problem, kernel, splitN);
        WorkerPool.Run(split, threads, chunks);
    }

    [ThreadStatic] private static SplitProduct? t_split;

    /// <summary>One product as contiguous, tile-aligned chunks of C's rows or columns.</summary>
    private sealed class SplitProduct : PoolWork
    {
        private GemmProblem _problem;
        private GemmKernel _kernel;
        private bool _splitN;

        public void Set(in GemmProblem problem, in GemmKernel kernel, bool splitN) => (_problem, _kernel, _splitN) = (problem, kernel, splitN);

        public override void RunChunk(int chunk, int chunks)
        {
            int unit = _splitN ? _kernel.Nr : _kernel.Mr;
            int extent = _splitN ? _problem.N : _problem.M;
            int tiles = (extent + unit - 1) / unit;
            int lo = Math.Min(extent, (int)((long)tiles * chunk / chunks) * unit);
            int hi = Math.Min(extent, (int)((long)tiles * (chunk + 1) / chunks) * unit);
            if (_splitN) GemmDriver.Run(_problem, _kernel, 0, _problem.M, lo, hi);
            else GemmDriver.Run(_problem, _kernel, lo, hi, 0, _problem.N);
        }
    }

    private static void Validate(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int m, int n, int k, bool transA, bool transB)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        long aNeed = (long)m * k, bNeed = (long)k * n, cNeed = (long)m * n;
        if (a.Length < aNeed)
            throw new ArgumentException(
                $"a holds {a.Length} elements but op(A) is {m}×{k} (stored {(transA ? $"{k}×{m}" : $"{m}×{k}")}): {aNeed} needed.", nameof(a));
        if (b.Length < bNeed)
            throw new ArgumentException(
                $"b holds {b.Length} elements but op(B) is {k}×{n} (stored {(transB ? $"{n}×{k}" : $"{k}×{n}")}): {bNeed} needed.", nameof(b));
        if (c.Length < cNeed)
            throw new ArgumentException($"c holds {c.Length} elements but C is {m}×{n}: {cNeed} needed.", nameof(c));
        // C is written while A and B are still read: aliasing would silently give wrong results.
        var cUsed = c[..(int)cNeed];
        if (cNeed > 0 && (aNeed > 0 && cUsed.Overlaps(a[..(int)aNeed]) || bNeed > 0 && cUsed.Overlaps(b[..(int)bNeed])))
            throw new ArgumentException("c must not overlap a or b.", nameof(c));
    }

    /// <summary>
    /// Unpacked loops for tiny products, single rows and machines without wide SIMD: rows of C updated
    /// by vectorized AXPY (k outer), or dot products when B is transposed. Written out rather than
    /// calling TensorPrimitives, whose per-call cost dominates at these lengths.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Simple(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int m, int n, int k, bool transA, bool transB, bool accumulate)
    {
        if (!accumulate) c[..(m * n)].Clear();
        if (!transB)
        {
            for (int i = 0; i < m; i++)
            {
                var row = c.Slice(i * n, n);
                for (int p = 0; p < k; p++)
                    Axpy(transA ? a[p * m + i] : a[i * k + p], b.Slice(p * n, n), row);
            }
        }
        else if (!transA || m == 1)
        {
            for (int i = 0; i < m; i++)
            {
                var arow = a.Slice(i * k, k);
                for (int j = 0; j < n; j++) c[i * n + j] += Dot(arow, b.Slice(j * k, k));
            }
        }
        else
        {
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    float s = 0f;
                    for (int p = 0; p < k; p++) s = MathF.FusedMultiplyAdd(a[p * m + i], b[j * k + p], s);
                    c[i * n + j] += s;
                }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y)
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var va = new Vector<float>(alpha);
            for (; j <= x.Length - Vector<float>.Count; j += Vector<float>.Count)
                Vector.FusedMultiplyAdd(va, new Vector<float>(x[j..]), new Vector<float>(y[j..])).CopyTo(y[j..]);
        }
        for (; j < x.Length; j++) y[j] = MathF.FusedMultiplyAdd(alpha, x[j], y[j]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        int p = 0;
        float s = 0f;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            var acc = Vector<float>.Zero;
            for (; p <= x.Length - Vector<float>.Count; p += Vector<float>.Count)
                acc = Vector.FusedMultiplyAdd(new Vector<float>(x[p..]), new Vector<float>(y[p..]), acc);
            s = Vector.Sum(acc);
        }
        for (; p < x.Length; p++) s = MathF.FusedMultiplyAdd(x[p], y[p], s);
        return s;
    }
}
