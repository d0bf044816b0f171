using System.Numerics;

namespace Engine.Layers;

/// <summary>
/// The one element-wise operation TensorPrimitives lacks: a per-element select on sign, which ReLU and
/// LeakyReLU need for their gradient (and LeakyReLU for its forward, where max(x, αx) would be wrong for α &gt; 1).
/// </summary>
internal static class SpanMath
{
    /// <summary>destination[i] = gate[i] &gt; 0 ? value[i] : negativeScale·value[i]. Spans may alias destination.</summary>
    public static void SelectPositive(ReadOnlySpan<float> gate, ReadOnlySpan<float> value, float negativeScale, Span<float> destination)
    {
        if (gate.Length != value.Length || destination.Length < value.Length) throw new ArgumentException("Span lengths differ.");
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var scale = new Vector<float>(negativeScale);
            for (; i <= value.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var g = new Vector<float>(gate[i..]);
                var v = new Vector<float>(value[i..]);
                Vector.ConditionalSelect(Vector.GreaterThan(g, Vector<float>.Zero), v, v * scale).CopyTo(destination[i..]);
            }
        }
        for (; i < value.Length; i++) destination[i] = gate[i] > 0 ? value[i] : negativeScale * value[i];
    }
}

/// <summary>
/// BatchNorm's per-row chains, each fused into one pass over the row with the same float operations in
/// the same order as the TensorPrimitives chain it replaces (so results are unchanged): at typical widths
/// the per-call overhead of three or four short calls per row cost more than the arithmetic.
/// </summary>
internal static class BatchNormRows
{
    /// <summary>xhat = (x − mean)·invStd; y = xhat·gamma + beta.</summary>
    public static void Normalize(ReadOnlySpan<float> x, ReadOnlySpan<float> mean, ReadOnlySpan<float> invStd,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> xhat, Span<float> y)
    {
        int n = x.Length, i = 0;
        if (mean.Length < n || invStd.Length < n || gamma.Length < n || beta.Length < n || xhat.Length < n || y.Length < n)
            throw new ArgumentException("Span lengths differ.");
        for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
        {
            var h = (new Vector<float>(x[i..]) - new Vector<float>(mean[i..])) * new Vector<float>(invStd[i..]);
            h.CopyTo(xhat[i..]);
            (h * new Vector<float>(gamma[i..]) + new Vector<float>(beta[i..])).CopyTo(y[i..]);
        }
        for (; i < n; i++)
        {
            float h = (x[i] - mean[i]) * invStd[i];
            xhat[i] = h;
            y[i] = h * gamma[i] + beta[i];
        }
    }

    /// <summary>d = x − mean; variance = d·d + variance.</summary>
    public static void AccumulateSquaredDeviation(ReadOnlySpan<float> x, ReadOnlySpan<float> mean, Span<float> variance)
    {
        int n = x.Length, i = 0;
        if (mean.Length < n || variance.Length < n) throw new ArgumentException("Span lengths differ.");
        for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
        {
            var d = new Vector<float>(x[i..]) - new Vector<float>(mean[i..]);
            (d * d + new Vector<float>(variance[i..])).CopyTo(variance[i..]);
        }
        for (; i < n; i++)
        {
            float d = x[i] - mean[i];
            variance[i] = d * d + variance[i];
        }
    }

    /// <summary>sumDy += dy; sumDyXhat = dy·xhat + sumDyXhat.</summary>
    public static void AccumulateSums(ReadOnlySpan<float> dy, ReadOnlySpan<float> xhat, Span<float> sumDy, Span<float> sumDyXhat)
    {
        int n = dy.Length, i = 0;
        if (xhat.Length < n || sumDy.Length < n || sumDyXhat.Length < n) throw new ArgumentException("Span lengths differ.");
        for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
        {
            var d = new Vector<float>(dy[i..]);
            (new Vector<float>(sumDy[i..]) + d).CopyTo(sumDy[i..]);
            (d * new Vector<float>(xhat[i..]) + new Vector<float>(sumDyXhat[i..])).CopyTo(sumDyXhat[i..]);
        }
        for (; i < n; i++)
        {
            sumDy[i] += dy[i];
            sumDyXhat[i] = dy[i] * xhat[i] + sumDyXhat[i];
        }
    }

    /// <summary>dx = (xhat·negSumDyXhat + (dy·count − sumDy))·scale.</summary>
    public static void InputGradient(ReadOnlySpan<float> dy, ReadOnlySpan<float> xhat, float count, ReadOnlySpan<float> sumDy,
        ReadOnlySpan<float> negSumDyXhat, ReadOnlySpan<float> scale, Span<float> dx)
    {
        int n = dy.Length, i = 0;
        if (xhat.Length < n || sumDy.Length < n || negSumDyXhat.Length < n || scale.Length < n || dx.Length < n)
            throw new ArgumentException("Span lengths differ.");
        for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
        {
            var t = new Vector<float>(dy[i..]) * count - new Vector<float>(sumDy[i..]);
            ((new Vector<float>(xhat[i..]) * new Vector<float>(negSumDyXhat[i..]) + t) * new Vector<float>(scale[i..])).CopyTo(dx[i..]);
        }
        for (; i < n; i++) dx[i] = (xhat[i] * negSumDyXhat[i] + (dy[i] * count - sumDy[i])) * scale[i];
    }
}
