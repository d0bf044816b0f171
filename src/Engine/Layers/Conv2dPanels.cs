using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Engine.Kernels;

namespace Engine.Layers;

/// <summary>
/// Where the taps of a stride-1 "same" convolution read: tap (c, i, j) at output position q of a plane reads
/// x[c·plane + q + offset(i, j)] when mask(i, j)[q] is set, and zero where it would read the padding or wrap onto the
/// neighbouring row. The GEMM's packed panels are written from this directly, so the column matrix is never stored.
/// The writers read whole vectors and clear the lanes the mask rules out (masked loads measured slower), so the input
/// they read needs <see cref="Guard"/> readable floats before and after it.
/// </summary>
internal sealed unsafe class SameTaps
{
    /// <summary>Mask entries past the plane are zero, so a vector started inside the plane reads nothing past it.</summary>
    public const int Tail = 8;

    private readonly int[] _offsets;
    private readonly int[] _masks;

    public SameTaps(int height, int width, int kernel, int padding)
    {
        int plane = height * width, kk = kernel * kernel;
        Plane = plane;
        TapsPerChannel = kk;
        MaskStride = plane + Tail;
        Guard = (padding * width + padding + Tail + 15) / 16 * 16;
        _offsets = new int[kk];
        // Pinned: the panel writers hold raw pointers to the masks for the whole product.
        _masks = GC.AllocateArray<int>(kk * MaskStride, pinned: true);
        for (int i = 0; i < kernel; i++)
            for (int j = 0; j < kernel; j++)
            {
                int t = i * kernel + j;
                _offsets[t] = (i - padding) * width + (j - padding);
                for (int q = 0; q < plane; q++)
                {
                    int ih = q / width + i - padding, iw = q % width + j - padding;
                    _masks[t * MaskStride + q] = (uint)ih < (uint)height && (uint)iw < (uint)width ? -1 : 0;
                }
            }
    }

    public int Plane { get; }
    public int TapsPerChannel { get; }
    public int MaskStride { get; }
    public int Guard { get; }
    public int Offset(int tapInChannel) => _offsets[tapInChannel];
    public int* Masks => (int*)Unsafe.AsPointer(ref _masks[0]);

    /// <summary>Whether the machine has the 256-bit loads and transposes the panel writers use.</summary>
    public static bool Supported => Avx.IsSupported;

    /// <summary>
    /// col2im of one sample: dx[c, r] = Σ_t columns[(c·k·k + t)·ld + r − offset(t)] over the taps t whose read lands on r,
    /// summed from zero in tap order as the stored path's col2im adds them, so the bits are the same. <paramref name="columns"/>
    /// points at the sample's first position in the first row and needs <see cref="Guard"/> readable floats either side.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Fold(float* columns, long ld, int channels, float* dx)
    {
        int plane = Plane, kk = TapsPerChannel;
        // Tap t's row read at r − offset(t), which is where the turned-around tap reads, under that tap's mask.
        var src = stackalloc float*[kk];
        var mask = stackalloc int*[kk];
        var tail = stackalloc float[8];
        for (int c = 0; c < channels; c++)
        {
            for (int t = 0; t < kk; t++)
            {
                int read = kk - 1 - t;
                src[t] = columns + (c * kk + t) * ld + _offsets[read];
                mask[t] = Masks + read * MaskStride;
            }
            float* to = dx + c * plane;
            int r = 0;
            // Four vectors at a time: four independent sums, each still added in tap order.
            for (; r + 32 <= plane; r += 32)
            {
                Vector256<float> s0 = Vector256<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
                for (int t = 0; t < kk; t++)
                {
                    float* x = src[t] + r;
                    int* m = mask[t] + r;
                    s0 = Avx.Add(s0, Load(x, m));
                    s1 = Avx.Add(s1, Load(x + 8, m + 8));
                    s2 = Avx.Add(s2, Load(x + 16, m + 16));
                    s3 = Avx.Add(s3, Load(x + 24, m + 24));
                }
                Avx.Store(to + r, s0);
                Avx.Store(to + r + 8, s1);
                Avx.Store(to + r + 16, s2);
                Avx.Store(to + r + 24, s3);
            }
            for (; r < plane; r += 8)
            {
                var sum = Vector256<float>.Zero;
                for (int t = 0; t < kk; t++) sum = Avx.Add(sum, Load(src[t] + r, mask[t] + r));
                if (r + 8 <= plane) Avx.Store(to + r, sum);
                else
                {
                    // The plane's last vector would spill onto the next plane, which may be another thread's sample.
                    Avx.Store(tail, sum);
                    for (int e = 0; r + e < plane; e++) to[r + e] = tail[e];
                }
            }
        }
    }

    /// <summary>A vector of tap reads with the ruled-out lanes cleared.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(float* src, int* mask) => Avx.And(Avx.LoadVector256(src), Vector256.Load(mask).AsSingle());
}

/// <summary>
/// op(B) = the column matrix of the samples at <see cref="X"/> (with <see cref="SameTaps.Guard"/> readable floats either side) (rows: taps c·k·k + i·k + j; columns: the samples'
/// output positions side by side), written straight into the GEMM's packed panels: the forward product W·cols.
/// </summary>
internal unsafe struct ColumnPanels(SameTaps taps, float* x, int inWidth) : IPanelsB
{
    public readonly float* X = x;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void Pack(int p0, int kc, int j0, int nc, int nr, float* dst)
    {
        int plane = taps.Plane, kk = taps.TapsPerChannel, maskStride = taps.MaskStride;
        int* masks = taps.Masks;
        // Runs of a sliver's positions that fall in one sample.
        int maxRuns = nr / plane + 2;
        long* runSource = stackalloc long[maxRuns];
        int* runStart = stackalloc int[maxRuns], runLength = stackalloc int[maxRuns], runQ = stackalloc int[maxRuns];
        for (int s0 = 0; s0 < nc; s0 += nr)
        {
            int cols = Math.Min(nr, nc - s0), runs = 0;
            for (int r = 0, g = j0 + s0; r < cols; runs++)
            {
                int sample = g / plane, q = g - sample * plane, length = Math.Min(cols - r, plane - q);
                (runSource[runs], runStart[runs], runLength[runs], runQ[runs]) = ((long)sample * inWidth, r, length, q);
                r += length;
                g += length;
            }
            float* d = dst + (long)s0 * kc;
            int c = p0 / kk, t = p0 - c * kk;
            for (int p = 0; p < kc; p++)
            {
                float* row = d + (long)p * nr;
                float* source = X + c * plane + taps.Offset(t);
                int* mask = masks + t * maskStride;
                // A run's last vector may spill past it: the next run, the zero tail or the next row overwrites the spill.
                for (int u = 0; u < runs; u++)
                {
                    float* src = source + runSource[u] + runQ[u];
                    int* m = mask + runQ[u];
                    float* to = row + runStart[u];
                    for (int e = 0; e < runLength[u]; e += 8)
                        Avx.Store(to + e, SameTaps.Load(src + e, m + e));
                }
                for (int r = cols; r < nr; r++) row[r] = 0f;
                if (++t == kk) (t, c) = (0, c + 1);
            }
        }
    }
}

/// <summary>
/// op(B) = the transposed column matrix (rows: the samples' output positions; columns: taps), written straight into the
/// GEMM's packed panels through 8×8 transposes: the weight-gradient product dY·colsᵀ. <see cref="X"/> as for <see cref="ColumnPanels"/>.
/// </summary>
internal unsafe struct TransposedColumnPanels(SameTaps taps, float* x, int inWidth) : IPanelsB
{
    public readonly float* X = x;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void Pack(int p0, int kc, int j0, int nc, int nr, float* dst)
    {
        int plane = taps.Plane;
        var rows = stackalloc float*[8];
        var masks = stackalloc int*[8];
        for (int s0 = 0; s0 < nc; s0 += nr)
        {
            int tapCount = Math.Min(nr, nc - s0);
            float* d = dst + (long)s0 * kc;
            for (int p = 0; p < kc;)
            {
                int g = p0 + p, sample = g / plane, q = g - sample * plane, length = Math.Min(kc - p, plane - q);
                float* xs = X + (long)sample * inWidth;
                int r = 0;
                for (; r + 8 <= tapCount; r += 8)
                {
                    for (int u = 0; u < 8; u++) Locate(j0 + s0 + r + u, xs, q, out rows[u], out masks[u]);
                    int e = 0;
                    for (; e + 8 <= length; e += 8)
                        GemmPack.Transpose8x8(Load(rows[0], masks[0], e), Load(rows[1], masks[1], e), Load(rows[2], masks[2], e), Load(rows[3], masks[3], e),
                            Load(rows[4], masks[4], e), Load(rows[5], masks[5], e), Load(rows[6], masks[6], e), Load(rows[7], masks[7], e),
                            d + (long)(p + e) * nr + r, nr);
                    for (; e < length; e++)
                        for (int u = 0; u < 8; u++) d[(long)(p + e) * nr + r + u] = masks[u][e] != 0 ? rows[u][e] : 0f;
                }
                for (; r < tapCount; r++)
                {
                    Locate(j0 + s0 + r, xs, q, out float* src, out int* mask);
                    for (int e = 0; e < length; e++) d[(long)(p + e) * nr + r] = mask[e] != 0 ? src[e] : 0f;
                }
                p += length;
            }
            if (tapCount < nr)
                for (int p = 0; p < kc; p++)
                    for (int r = tapCount; r < nr; r++) d[(long)p * nr + r] = 0f;
        }
    }

    /// <summary>Tap <paramref name="tap"/>'s reads and mask from position <paramref name="q"/> of the sample at <paramref name="xs"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private readonly void Locate(int tap, float* xs, int q, out float* src, out int* mask)
    {
        int kk = taps.TapsPerChannel, c = tap / kk, t = tap - c * kk;
        src = xs + c * taps.Plane + taps.Offset(t) + q;
        mask = taps.Masks + t * taps.MaskStride + q;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Load(float* src, int* mask, int e) => SameTaps.Load(src + e, mask + e);
}
