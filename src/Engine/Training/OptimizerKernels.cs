using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Engine.Training;

/// <summary>
/// The optimizers' element-wise updates, each in one pass over its arrays. A chain of TensorPrimitives
/// calls streams every array through memory once per operation (a dozen passes for Adam over a
/// megabyte-sized weight matrix, which does not fit in L2); fused, each element is loaded and stored once.
/// Every formula performs the same float operations in the same order as the chained version (separate
/// multiply and add, no FMA contraction) in every lane width, so results do not depend on the vector path.
/// </summary>
internal static class OptimizerKernels
{
    /// <summary>v ← α·v − η·g... as v ← v·α; v ← g·(−η) + v; then W ← W + v, or for Nesterov W ← v·α + W; W ← g·(−η) + W.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Momentum(Span<float> w, ReadOnlySpan<float> g, Span<float> v, float alpha, float lr, bool nesterov)
    {
        int n = CheckLengths(w, g, v, v);
        ref float pw = ref MemoryMarshal.GetReference(w), pg = ref MemoryMarshal.GetReference(g), pv = ref MemoryMarshal.GetReference(v);
        float nlr = -lr;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> a = Vector512.Create(alpha), l = Vector512.Create(nlr);
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var gi = Vector512.LoadUnsafe(ref pg, (nuint)i);
                var vi = gi * l + Vector512.LoadUnsafe(ref pv, (nuint)i) * a;
                var wi = Vector512.LoadUnsafe(ref pw, (nuint)i);
                wi = nesterov ? gi * l + (vi * a + wi) : wi + vi;
                vi.StoreUnsafe(ref pv, (nuint)i);
                wi.StoreUnsafe(ref pw, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> a = Vector256.Create(alpha), l = Vector256.Create(nlr);
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var gi = Vector256.LoadUnsafe(ref pg, (nuint)i);
                var vi = gi * l + Vector256.LoadUnsafe(ref pv, (nuint)i) * a;
                var wi = Vector256.LoadUnsafe(ref pw, (nuint)i);
                wi = nesterov ? gi * l + (vi * a + wi) : wi + vi;
                vi.StoreUnsafe(ref pv, (nuint)i);
                wi.StoreUnsafe(ref pw, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float gi = g[i], vi = gi * nlr + v[i] * alpha;
            v[i] = vi;
            w[i] = nesterov ? gi * nlr + (vi * alpha + w[i]) : w[i] + vi;
        }
    }

    /// <summary>
    /// h ← g⊙g·(1 − ρ) + h·ρ (RMSProp) or h ← g⊙g + h (AdaGrad, <paramref name="adaGrad"/>);
    /// then W ← (g / (√h + ε))·(−η) + W.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScaledBySquares(Span<float> w, ReadOnlySpan<float> g, Span<float> h, float rho, float lr, float epsilon, bool adaGrad)
    {
        int n = CheckLengths(w, g, h, h);
        ref float pw = ref MemoryMarshal.GetReference(w), pg = ref MemoryMarshal.GetReference(g), ph = ref MemoryMarshal.GetReference(h);
        float nlr = -lr, take = 1f - rho;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> r = Vector512.Create(rho), t = Vector512.Create(take), l = Vector512.Create(nlr), e = Vector512.Create(epsilon);
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var gi = Vector512.LoadUnsafe(ref pg, (nuint)i);
                var hi = Vector512.LoadUnsafe(ref ph, (nuint)i);
                hi = adaGrad ? gi * gi + hi : gi * gi * t + hi * r;
                hi.StoreUnsafe(ref ph, (nuint)i);
                (gi / (Vector512.Sqrt(hi) + e) * l + Vector512.LoadUnsafe(ref pw, (nuint)i)).StoreUnsafe(ref pw, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> r = Vector256.Create(rho), t = Vector256.Create(take), l = Vector256.Create(nlr), e = Vector256.Create(epsilon);
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var gi = Vector256.LoadUnsafe(ref pg, (nuint)i);
                var hi = Vector256.LoadUnsafe(ref ph, (nuint)i);
                hi = adaGrad ? gi * gi + hi : gi * gi * t + hi * r;
                hi.StoreUnsafe(ref ph, (nuint)i);
                (gi / (Vector256.Sqrt(hi) + e) * l + Vector256.LoadUnsafe(ref pw, (nuint)i)).StoreUnsafe(ref pw, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float gi = g[i], hi = adaGrad ? gi * gi + h[i] : gi * gi * take + h[i] * rho;
            h[i] = hi;
            w[i] = gi / (MathF.Sqrt(hi) + epsilon) * nlr + w[i];
        }
    }

    /// <summary>
    /// m ← g·(1 − β₁) + m·β₁; v ← g⊙g·(1 − β₂) + v·β₂; W ← (m / (√v·c₂ + ε))·(−s) + W·d, where c₂ = 1/√(1 − β₂ᵗ),
    /// s = η/(1 − β₁ᵗ) and d is AdamW's decay factor 1 − ηλ (1 leaves W unchanged bit for bit).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Adam(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float beta1, float beta2, float invSqrtCorrection2, float epsilon, float stepScale, float decay)
    {
        int n = CheckLengths(w, g, m, v);
        ref float pw = ref MemoryMarshal.GetReference(w), pg = ref MemoryMarshal.GetReference(g);
        ref float pm = ref MemoryMarshal.GetReference(m), pv = ref MemoryMarshal.GetReference(v);
        float take1 = 1f - beta1, take2 = 1f - beta2, ns = -stepScale;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> b1 = Vector512.Create(beta1), t1 = Vector512.Create(take1), b2 = Vector512.Create(beta2),
                t2 = Vector512.Create(take2), c2 = Vector512.Create(invSqrtCorrection2), e = Vector512.Create(epsilon),
                s = Vector512.Create(ns), d = Vector512.Create(decay);
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var gi = Vector512.LoadUnsafe(ref pg, (nuint)i);
                var mi = gi * t1 + Vector512.LoadUnsafe(ref pm, (nuint)i) * b1;
                var vi = gi * gi * t2 + Vector512.LoadUnsafe(ref pv, (nuint)i) * b2;
                mi.StoreUnsafe(ref pm, (nuint)i);
                vi.StoreUnsafe(ref pv, (nuint)i);
                (mi / (Vector512.Sqrt(vi) * c2 + e) * s + Vector512.LoadUnsafe(ref pw, (nuint)i) * d).StoreUnsafe(ref pw, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> b1 = Vector256.Create(beta1), t1 = Vector256.Create(take1), b2 = Vector256.Create(beta2),
                t2 = Vector256.Create(take2), c2 = Vector256.Create(invSqrtCorrection2), e = Vector256.Create(epsilon),
                s = Vector256.Create(ns), d = Vector256.Create(decay);
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var gi = Vector256.LoadUnsafe(ref pg, (nuint)i);
                var mi = gi * t1 + Vector256.LoadUnsafe(ref pm, (nuint)i) * b1;
                var vi = gi * gi * t2 + Vector256.LoadUnsafe(ref pv, (nuint)i) * b2;
                mi.StoreUnsafe(ref pm, (nuint)i);
                vi.StoreUnsafe(ref pv, (nuint)i);
                (mi / (Vector256.Sqrt(vi) * c2 + e) * s + Vector256.LoadUnsafe(ref pw, (nuint)i) * d).StoreUnsafe(ref pw, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float gi = g[i], mi = gi * take1 + m[i] * beta1, vi = gi * gi * take2 + v[i] * beta2;
            m[i] = mi;
            v[i] = vi;
            w[i] = mi / (MathF.Sqrt(vi) * invSqrtCorrection2 + epsilon) * ns + w[i] * decay;
        }
    }

    private static int CheckLengths(Span<float> w, ReadOnlySpan<float> g, Span<float> s1, Span<float> s2)
    {
        if (g.Length != w.Length || s1.Length != w.Length || s2.Length != w.Length) throw new ArgumentException("Span lengths differ.");
        return w.Length;
    }
}
