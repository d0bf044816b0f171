using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Engine.Kernels;

/// <summary>
/// A tiny pool of persistent worker threads that split one product into chunks (disjoint, tile-aligned
/// blocks of C's rows or columns). Task/Parallel.For would allocate and add microseconds per call;
/// here a call posts a ticket to each worker it wants, then claims chunks itself like any worker.
/// Chunks are claimed, not assigned, so when another process holds a core the caller finishes the
/// stalled worker's share instead of waiting for it. Workers spin briefly between calls (training
/// issues products back to back) and then sleep on a monitor.
/// One product uses the pool at a time; a concurrent caller simply runs single-threaded, which gives
/// the same bits because chunks never change an element's reduction order.
/// </summary>
internal static class GemmPool
{
    private static readonly object Gate = new();
    private static readonly GemmJob Job = new();
    private static Worker[] s_workers = [];

    /// <summary>Products that really ran on more than one thread (lets tests see the split happen).</summary>
    internal static long ParallelRuns;

    // How long an idle worker keeps spinning for the next ticket before it blocks.
    private static readonly long SpinTicks = Stopwatch.Frequency / 5_000; // 200 µs

    /// <summary>Runs the product as <paramref name="chunks"/> chunks on up to <paramref name="threads"/> threads; false if the pool is busy.</summary>
    public static bool TryRun(in GemmProblem problem, in GemmKernel kernel, int threads, int chunks, bool splitN)
    {
        if (!Monitor.TryEnter(Gate)) return false;
        try
        {
            EnsureWorkers(threads - 1);
            ParallelRuns++;
            Job.Open(problem, kernel, chunks, splitN);
            for (int w = 0; w < threads - 1; w++) s_workers[w].Post();
            Job.Work();
            // The operands are pinned only for the caller's frame: every claimed chunk must finish.
            Job.WaitAndClose();
            return true;
        }
        finally
        {
            Monitor.Exit(Gate);
        }
    }

    private static void EnsureWorkers(int count)
    {
        if (s_workers.Length >= count) return;
        var grown = new Worker[count];
        Array.Copy(s_workers, grown, s_workers.Length);
        for (int w = s_workers.Length; w < count; w++) grown[w] = new Worker(w + 1);
        s_workers = grown;
    }

    private sealed class Worker
    {
        private readonly object _sleep = new();
        private int _posted, _seen;

        public Worker(int index) =>
            new Thread(Loop) { IsBackground = true, Name = $"gemm-worker-{index}" }.Start();

        public void Post()
        {
            lock (_sleep)
            {
                Volatile.Write(ref _posted, _posted + 1);
                Monitor.Pulse(_sleep);
            }
        }

        private void Loop()
        {
            Gemm.WorkerThreadStarted?.Invoke();
            while (true)
            {
                long deadline = Stopwatch.GetTimestamp() + SpinTicks;
                while (Volatile.Read(ref _posted) == _seen && Stopwatch.GetTimestamp() < deadline)
                    Thread.SpinWait(16);
                if (Volatile.Read(ref _posted) == _seen)
                    lock (_sleep)
                        while (_posted == _seen) Monitor.Wait(_sleep);
                _seen = Volatile.Read(ref _posted);
                // A late wake-up may find the product finished (nothing to claim) or even the next
                // one open (then its claims are legitimate work of that product).
                Job.Work();
            }
        }
    }

    /// <summary>The one product in flight; reused under <see cref="Gate"/> so calls allocate nothing.</summary>
    private sealed class GemmJob
    {
        // Claims are one 64-bit word: generation (32 bits) | chunk count (16) | next chunk (16).
        // A successful compare-and-swap therefore proves the claim belongs to the current product,
        // however late a worker woke up.
        public const int MaxChunks = ushort.MaxValue;
        private long _state;
        private int _done;
        private GemmProblem _problem;
        private GemmKernel _kernel;
        private bool _splitN;
        private ExceptionDispatchInfo? _error;

        public void Open(in GemmProblem problem, in GemmKernel kernel, int chunks, bool splitN)
        {
            _problem = problem;
            _kernel = kernel;
            _splitN = splitN;
            _error = null;
            _done = 0;
            long generation = (_state >>> 32) + 1;
            // Published last: a claimer that sees the new word also sees the fields above.
            Volatile.Write(ref _state, generation << 32 | (long)chunks << 16);
        }

        /// <summary>Claims and runs chunks until none are left.</summary>
        public void Work()
        {
            while (true)
            {
                long state = Volatile.Read(ref _state);
                int total = (int)(state >> 16) & 0xFFFF, next = (int)state & 0xFFFF;
                if (next >= total) return;
                if (Interlocked.CompareExchange(ref _state, state + 1, state) != state) continue;
                try { RunChunk(next, total); }
                catch (Exception e) { _error ??= ExceptionDispatchInfo.Capture(e); }
                Interlocked.Increment(ref _done);
            }
        }

        public void WaitAndClose()
        {
            int total = (int)(_state >> 16) & 0xFFFF;
            var spin = new SpinWait();
            while (Volatile.Read(ref _done) != total) spin.SpinOnce(sleep1Threshold: -1);
            _error?.Throw();
        }

        /// <summary>Chunk c of a contiguous, tile-aligned split of C's rows or columns.</summary>
        private void RunChunk(int chunk, int chunks)
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
}
