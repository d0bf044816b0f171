using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels;

/// <summary>
/// Register-blocked micro-kernels: one MR×NR tile of C from a packed A sliver (kc×MR, row p holds
/// A[i0..i0+MR, p]) and a packed B sliver (kc×NR, row p holds B[p, j0..j0+NR]).
/// Every element is reduced as acc = fma(a, b, acc) for p = 0..kc-1 starting from zero, then
/// C = acc (<c>store</c>) or C = C + acc. Edge tiles use the same arithmetic through a scratch tile,
/// so an element's value never depends on which tile or thread computed it.
/// </summary>
internal static unsafe class GemmMicroKernel
{
    public const int Mr512 = 8, Nr512 = 32;
    public const int Mr256 = 6, Nr256 = 16;

    /// <summary>8×32 tile with 16 Vector512 accumulators (32 zmm registers leave room for B and the broadcast).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile8x32(float* a, float* b, int kc, float* c, int ldc, bool store)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector512<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var av = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(av, b0, c00); c01 = Vector512.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(av, b0, c10); c11 = Vector512.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(av, b0, c20); c21 = Vector512.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(av, b0, c30); c31 = Vector512.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(av, b0, c40); c41 = Vector512.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(av, b0, c50); c51 = Vector512.FusedMultiplyAdd(av, b1, c51);
            av = Vector512.Create(a[6]);
            c60 = Vector512.FusedMultiplyAdd(av, b0, c60); c61 = Vector512.FusedMultiplyAdd(av, b1, c61);
            av = Vector512.Create(a[7]);
            c70 = Vector512.FusedMultiplyAdd(av, b0, c70); c71 = Vector512.FusedMultiplyAdd(av, b1, c71);
            a += 8;
            b += 32;
        }
        Put(c, c00, c01, store); c += ldc;
        Put(c, c10, c11, store); c += ldc;
        Put(c, c20, c21, store); c += ldc;
        Put(c, c30, c31, store); c += ldc;
        Put(c, c40, c41, store); c += ldc;
        Put(c, c50, c51, store); c += ldc;
        Put(c, c60, c61, store); c += ldc;
        Put(c, c70, c71, store);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* c, Vector512<float> x0, Vector512<float> x1, bool store)
    {
        if (!store)
        {
            x0 += Vector512.Load(c);
            x1 += Vector512.Load(c + 16);
        }
        x0.Store(c);
        x1.Store(c + 16);
    }

    /// <summary>6×16 tile with 12 Vector256 accumulators: fits the 16 ymm registers of AVX2 machines.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile6x16(float* a, float* b, int kc, float* c, int ldc, bool store)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector256<float> c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var av = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(av, b0, c00); c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
            av = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(av, b0, c10); c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
            av = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(av, b0, c20); c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
            av = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(av, b0, c30); c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
            av = Vector256.Create(a[4]);
            c40 = Vector256.FusedMultiplyAdd(av, b0, c40); c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
            av = Vector256.Create(a[5]);
            c50 = Vector256.FusedMultiplyAdd(av, b0, c50); c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
            a += 6;
            b += 16;
        }
        Put(c, c00, c01, store); c += ldc;
        Put(c, c10, c11, store); c += ldc;
        Put(c, c20, c21, store); c += ldc;
        Put(c, c30, c31, store); c += ldc;
        Put(c, c40, c41, store); c += ldc;
        Put(c, c50, c51, store);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* c, Vector256<float> x0, Vector256<float> x1, bool store)
    {
        if (!store)
        {
            x0 += Vector256.Load(c);
            x1 += Vector256.Load(c + 8);
        }
        x0.Store(c);
        x1.Store(c + 8);
    }

    /// <summary>
    /// A partial tile (mr &lt; MR or nr &lt; NR): the full kernel writes to a scratch tile (the packed
    /// slivers are zero-padded), then only the valid part is merged with the same final add.
    /// </summary>
    [SkipLocalsInit]
    public static void Edge(in GemmKernel kernel, float* a, float* b, int kc, float* c, int ldc, int mr, int nr, bool store)
    {
        int nrFull = kernel.Nr;
        float* t = stackalloc float[MaxTile];
        kernel.Tile(a, b, kc, t, nrFull, true);
        for (int i = 0; i < mr; i++)
        {
            float* ci = c + (long)i * ldc;
            float* ti = t + i * nrFull;
            if (store)
                for (int j = 0; j < nr; j++) ci[j] = ti[j];
            else
                for (int j = 0; j < nr; j++) ci[j] += ti[j];
        }
    }

    private const int MaxTile = Mr512 * Nr512;
}

/// <summary>One micro-kernel choice: its tile shape and the full-tile routine.</summary>
internal readonly unsafe struct GemmKernel(int mr, int nr, delegate*<float*, float*, int, float*, int, bool, void> tile)
{
    public int Mr { get; } = mr;
    public int Nr { get; } = nr;
    public delegate*<float*, float*, int, float*, int, bool, void> Tile { get; } = tile;
}
