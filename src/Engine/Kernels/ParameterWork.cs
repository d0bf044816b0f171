using Engine.Tensors;

namespace Engine.Kernels;

/// <summary>
/// Element-wise work over every parameter, split across the worker pool by element ranges: chunk c handles
/// the c-th range of each parameter. Every kind of such work (zeroing gradients, optimizer steps) uses the
/// same ranges, and the pool gives each thread its own share first, so a core keeps finding its range of
/// the weights, gradients and optimizer state in its own cache from one batch to the next.
/// </summary>
internal abstract class ParameterWork : PoolWork
{
    // ~15 µs of Adam per thread: below that, handing out chunks costs more than it saves.
    private const long ElementsPerThread = 1L << 16;
    // Range borders fall on whole cache lines, so two threads never write the same line.
    private const int Align = 16;

    private IReadOnlyList<Parameter>? _parameters;

    public void Run(IReadOnlyList<Parameter> ps)
    {
        long elements = 0;
        for (int i = 0; i < ps.Count; i++) elements += ps[i].Value.Length;
        int threads = (int)Math.Clamp(elements / ElementsPerThread, 1, Gemm.MaxThreads);
        _parameters = ps;
        try
        {
            // Whether the second core pays for a pass this short depends on the machine and its load: measured.
            if (threads == 1) WorkerPool.Run(this, 1, 1);
            else ThreadChoice.For(ThreadChoice.WorkKind.ParameterPass, elements, threads).Run(this, chunksPerThread: 2);
        }
        finally { _parameters = null; }
    }

    public sealed override void RunChunk(int chunk, int chunks)
    {
        var ps = _parameters!;
        for (int i = 0; i < ps.Count; i++)
        {
            int n = ps[i].Value.Length;
            int lo = Border(n, chunk, chunks), hi = Border(n, chunk + 1, chunks);
            if (hi > lo) Update(i, ps[i], lo, hi - lo);
        }
    }

    /// <summary>Handles elements [start, start + length) of parameter <paramref name="index"/>.</summary>
    protected abstract void Update(int index, Parameter p, int start, int length);

    private static int Border(int n, int c, int chunks) => c == chunks ? n : (int)((long)n * c / chunks) / Align * Align;
}
