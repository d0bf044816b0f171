using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels;

/// <summary>
/// Packs operand panels into the micro-kernel's layout: slivers of R rows (MR of A or NR of B), each
/// stored kc×R so the kernel reads both operands with unit stride. Transposition is absorbed here:
/// a sliver is either "rows along R" (one contiguous copy per p) or "rows along p" (8×8 transposes).
/// Slivers are zero-padded to R so edge tiles can run the full kernel.
/// </summary>
internal static unsafe class GemmPack
{
    /// <summary>A block rows [i0, i0+mc) × cols [p0, p0+kc) of op(A) into ⌈mc/MR⌉ slivers of kc×MR.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(float* a, int lda, bool transA, int i0, int mc, int p0, int kc, int mr, float* dst)
    {
        for (int s = 0; s < mc; s += mr)
        {
            int rows = Math.Min(mr, mc - s);
            float* d = dst + (long)s * kc;
            if (transA) // A stored k×m: A(i, p) = a[p*lda + i], contiguous along i.
                PackAlongR(a + (long)p0 * lda + i0 + s, lda, rows, kc, mr, d);
            else        // A stored m×k: A(i, p) = a[i*lda + p], contiguous along p.
                PackAlongP(a + (long)(i0 + s) * lda + p0, lda, rows, kc, mr, d);
        }
    }

    /// <summary>B block rows [p0, p0+kc) × cols [j0, j0+nc) of op(B) into ⌈nc/NR⌉ slivers of kc×NR.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(float* b, int ldb, bool transB, int p0, int kc, int j0, int nc, int nr, float* dst)
    {
        for (int s = 0; s < nc; s += nr)
        {
            int cols = Math.Min(nr, nc - s);
            float* d = dst + (long)s * kc;
            if (transB) // B stored n×k: B(p, j) = b[j*ldb + p], contiguous along p.
                PackAlongP(b + (long)(j0 + s) * ldb + p0, ldb, cols, kc, nr, d);
            else        // B stored k×n: B(p, j) = b[p*ldb + j], contiguous along j.
                PackAlongR(b + (long)p0 * ldb + j0 + s, ldb, cols, kc, nr, d);
        }
    }

    /// <summary>dst[p*R + r] = src[p*ld + r] for r &lt; count, zero for count ≤ r &lt; R.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackAlongR(float* src, int ld, int count, int kc, int r, float* dst)
    {
        if (count == r && (r & 7) == 0)
        {
            for (int p = 0; p < kc; p++, src += ld, dst += r)
                for (int q = 0; q < r; q += 8)
                    Vector256.Store(Vector256.Load(src + q), dst + q);
            return;
        }
        for (int p = 0; p < kc; p++, src += ld, dst += r)
        {
            int q = 0;
            for (; q < count; q++) dst[q] = src[q];
            for (; q < r; q++) dst[q] = 0f;
        }
    }

    /// <summary>dst[p*R + r] = src[r*ld + p] for r &lt; count, zero for count ≤ r &lt; R.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackAlongP(float* src, int ld, int count, int kc, int r, float* dst)
    {
        int row = 0;
        if (Avx.IsSupported)
        {
            for (; row + 8 <= count; row += 8)
            {
                float* s = src + (long)row * ld;
                int p = 0;
                for (; p + 8 <= kc; p += 8)
                    Transpose8x8(s + p, ld, dst + (long)p * r + row, r);
                for (; p < kc; p++)
                    for (int t = 0; t < 8; t++)
                        dst[(long)p * r + row + t] = s[(long)t * ld + p];
            }
        }
        for (; row < count; row++)
        {
            float* s = src + (long)row * ld;
            for (int p = 0; p < kc; p++) dst[(long)p * r + row] = s[p];
        }
        for (; row < r; row++)
            for (int p = 0; p < kc; p++) dst[(long)p * r + row] = 0f;
    }

    /// <summary>Reads 8 rows of 8 (stride ld), writes the transpose as 8 rows of 8 (stride ldd).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* s, int ld, float* d, int ldd) =>
        Transpose8x8(Avx.LoadVector256(s), Avx.LoadVector256(s + ld), Avx.LoadVector256(s + 2L * ld), Avx.LoadVector256(s + 3L * ld),
            Avx.LoadVector256(s + 4L * ld), Avx.LoadVector256(s + 5L * ld), Avx.LoadVector256(s + 6L * ld), Avx.LoadVector256(s + 7L * ld), d, ldd);

    /// <summary>Writes the transpose of the 8×8 block whose rows are r0..r7 as 8 rows of 8 (stride ldd).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7, float* d, int ldd)
    {
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);

        var u0 = Avx.Shuffle(t0, t2, 0x44);
        var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44);
        var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44);
        var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44);
        var u7 = Avx.Shuffle(t5, t7, 0xEE);

        Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(d + ldd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(d + 2L * ldd, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(d + 3L * ldd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(d + 4L * ldd, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(d + 5L * ldd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(d + 6L * ldd, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(d + 7L * ldd, Avx.Permute2x128(u3, u7, 0x31));
    }
}
