using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels;

/// <summary>
/// A 3×3, stride 1, padding 1 convolution of one sample computed directly on a zero-padded copy of its planes, 16
/// output positions of a row at a time: for a first conv on one to three channels the column matrix would hold 9 to 27
/// rows, too few for the packed GEMM to pay for unfolding, packing and spreading the output back to NCHW.
/// </summary>
/// <remarks>
/// Rows are covered by 16-wide blocks, the last one moved back to end at the row's end (overlapping the one before),
/// so a row needs at least 16 positions. Forward writes the overlap twice with the same values; the weight gradient
/// masks the repeated positions out of its sums.
/// </remarks>
internal static unsafe class DirectConv3x3
{
    public const int Lanes = 16, Taps = 9;

    /// <summary>Whether the machine and a plane of this width can take the direct kernel.</summary>
    public static bool Fits(int width) => Vector512.IsHardwareAccelerated && width >= Lanes;

    /// <summary>Floats of one padded sample: every plane with a zero border of one.</summary>
    public static int PaddedLength(int channels, int height, int width) => channels * (height + 2) * (width + 2);

    /// <summary>Copies one sample's [C, H, W] into <paramref name="padded"/> with a one-wide zero border.</summary>
    public static void Pad(ReadOnlySpan<float> x, int channels, int height, int width, Span<float> padded)
    {
        int pw = width + 2, pp = (height + 2) * pw;
        padded[..PaddedLength(channels, height, width)].Clear();
        for (int c = 0; c < channels; c++)
            for (int h = 0; h < height; h++)
                x.Slice((c * height + h) * width, width).CopyTo(padded.Slice(c * pp + (h + 1) * pw + 1, width));
    }

    /// <summary>y[f, oh, ow] = Σ_c,i,j w[f, c, i, j]·x[c, oh + i − 1, ow + j − 1] (+ bias[f] added last), for one sample.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* padded, int channels, int height, int width, float* weight, float* bias, int filters, float* y)
    {
        int pw = width + 2, pp = (height + 2) * pw, plane = height * width, taps = channels * Taps;
        for (int oh = 0; oh < height; oh++)
            for (int ow = 0; ow < width; ow += Lanes)
            {
                if (ow > width - Lanes) ow = width - Lanes;
                float* at = padded + oh * pw + ow;
                float* ys = y + oh * width + ow;
                int f = 0;
                for (; f + 4 <= filters; f += 4)
                {
                    Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                    float* w0 = weight + f * taps;
                    for (int c = 0, t = 0; c < channels; c++)
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++, t++)
                            {
                                var v = Vector512.Load(at + c * pp + i * pw + j);
                                a0 = Vector512.FusedMultiplyAdd(Vector512.Create(w0[t]), v, a0);
                                a1 = Vector512.FusedMultiplyAdd(Vector512.Create(w0[taps + t]), v, a1);
                                a2 = Vector512.FusedMultiplyAdd(Vector512.Create(w0[2 * taps + t]), v, a2);
                                a3 = Vector512.FusedMultiplyAdd(Vector512.Create(w0[3 * taps + t]), v, a3);
                            }
                    Put(a0, bias, f, ys + f * plane);
                    Put(a1, bias, f + 1, ys + (f + 1) * plane);
                    Put(a2, bias, f + 2, ys + (f + 2) * plane);
                    Put(a3, bias, f + 3, ys + (f + 3) * plane);
                }
                for (; f < filters; f++)
                {
                    Vector512<float> a0 = default;
                    float* w0 = weight + f * taps;
                    for (int c = 0, t = 0; c < channels; c++)
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++, t++)
                                a0 = Vector512.FusedMultiplyAdd(Vector512.Create(w0[t]), Vector512.Load(at + c * pp + i * pw + j), a0);
                    Put(a0, bias, f, ys + f * plane);
                }
            }
    }

    /// <summary>
    /// <see cref="Forward"/> followed by a 2×2, stride 2 max pooling, without storing the convolution: two output rows at
    /// a time, each window's maximum (first on ties, first NaN; <see cref="WindowMax"/>) and its index in the unpooled
    /// sample, as the pooling layer writes them. The values are <see cref="Forward"/>'s to the bit, bias included. Both
    /// sides must be even, so every window is whole and the 16-wide blocks stay aligned on them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardPooled(float* padded, int channels, int height, int width, float* weight, float* bias, int filters,
        float* pooled, int* argmax)
    {
        int pw = width + 2, pp = (height + 2) * pw, plane = height * width, taps = channels * Taps;
        int outWidth = width / 2, outPlane = height / 2 * outWidth;
        for (int oh = 0; oh < height; oh += 2)
            for (int ow = 0; ow < width; ow += Lanes)
            {
                if (ow > width - Lanes) ow = width - Lanes; // even, as the width is: the windows stay aligned
                float* at = padded + oh * pw + ow;
                int top = oh * width + ow, o = oh / 2 * outWidth + ow / 2;
                int f = 0;
                for (; f + 4 <= filters; f += 4)
                {
                    Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                    Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
                    float* w0 = weight + f * taps;
                    for (int c = 0, t = 0; c < channels; c++)
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++, t++)
                            {
                                var v = Vector512.Load(at + c * pp + i * pw + j);
                                var u = Vector512.Load(at + c * pp + (i + 1) * pw + j);
                                var k0 = Vector512.Create(w0[t]);
                                var k1 = Vector512.Create(w0[taps + t]);
                                var k2 = Vector512.Create(w0[2 * taps + t]);
                                var k3 = Vector512.Create(w0[3 * taps + t]);
                                a0 = Vector512.FusedMultiplyAdd(k0, v, a0); b0 = Vector512.FusedMultiplyAdd(k0, u, b0);
                                a1 = Vector512.FusedMultiplyAdd(k1, v, a1); b1 = Vector512.FusedMultiplyAdd(k1, u, b1);
                                a2 = Vector512.FusedMultiplyAdd(k2, v, a2); b2 = Vector512.FusedMultiplyAdd(k2, u, b2);
                                a3 = Vector512.FusedMultiplyAdd(k3, v, a3); b3 = Vector512.FusedMultiplyAdd(k3, u, b3);
                            }
                    Pool(a0, b0, bias, f, width, top + f * plane, pooled + f * outPlane + o, argmax + f * outPlane + o);
                    Pool(a1, b1, bias, f + 1, width, top + (f + 1) * plane, pooled + (f + 1) * outPlane + o, argmax + (f + 1) * outPlane + o);
                    Pool(a2, b2, bias, f + 2, width, top + (f + 2) * plane, pooled + (f + 2) * outPlane + o, argmax + (f + 2) * outPlane + o);
                    Pool(a3, b3, bias, f + 3, width, top + (f + 3) * plane, pooled + (f + 3) * outPlane + o, argmax + (f + 3) * outPlane + o);
                }
                for (; f < filters; f++)
                {
                    Vector512<float> a0 = default, b0 = default;
                    float* w0 = weight + f * taps;
                    for (int c = 0, t = 0; c < channels; c++)
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++, t++)
                            {
                                var k0 = Vector512.Create(w0[t]);
                                a0 = Vector512.FusedMultiplyAdd(k0, Vector512.Load(at + c * pp + i * pw + j), a0);
                                b0 = Vector512.FusedMultiplyAdd(k0, Vector512.Load(at + c * pp + (i + 1) * pw + j), b0);
                            }
                    Pool(a0, b0, bias, f, width, top + f * plane, pooled + f * outPlane + o, argmax + f * outPlane + o);
                }
            }
    }

    private static Vector512<int> EvenLanes => Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14);
    private static Vector512<int> OddLanes => Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 1, 3, 5, 7, 9, 11, 13, 15);

    /// <summary>Eight windows from two rows of sixteen outputs, in the window order (0,0), (0,1), (1,0), (1,1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pool(Vector512<float> upper, Vector512<float> lower, float* bias, int f, int width, int top, float* pooled, int* argmax)
    {
        upper = Biased(upper, bias, f);
        lower = Biased(lower, bias, f);
        var best = Vector512.Shuffle(upper, EvenLanes).GetLower();
        var code = Vector256<int>.Zero;
        WindowMax.Take(Vector512.Shuffle(upper, OddLanes).GetLower(), Vector256.Create(1), ref best, ref code);
        WindowMax.Take(Vector512.Shuffle(lower, EvenLanes).GetLower(), Vector256.Create(width), ref best, ref code);
        WindowMax.Take(Vector512.Shuffle(lower, OddLanes).GetLower(), Vector256.Create(width + 1), ref best, ref code);
        best.Store(pooled);
        (Vector256.Create(top) + WindowMax.Tops8 + code).Store(argmax);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(Vector512<float> sum, float* bias, int f, float* y) => Biased(sum, bias, f).Store(y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Biased(Vector512<float> sum, float* bias, int f) => bias == null ? sum : sum + Vector512.Create(bias[f]);

    /// <summary>
    /// Adds one sample's weight-gradient terms dy[f, q]·x[c, q + tap] into <paramref name="sums"/>, one 16-lane vector per
    /// weight ([F, C, 3, 3] order), and, when <paramref name="biasSums"/> is given, the terms dy[f, q] into one vector per
    /// filter; the caller sums each vector's lanes once all its samples are in. <typeparamref name="TGrad"/> says where dy
    /// comes from: stored (<see cref="StoredGrad"/>) or rebuilt from a 2×2 max pooling's gradient (<see cref="PooledGrad"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AccumulateWeightGrad<TGrad>(float* padded, int channels, int height, int width, TGrad dy, int filters,
        Vector512<float>* sums, Vector512<float>* biasSums) where TGrad : struct, IOutputGrad<TGrad>
    {
        int pw = width + 2, pp = (height + 2) * pw, taps = channels * Taps;
        int tail = width - Lanes, repeated = Lanes - width % Lanes;
        var fresh = Vector512.GreaterThanOrEqual(Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Vector512.Create(repeated)).AsSingle();
        int f = 0;
        for (; f + 2 <= filters; f += 2)
            for (int c = 0; c < channels; c++)
            {
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default, a8 = default;
                Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default, b4 = default, b5 = default, b6 = default, b7 = default, b8 = default;
                Vector512<float> z0 = default, z1 = default;
                for (int oh = 0; oh < height; oh++)
                    for (int ow = 0; ow < width; ow += Lanes)
                    {
                        bool last = ow > tail;
                        if (last) ow = tail;
                        var d0 = dy.Row(f, oh, ow);
                        var d1 = dy.Row(f + 1, oh, ow);
                        if (last && repeated != Lanes)
                        {
                            d0 &= fresh;
                            d1 &= fresh;
                        }
                        z0 += d0;
                        z1 += d1;
                        // Written out rather than through a helper taking the sums by ref: the JIT then keeps them in memory, not registers.
                        float* x = padded + c * pp + oh * pw + ow;
                        var v = Vector512.Load(x);
                        a0 = Vector512.FusedMultiplyAdd(d0, v, a0); b0 = Vector512.FusedMultiplyAdd(d1, v, b0);
                        v = Vector512.Load(x + 1);
                        a1 = Vector512.FusedMultiplyAdd(d0, v, a1); b1 = Vector512.FusedMultiplyAdd(d1, v, b1);
                        v = Vector512.Load(x + 2);
                        a2 = Vector512.FusedMultiplyAdd(d0, v, a2); b2 = Vector512.FusedMultiplyAdd(d1, v, b2);
                        x += pw;
                        v = Vector512.Load(x);
                        a3 = Vector512.FusedMultiplyAdd(d0, v, a3); b3 = Vector512.FusedMultiplyAdd(d1, v, b3);
                        v = Vector512.Load(x + 1);
                        a4 = Vector512.FusedMultiplyAdd(d0, v, a4); b4 = Vector512.FusedMultiplyAdd(d1, v, b4);
                        v = Vector512.Load(x + 2);
                        a5 = Vector512.FusedMultiplyAdd(d0, v, a5); b5 = Vector512.FusedMultiplyAdd(d1, v, b5);
                        x += pw;
                        v = Vector512.Load(x);
                        a6 = Vector512.FusedMultiplyAdd(d0, v, a6); b6 = Vector512.FusedMultiplyAdd(d1, v, b6);
                        v = Vector512.Load(x + 1);
                        a7 = Vector512.FusedMultiplyAdd(d0, v, a7); b7 = Vector512.FusedMultiplyAdd(d1, v, b7);
                        v = Vector512.Load(x + 2);
                        a8 = Vector512.FusedMultiplyAdd(d0, v, a8); b8 = Vector512.FusedMultiplyAdd(d1, v, b8);
                    }
                var s = sums + f * taps + c * Taps;
                s[0] += a0; s[1] += a1; s[2] += a2; s[3] += a3; s[4] += a4; s[5] += a5; s[6] += a6; s[7] += a7; s[8] += a8;
                s += taps;
                s[0] += b0; s[1] += b1; s[2] += b2; s[3] += b3; s[4] += b4; s[5] += b5; s[6] += b6; s[7] += b7; s[8] += b8;
                if (c == 0 && biasSums != null)
                {
                    biasSums[f] += z0;
                    biasSums[f + 1] += z1;
                }
            }
        for (; f < filters; f++)
            for (int c = 0; c < channels; c++)
                for (int i = 0, t = 0; i < 3; i++)
                    for (int j = 0; j < 3; j++, t++)
                    {
                        Vector512<float> a = default, z = default;
                        for (int oh = 0; oh < height; oh++)
                            for (int ow = 0; ow < width; ow += Lanes)
                            {
                                bool last = ow > tail;
                                if (last) ow = tail;
                                var d0 = dy.Row(f, oh, ow);
                                if (last && repeated != Lanes) d0 &= fresh;
                                z += d0;
                                a = Vector512.FusedMultiplyAdd(d0, Vector512.Load(padded + c * pp + (oh + i) * pw + ow + j), a);
                            }
                        sums[f * taps + c * Taps + t] += a;
                        if (c == 0 && t == 0 && biasSums != null) biasSums[f] += z;
                    }
    }
}

/// <summary>A batch's output gradient as the weight gradient reads it: per sample, sixteen values at a time.</summary>
internal interface IOutputGrad<TSelf> where TSelf : struct, IOutputGrad<TSelf>
{
    /// <summary>The same gradient, at sample <paramref name="s"/> of the batch.</summary>
    TSelf Sample(int s);

    /// <summary>Filter <paramref name="f"/>, row <paramref name="oh"/>, columns from <paramref name="ow"/>, of the current sample.</summary>
    Vector512<float> Row(int f, int oh, int ow);
}

/// <summary>The output gradient as stored, [N, F, H, W].</summary>
internal readonly unsafe struct StoredGrad : IOutputGrad<StoredGrad>
{
    private readonly float* _dy;
    private readonly int _height, _width, _sampleLength;

    public StoredGrad(float* dy, int filters, int height, int width) : this(filters * height * width, dy, height, width) { }

    private StoredGrad(int sampleLength, float* dy, int height, int width)
    {
        _dy = dy;
        _height = height;
        _width = width;
        _sampleLength = sampleLength;
    }

    public StoredGrad Sample(int s) => new(_sampleLength, _dy + (long)s * _sampleLength, _height, _width);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Row(int f, int oh, int ow) => Vector512.Load(_dy + ((long)f * _height + oh) * _width + ow);
}

/// <summary>
/// The output gradient a 2×2, stride 2 max pooling would hand back, rebuilt from its gradient and argmax
/// (<see cref="DirectConv3x3.ForwardPooled"/>'s): each window's gradient where its maximum was, zero at the other three,
/// bit for bit as the pooling's backward writes it. <c>ow</c> must be even.
/// </summary>
internal readonly unsafe struct PooledGrad : IOutputGrad<PooledGrad>
{
    private readonly float* _grad;
    private readonly int* _argmax;
    private readonly int _height, _width, _sampleLength;

    public PooledGrad(float* grad, int* argmax, int filters, int height, int width)
        : this(filters * (height / 2) * (width / 2), grad, argmax, height, width) { }

    private PooledGrad(int sampleLength, float* grad, int* argmax, int height, int width)
    {
        _grad = grad;
        _argmax = argmax;
        _height = height;
        _width = width;
        _sampleLength = sampleLength;
    }

    public PooledGrad Sample(int s)
    {
        long offset = (long)s * _sampleLength;
        return new(_sampleLength, _grad + offset, _argmax + offset, _height, _width);
    }

    private static Vector512<int> Interleave => Vector512.Create(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Row(int f, int oh, int ow)
    {
        int top = (f * _height + (oh & ~1)) * _width + ow;
        int o = (f * (_height / 2) + (oh >> 1)) * (_width / 2) + (ow >> 1);
        var code = Vector256.Load(_argmax + o) - (Vector256.Create(top) + WindowMax.Tops8);
        var g = Vector256.Load(_grad + o);
        int left = (oh & 1) * _width;
        var even = g & Vector256.Equals(code, Vector256.Create(left)).AsSingle();
        var odd = g & Vector256.Equals(code, Vector256.Create(left + 1)).AsSingle();
        return Vector512.Shuffle(Vector512.Create(even, odd), Interleave);
    }
}
