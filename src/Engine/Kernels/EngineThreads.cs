namespace Engine.Kernels;

/// <summary>The engine's worker threads, lent to work beside a kernel-free task.</summary>
public static class EngineThreads
{
    /// <summary>
    /// Runs the two actions at once on the engine's threads, the calling thread and a worker claiming them as they claim a
    /// kernel's chunks, and returns when both are done (an exception from either is rethrown). Between epochs the worker
    /// is idle, still spinning and at the training's priority, where a thread-pool thread would first have to be woken.
    /// When the pool is busy or <see cref="Gemm.MaxThreads"/> is 1 both run on the calling thread, one after the other.
    /// Kernels called inside either run on that action's thread alone.
    /// </summary>
    public static void Invoke(Action first, Action second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        WorkerPool.Run(new Pair(first, second), threads: Math.Min(2, Gemm.MaxThreads), chunks: 2);
    }

    private sealed class Pair(Action first, Action second) : PoolWork
    {
        public override void RunChunk(int chunk, int chunks) => (chunk == 0 ? first : second)();
    }
}
