using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Engine.Kernels;

/// <summary>The operands of one product, as raw pointers pinned by the caller for its duration.</summary>
internal unsafe struct GemmProblem
{
    public float* A, B, C;
    public int M, N, K;
    public bool TransA, TransB, Accumulate;

    public readonly int Lda => TransA ? M : K;
    public readonly int Ldb => TransB ? K : N;
}

/// <summary>
/// Goto/BLIS-style blocked product over a sub-rectangle of C: loop over nc-wide column blocks, kc-deep
/// slices of k (B panel packed once per slice), mc-tall row blocks (A block packed, kept in L2), then
/// NR-wide B slivers (kept in L1) × MR-tall A slivers through the micro-kernel.
/// The k slicing depends only on K, so every element sees the same reduction order whatever
/// sub-rectangle (thread) it falls in.
/// </summary>
// Hot loops are fully optimized from the first call: tiering would run them unoptimized for the
// first ~100 ms of a process, which is a whole benchmark or a short training job.
internal static unsafe class GemmDriver
{
    // kc×NR floats of B (32 KiB at 256×32) stay in the 48 KiB L1; mc×kc of A (≤ 240 KiB) in the 1 MiB L2.
    internal const int KcMax = 256, McMax = 240, NcMax = 3072;

    /// <summary>Floats a panel source may write past the panel's end (one Vector512).</summary>
    internal const int PanelSlack = 16;

    [ThreadStatic] private static float[]? t_packA, t_packB;

    /// <summary>Depth of each k slice: the slices are balanced so no slice is a tiny remainder.</summary>
    public static int SliceDepth(int k)
    {
        int slices = (k + KcMax - 1) / KcMax;
        return (k + slices - 1) / slices;
    }

    private static int BlockSize(int extent, int max, int unit)
    {
        int blocks = (extent + max - 1) / max;
        int size = (extent + blocks - 1) / blocks;
        return (size + unit - 1) / unit * unit;
    }

    public static void Run(in GemmProblem g, in GemmKernel kernel, int i0, int i1, int j0, int j1)
    {
        var panels = new StoredPanels(g.B, g.Ldb, g.TransB);
        Run(g, kernel, i0, i1, j0, j1, ref panels);
    }

    /// <summary>The product with op(B)'s panels written by <paramref name="panels"/> (g.B is not read).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TPanels>(in GemmProblem g, in GemmKernel kernel, int i0, int i1, int j0, int j1, ref TPanels panels)
        where TPanels : struct, IPanelsB
    {
        int mr = kernel.Mr, nr = kernel.Nr;
        int rows = i1 - i0, cols = j1 - j0;
        if (rows <= 0 || cols <= 0) return;
        int kcMax = SliceDepth(g.K);
        int mcMax = BlockSize(rows, McMax, mr);
        int ncMax = BlockSize(cols, NcMax, nr);

        float* packA = Buffer(ref t_packA, (long)mcMax * kcMax);
        // A panel source may write whole vectors past a sliver's end: the slack keeps the last one inside the buffer.
        float* packB = Buffer(ref t_packB, (long)ncMax * kcMax + PanelSlack);
        int lda = g.Lda, ldc = g.N;

        for (int jc = j0; jc < j1; jc += ncMax)
        {
            int nc = Math.Min(ncMax, j1 - jc);
            for (int pc = 0; pc < g.K; pc += kcMax)
            {
                int kc = Math.Min(kcMax, g.K - pc);
                bool store = pc == 0 && !g.Accumulate;
                panels.Pack(pc, kc, jc, nc, nr, packB);
                for (int ic = i0; ic < i1; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, i1 - ic);
                    GemmPack.PackA(g.A, lda, g.TransA, ic, mc, pc, kc, mr, packA);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int nrEff = Math.Min(nr, nc - jr);
                        float* bs = packB + (long)jr * kc;
                        float* cCol = g.C + jc + jr;
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            int mrEff = Math.Min(mr, mc - ir);
                            float* cTile = cCol + (long)(ic + ir) * ldc;
                            float* aSliver = packA + (long)ir * kc;
                            if (mrEff == mr && nrEff == nr)
                                kernel.Tile(aSliver, bs, kc, cTile, ldc, store);
                            else
                                GemmMicroKernel.Edge(kernel, aSliver, bs, kc, cTile, ldc, mrEff, nrEff, store);
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// A per-thread packing buffer, 64-byte aligned inside a pinned array that only ever grows,
    /// so steady-state calls allocate nothing.
    /// </summary>
    private static float* Buffer(ref float[]? cache, long floats)
    {
        const int AlignFloats = 16;
        long needed = floats + AlignFloats;
        if (cache is null || cache.Length < needed)
        {
            long size = Math.Max(needed, cache is null ? 0 : cache.Length * 2L);
            cache = GC.AllocateUninitializedArray<float>(checked((int)size), pinned: true);
        }
        // The array lives on the pinned object heap, so the address is stable without `fixed`.
        float* p = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(cache));
        return (float*)(((nint)p + 63) & ~(nint)63);
    }
}

/// <summary>
/// Writes op(B) rows [p0, p0+kc) × columns [j0, j0+nc) as ⌈nc/nr⌉ zero-padded slivers of kc×nr (<see cref="GemmPack.PackB"/>'s
/// layout), from wherever B's values come from: a stored matrix, or an operand the caller never materializes.
/// It may write up to <see cref="GemmDriver.PanelSlack"/> floats past a sliver's row as long as a later row or sliver overwrites them.
/// </summary>
internal unsafe interface IPanelsB
{
    void Pack(int p0, int kc, int j0, int nc, int nr, float* dst);
}

/// <summary>op(B) read from a stored row-major matrix.</summary>
internal readonly unsafe struct StoredPanels(float* b, int ldb, bool transB) : IPanelsB
{
    public void Pack(int p0, int kc, int j0, int nc, int nr, float* dst) => GemmPack.PackB(b, ldb, transB, p0, kc, j0, nc, nr, dst);
}
