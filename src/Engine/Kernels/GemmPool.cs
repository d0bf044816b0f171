using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Engine.Kernels;

/// <summary>
/// A tiny pool of persistent worker threads that split one product into parts (disjoint blocks of C).
/// Task/Parallel.For would allocate and add microseconds of latency per call; here a call posts a
/// ticket to each worker it needs, runs part 0 itself and spins until the others finish. Workers spin
/// briefly between calls (training issues products back to back) and then sleep on a monitor.
/// One product uses the pool at a time; a concurrent caller simply runs single-threaded, which gives
/// the same bits because parts never change an element's reduction order.
/// </summary>
internal static class GemmPool
{
    private static readonly object Gate = new();
    private static readonly GemmJob Job = new();
    private static Worker[] s_workers = [];
    private static int s_pending;

    /// <summary>Products that really ran on more than one thread (lets tests see the split happen).</summary>
    internal static long ParallelRuns;

    // How long an idle worker keeps spinning for the next ticket before it blocks.
    private static readonly long SpinTicks = Stopwatch.Frequency / 5_000; // 200 µs

    /// <summary>Runs the product in <paramref name="parts"/> parts; false if the pool is busy.</summary>
    public static bool TryRun(in GemmProblem problem, in GemmKernel kernel, int parts, bool splitN)
    {
        if (!Monitor.TryEnter(Gate)) return false;
        try
        {
            EnsureWorkers(parts - 1);
            ParallelRuns++;
            Job.Set(problem, kernel, parts, splitN);
            Volatile.Write(ref s_pending, parts - 1);
            for (int w = 0; w < parts - 1; w++) s_workers[w].Post(Job);

            ExceptionDispatchInfo? error = null;
            try { Job.RunPart(0); }
            catch (Exception e) { error = ExceptionDispatchInfo.Capture(e); }
            finally
            {
                // The operands are pinned only for the caller's frame: wait for every worker first.
                var spin = new SpinWait();
                while (Volatile.Read(ref s_pending) != 0) spin.SpinOnce(sleep1Threshold: -1);
            }
            error?.Throw();
            for (int w = 0; w < parts - 1; w++)
                if (s_workers[w].TakeError() is { } workerError) workerError.Throw();
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
        private readonly int _part;
        private readonly object _sleep = new();
        private int _posted, _seen;
        private GemmJob? _job;
        private ExceptionDispatchInfo? _error;

        public Worker(int part)
        {
            _part = part;
            new Thread(Loop) { IsBackground = true, Name = $"gemm-worker-{part}" }.Start();
        }

        public void Post(GemmJob job)
        {
            _job = job;
            lock (_sleep)
            {
                Volatile.Write(ref _posted, _posted + 1);
                Monitor.Pulse(_sleep);
            }
        }

        public ExceptionDispatchInfo? TakeError()
        {
            var e = _error;
            _error = null;
            return e;
        }

        private void Loop()
        {
            while (true)
            {
                long deadline = Stopwatch.GetTimestamp() + SpinTicks;
                while (Volatile.Read(ref _posted) == _seen && Stopwatch.GetTimestamp() < deadline)
                    Thread.SpinWait(16);
                if (Volatile.Read(ref _posted) == _seen)
                    lock (_sleep)
                        while (_posted == _seen) Monitor.Wait(_sleep);
                _seen = Volatile.Read(ref _posted);
                try { _job!.RunPart(_part); }
                catch (Exception e) { _error = ExceptionDispatchInfo.Capture(e); }
                Interlocked.Decrement(ref s_pending);
            }
        }
    }

    /// <summary>The one product in flight; reused under <see cref="Gate"/> so calls allocate nothing.</summary>
    private sealed class GemmJob
    {
        private GemmProblem _problem;
        private GemmKernel _kernel;
        private int _parts;
        private bool _splitN;

        public void Set(in GemmProblem problem, in GemmKernel kernel, int parts, bool splitN)
        {
            _problem = problem;
            _kernel = kernel;
            _parts = parts;
            _splitN = splitN;
        }

        /// <summary>Part p of a contiguous, tile-aligned split of C's rows or columns.</summary>
        public void RunPart(int part)
        {
            int unit = _splitN ? _kernel.Nr : _kernel.Mr;
            int extent = _splitN ? _problem.N : _problem.M;
            int tiles = (extent + unit - 1) / unit;
            int lo = Math.Min(extent, (int)((long)tiles * part / _parts) * unit);
            int hi = Math.Min(extent, (int)((long)tiles * (part + 1) / _parts) * unit);
            if (_splitN) GemmDriver.Run(_problem, _kernel, 0, _problem.M, lo, hi);
            else GemmDriver.Run(_problem, _kernel, lo, hi, 0, _problem.N);
        }
    }
}
