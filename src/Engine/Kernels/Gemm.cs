namespace Engine.Kernels;

/// <summary>
/// The engine's matrix product, row-major float32: C[m×n] = β·C + op(A)·op(B) with β ∈ {0, 1}.
/// op(A) is m×k (A stored k×m when <c>transA</c>), op(B) is k×n (B stored n×k when <c>transB</c>).
/// Every element of C is reduced over k in the same order whatever the thread count, so results
/// are bit-identical on 1 thread or all cores.
/// </summary>
public static class Gemm
{
    private static int _maxThreads = Environment.ProcessorCount;

    /// <summary>Threads the product may use (default: all cores). Results do not depend on it.</summary>
    public static int MaxThreads
    {
        get => _maxThreads;
        set => _maxThreads = Math.Clamp(value, 1, Environment.ProcessorCount * 4);
    }

    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int m, int n, int k, bool transA = false, bool transB = false, bool accumulate = false)
    {
        // PLACEHOLDER reference implementation: replaced by the packed, register-blocked kernel.
        if (!accumulate) c[..(m * n)].Clear();
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++)
            {
                float av = transA ? a[p * m + i] : a[i * k + p];
                for (int j = 0; j < n; j++)
                    c[i * n + j] += av * (transB ? b[j * k + p] : b[p * n + j]);
            }
    }
}
