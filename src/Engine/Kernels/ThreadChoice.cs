using System.Collections.Concurrent;
using System.Diagnostics;

namespace Engine.Kernels;

/// <summary>
/// Whether splitting work across threads pays, decided per shape on the machine at hand: the first calls
/// of a shape (a product's m, n, k and flags; an element-wise pass's kind and length) alternate between one
/// thread and the split, timed, and the faster one is kept. Whether a second
/// core pays depends on the CPU (shared or private caches, wake-up latency, memory bandwidth) and on what else
/// runs there, so no constant can say it; the choice is measured again every <see cref="RecheckEvery"/> calls.
/// Both choices give the same bits, so the switching is invisible in the results.
/// </summary>
internal sealed class ThreadChoice
{
    /// <summary>Split work other than products (optimizer steps, gradient clearing, batch gathers, layer passes over samples), by <see cref="For(WorkKind, long, int)"/>.</summary>
    internal enum WorkKind { ParameterPass = 1, Gather = 2, ConvForward = 3, ConvBackward = 4, ConvBackwardInput = 5, Pooling = 6, Activation = 7 }

    // Set in the flags of non-product keys, so they never meet a product's.
    private const int WorkFlag = 1 << 30;

    /// <summary>Timed calls per option in one measuring round; the best of them counts, as other work only adds time.</summary>
    internal const int SamplesEach = 4;
    /// <summary>Calls of one round: an untimed warm-up call on the split, then the timed calls.</summary>
    internal const int RoundCalls = 1 + 2 * SamplesEach;
    internal const int RecheckEvery = 4096;

    private readonly record struct Key(int M, int N, int K, int Flags, int Threads);

    private static readonly ConcurrentDictionary<Key, ThreadChoice> Shapes = new();

    private readonly int _threads;
    private long _calls = -1;
    private long _bestOne = long.MaxValue, _bestSplit = long.MaxValue;
    private int _chosen;

    internal ThreadChoice(int threads) => (_threads, _chosen) = (threads, threads);

    /// <summary>The choice for one shape offered <paramref name="threads"/> threads (&gt; 1); made on first use.</summary>
    public static ThreadChoice For(int m, int n, int k, bool transA, bool transB, bool accumulate, Gemm.Path path, int threads)
    {
        int flags = (transA ? 1 : 0) | (transB ? 2 : 0) | (accumulate ? 4 : 0) | (int)path << 3;
        var key = new Key(m, n, k, flags, threads);
        return Shapes.TryGetValue(key, out var choice) ? choice : Shapes.GetOrAdd(key, static k => new ThreadChoice(k.Threads));
    }

    /// <summary>The choice for one kind of element-wise work over <paramref name="size"/> elements offered <paramref name="threads"/> threads.</summary>
    public static ThreadChoice For(WorkKind kind, long size, int threads)
    {
        var key = new Key((int)size, (int)(size >> 32), 0, WorkFlag | (int)kind, threads);
        return Shapes.TryGetValue(key, out var choice) ? choice : Shapes.GetOrAdd(key, static k => new ThreadChoice(k.Threads));
    }

    /// <summary>The choice for a layer's pass over a batch: its kind and a shape (<paramref name="m"/>, <paramref name="n"/>, <paramref name="k"/>) that tells layers apart.</summary>
    public static ThreadChoice For(WorkKind kind, int m, int n, int k, int threads)
    {
        var key = new Key(m, n, k, WorkFlag | (int)kind << 8, threads);
        return Shapes.TryGetValue(key, out var choice) ? choice : Shapes.GetOrAdd(key, static k => new ThreadChoice(k.Threads));
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the pool with this choice's thread count for the call (timing it when the
    /// call measures); <paramref name="chunksPerThread"/> chunks per thread when split, one chunk on one thread.
    /// </summary>
    public void Run(PoolWork work, int chunksPerThread)
    {
        int slot = -1, use = Gemm.ForceSplit ? _threads : Next(out slot);
        long start = slot >= 0 ? Stopwatch.GetTimestamp() : 0;
        WorkerPool.Run(work, use, use == 1 ? 1 : use * chunksPerThread);
        if (slot >= 0) Record(slot, Stopwatch.GetTimestamp() - start);
    }

    /// <summary>
    /// Runs <paramref name="work"/> as exactly <paramref name="chunks"/> chunks, on this choice's thread count for the
    /// call: for work whose results depend on the chunking (per-chunk partial sums), which must not follow the threads.
    /// </summary>
    public void RunChunks(PoolWork work, int chunks)
    {
        int slot = -1, use = Gemm.ForceSplit ? _threads : Next(out slot);
        long start = slot >= 0 ? Stopwatch.GetTimestamp() : 0;
        WorkerPool.Run(work, use, chunks);
        if (slot >= 0) Record(slot, Stopwatch.GetTimestamp() - start);
    }

    /// <summary>The thread count the shape's last finished round chose (its split until a round has finished), for benches.</summary>
    internal static int Chosen(int m, int n, int k, bool transA, bool transB, bool accumulate, int threads) =>
        Shapes.TryGetValue(new Key(m, n, k, (transA ? 1 : 0) | (transB ? 2 : 0) | (accumulate ? 4 : 0) | (int)Gemm.ActivePath << 3, threads), out var c)
            ? Volatile.Read(ref c._chosen) : threads;

    /// <summary>
    /// Threads for the next call, and its measuring slot: -1 for an untimed call, otherwise the slot to pass,
    /// with the call's elapsed ticks, to <see cref="Record"/>.
    /// </summary>
    public int Next(out int slot)
    {
        long call = Interlocked.Increment(ref _calls) % RecheckEvery;
        slot = -1;
        if (call >= RoundCalls) return Volatile.Read(ref _chosen);
        if (call == 0)
        {
            // A new round: the split runs once untimed (buffers, caches, waking the workers).
            lock (this) _bestOne = _bestSplit = long.MaxValue;
            return _threads;
        }
        slot = (int)call;
        // Then one thread and the split take turns.
        return call % 2 == 1 ? 1 : _threads;
    }

    /// <summary>Takes the elapsed ticks of a timed call; the round's last slot makes the choice.</summary>
    public void Record(int slot, long ticks)
    {
        lock (this)
        {
            if (slot % 2 == 1) _bestOne = Math.Min(_bestOne, ticks);
            else _bestSplit = Math.Min(_bestSplit, ticks);
            if (slot == RoundCalls - 1) Volatile.Write(ref _chosen, Decide(_bestOne, _bestSplit, _threads));
        }
    }

    /// <summary>
    /// The split is kept only when its best call beat one thread's best by more than 1/32: a tie is not worth
    /// holding a second core that other work (requests, another job) could use.
    /// </summary>
    internal static int Decide(long bestOne, long bestSplit, int threads) =>
        bestSplit + (bestSplit >> 5) < bestOne ? threads : 1;
}
