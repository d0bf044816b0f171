using System.Diagnostics;
using System.Numerics;
using System.Runtime.ExceptionServices;

namespace Engine.Kernels;

/// <summary>Work the pool splits into chunks; chunk <c>c</c> of <c>n</c> must touch only its own outputs.</summary>
internal abstract class PoolWork
{
    public abstract void RunChunk(int chunk, int chunks);
}

/// <summary>
/// A tiny pool of persistent worker threads for the engine's hot loops (matrix products, optimizer steps,
/// mini-batch gathers). Task/Parallel.For would allocate and add microseconds per call; here a call posts
/// a ticket to each worker it wants, then claims chunks itself like any worker.
/// Each thread first claims the chunks of its own share, so data stays in the core that used it last;
/// chunks are claimed, not assigned, so when another process holds a core the caller finishes the
/// stalled worker's share instead of waiting for it. Workers spin briefly between calls (training
/// issues them back to back) and then sleep on a monitor.
/// One call uses the pool at a time; a concurrent or nested caller (a chunk that calls a kernel) simply runs its
/// chunks itself, which gives the same bits because a chunking never changes what is computed for an element.
/// </summary>
internal static class WorkerPool
{
    private static readonly object Gate = new();
    private static readonly Job Current = new();
    private static Worker[] s_workers = [];

    /// <summary>Calls that really ran on more than one thread (lets tests see the split happen).</summary>
    internal static long ParallelRuns;

    // How long an idle worker keeps spinning for the next ticket before it blocks.
    private static readonly long SpinTicks = Stopwatch.Frequency / 5_000; // 200 µs

    /// <summary>
    /// Runs <paramref name="work"/> as <paramref name="chunks"/> chunks on up to <paramref name="threads"/>
    /// threads (the caller included); when the pool is busy or one thread is asked for, the caller runs
    /// every chunk itself in order.
    /// </summary>
    public static void Run(PoolWork work, int threads, int chunks)
    {
        chunks = Math.Min(chunks, Job.MaxChunks);
        threads = Math.Min(threads, chunks);
        // Not from inside a chunk of the call in flight: the gate is reentrant, and opening a call would replace that one.
        if (threads > 1 && !Monitor.IsEntered(Gate) && Monitor.TryEnter(Gate))
        {
            try
            {
                EnsureWorkers(threads - 1);
                ParallelRuns++;
                Current.Open(work, chunks, threads);
                for (int w = 0; w < threads - 1; w++) s_workers[w].Post();
                Current.Work(0);
                // The caller's operands may be pinned only for its frame: every claimed chunk must finish.
                Current.WaitAndClose();
                return;
            }
            finally
            {
                Monitor.Exit(Gate);
            }
        }
        for (int c = 0; c < chunks; c++) work.RunChunk(c, chunks);
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
        private readonly int _index;
        private int _posted, _seen;

        public Worker(int index)
        {
            _index = index;
            new Thread(Loop) { IsBackground = true, Name = $"engine-worker-{index}" }.Start();
        }

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
                // A late wake-up may find the call finished (nothing to claim) or even the next
                // one open (then its claims are legitimate work of that call).
                Current.Work(_index);
            }
        }
    }

    /// <summary>The one call in flight; reused under <see cref="Gate"/> so calls allocate nothing.</summary>
    private sealed class Job
    {
        // Claims are one 64-bit word: generation (32 bits) | one bit per unclaimed chunk (32). A successful
        // compare-and-swap therefore proves the claim belongs to the current call, however late a worker woke up.
        public const int MaxChunks = 32;
        private long _state;
        private int _chunks, _threads, _done;
        private PoolWork? _work;
        private ExceptionDispatchInfo? _error;

        public void Open(PoolWork work, int chunks, int threads)
        {
            _work = work;
            _error = null;
            _done = 0;
            _chunks = chunks;
            _threads = threads;
            long generation = (_state >>> 32) + 1;
            // Published last: a claimer that sees the new word also sees the fields above.
            Volatile.Write(ref _state, generation << 32 | (long)((1UL << chunks) - 1));
        }

        /// <summary>Claims and runs chunks until none are left; <paramref name="self"/> is 0 for the caller, w for worker w.</summary>
        public void Work(int self)
        {
            while (true)
            {
                long state = Volatile.Read(ref _state);
                uint open = (uint)state;
                if (open == 0) return;
                int chunk = Pick(open, self);
                if (Interlocked.CompareExchange(ref _state, state & ~(1L << chunk), state) != state) continue;
                try { _work!.RunChunk(chunk, _chunks); }
                catch (Exception e) { _error ??= ExceptionDispatchInfo.Capture(e); }
                Interlocked.Increment(ref _done);
            }
        }

        /// <summary>
        /// Thread t first takes the chunks of its own share (the t-th contiguous run), so consecutive calls that
        /// split the same arrays the same way find their part in the cache of the core that last touched it;
        /// then it helps with whatever is left, from the end, which is the part other threads reach last.
        /// </summary>
        private int Pick(uint open, int self)
        {
            int chunks = _chunks, threads = _threads;
            if (self < threads)
            {
                int lo = chunks * self / threads, hi = chunks * (self + 1) / threads;
                uint mine = open & (uint)(((1UL << (hi - lo)) - 1) << lo);
                if (mine != 0) return BitOperations.TrailingZeroCount(mine);
            }
            return 31 - BitOperations.LeadingZeroCount(open);
        }

        public void WaitAndClose()
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref _done) != _chunks) spin.SpinOnce(sleep1Threshold: -1);
            _work = null;
            _error?.Throw();
        }
    }
}
