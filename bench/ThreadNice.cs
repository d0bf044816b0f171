using Engine.Kernels;

namespace Bench;

/// <summary>
/// Runs the engine-alone side of a comparison at the service's training priority (<c>Training:Nice</c>, default 10),
/// so the ratio measures what the service adds, not how much more of a shared machine a nice-0 process gets.
/// </summary>
internal static class ThreadNice
{
    /// <summary>The nice the service gives its training threads: Training__Nice from this environment (it inherits it), else 10.</summary>
    public static int ServiceNice() =>
        int.TryParse(Environment.GetEnvironmentVariable("Training__Nice"), out var n) ? Math.Clamp(n, 0, 19) : 10;

    /// <summary>
    /// Lowers the engine's worker threads to <paramref name="nice"/> as they start; call before the engine's first
    /// parallel product in this process.
    /// </summary>
    public static void ForEngineWorkers(int nice)
    {
        if (nice > 0) Gemm.WorkerThreadStarted = () => LowerCurrentThread(nice);
    }

    /// <summary>Runs <paramref name="work"/> on a new thread at <paramref name="nice"/> and returns its result.</summary>
    public static T Run<T>(int nice, Func<T> work)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                LowerCurrentThread(nice);
                result = work();
            }
            catch (Exception e)
            {
                error = e;
            }
        }) { Name = "engine-alone" };
        thread.Start();
        thread.Join();
        if (error is not null) throw new InvalidOperationException("the engine-alone run failed", error);
        return result;
    }

    private static void LowerCurrentThread(int nice)
    {
        if (!OsThreadPriority.TryLowerCurrentThread(nice, out var failure)) throw new InvalidOperationException(failure);
    }
}
