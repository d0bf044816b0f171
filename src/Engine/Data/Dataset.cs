using System.Runtime.Intrinsics.X86;

namespace Engine.Data;

/// <summary>
/// Float32 features (N × D, each sample of <see cref="SampleShape"/>) with either class-index labels
/// (classification) or float targets of width <see cref="TargetWidth"/> (regression, multi-label).
/// </summary>
public sealed class Dataset
{
    public Dataset(float[] features, int[] sampleShape, int count, int[]? labels, float[]? targets, int targetWidth, int classes,
        InputTransform? transform = null)
    {
        long size = 1;
        foreach (var d in sampleShape) size = checked(size * d);
        if (features.Length != checked(size * count)) throw new ArgumentException($"features has {features.Length} values, expected {count}×{size}.");
        if ((labels is null) == (targets is null)) throw new ArgumentException("Exactly one of labels and targets must be given.");
        if (labels is not null && labels.Length != count) throw new ArgumentException($"labels has {labels.Length} values, expected {count}.");
        if (targets is not null && targets.Length != checked((long)count * targetWidth)) throw new ArgumentException($"targets has {targets.Length} values, expected {count}×{targetWidth}.");
        Features = features;
        SampleShape = sampleShape;
        FeatureSize = (int)size;
        Count = count;
        Labels = labels;
        Targets = targets;
        TargetWidth = labels is not null ? 1 : targetWidth;
        Classes = classes;
        Transform = transform;
    }

    /// <summary>N × <see cref="FeatureSize"/> row-major, already normalized by <see cref="Transform"/>.</summary>
    public float[] Features { get; }
    public int[] SampleShape { get; }
    public int FeatureSize { get; }
    public int Count { get; }
    /// <summary>Class indices in [0, <see cref="Classes"/>), or null for float targets.</summary>
    public int[]? Labels { get; }
    /// <summary>N × <see cref="TargetWidth"/> float targets, or null for class labels.</summary>
    public float[]? Targets { get; }
    public int TargetWidth { get; }
    /// <summary>Number of classes for classification; 0 for regression.</summary>
    public int Classes { get; }
    /// <summary>How raw inputs were turned into <see cref="Features"/>; predictions apply the same.</summary>
    public InputTransform? Transform { get; }

    public ReadOnlySpan<float> Sample(int i) => Features.AsSpan(i * FeatureSize, FeatureSize);

    /// <summary>
    /// Copies the samples at <paramref name="indices"/> into consecutive rows of <paramref name="destination"/>.
    /// Shuffled samples are scattered over a set much larger than the cache, so each copy would wait on
    /// memory; the rows a few samples ahead are prefetched while the current one is copied.
    /// </summary>
    internal unsafe void CopySamples(ReadOnlySpan<int> indices, Span<float> destination)
    {
        int rows = indices.Length, fs = FeatureSize;
        if (destination.Length < (long)rows * fs) throw new ArgumentException("destination is too small for the samples.", nameof(destination));
        foreach (int i in indices)
            if ((uint)i >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(indices), i, "Sample index outside the data set.");
        // Two cores keep twice as many cache misses in flight, when the second core is free (measured); small batches are not worth waking a thread.
        int threads = (int)Math.Clamp((long)rows * fs / FloatsPerThread, 1, Kernels.Gemm.MaxThreads);
        fixed (float* features = Features, dst = destination)
        fixed (int* idx = indices)
        {
            var gather = t_gather ??= new GatherRows();
            gather.Set(features, fs, idx, rows, dst);
            if (threads == 1) Kernels.WorkerPool.Run(gather, 1, 1);
            else Kernels.ThreadChoice.For(Kernels.ThreadChoice.WorkKind.Gather, (long)rows * fs, threads).Run(gather, chunksPerThread: 1);
        }
    }

    private const long FloatsPerThread = 1 << 15;
    [ThreadStatic] private static GatherRows? t_gather;

    /// <summary>Chunk c copies a contiguous run of the batch's rows.</summary>
    private sealed unsafe class GatherRows : Kernels.PoolWork
    {
        private float* _features, _destination;
        private int* _indices;
        private int _featureSize, _rows;

        public void Set(float* features, int featureSize, int* indices, int rows, float* destination)
        {
            _features = features;
            _featureSize = featureSize;
            _indices = indices;
            _rows = rows;
            _destination = destination;
        }

        public override void RunChunk(int chunk, int chunks)
        {
            const int Ahead = 4;
            int lo = (int)((long)_rows * chunk / chunks), hi = (int)((long)_rows * (chunk + 1) / chunks);
            long fs = _featureSize;
            for (int i = lo; i < hi; i++)
            {
                if (Sse.IsSupported && i + Ahead < hi)
                {
                    float* next = _features + _indices[i + Ahead] * fs;
                    for (long off = 0; off < fs; off += 16) Sse.Prefetch0(next + off);
                }
                Buffer.MemoryCopy(_features + _indices[i] * fs, _destination + i * fs, fs * sizeof(float), fs * sizeof(float));
            }
        }
    }

    /// <summary>A copy holding the given samples, in that order.</summary>
    public Dataset Subset(ReadOnlySpan<int> indices)
    {
        var f = new float[checked((long)indices.Length * FeatureSize)];
        int[]? l = Labels is null ? null : new int[indices.Length];
        float[]? t = Targets is null ? null : new float[checked((long)indices.Length * TargetWidth)];
        for (int i = 0; i < indices.Length; i++)
        {
            int s = indices[i];
            Sample(s).CopyTo(f.AsSpan(i * FeatureSize));
            if (l is not null) l[i] = Labels![s];
            if (t is not null) Targets.AsSpan(s * TargetWidth, TargetWidth).CopyTo(t.AsSpan(i * TargetWidth));
        }
        return new Dataset(f, SampleShape, indices.Length, l, t, TargetWidth, Classes, Transform);
    }
}

/// <summary>
/// Per-feature affine map x' = (x − Offset[j]) · Factor[j] applied to raw inputs; Scale is offset 0,
/// factor 1/255 (or 1/max); Standardize is the training set's mean and 1/std.
/// </summary>
public sealed record InputTransform(NormalizationKind Kind, float[] Offset, float[] Factor)
{
    public void Apply(Span<float> rowMajor, int featureSize)
    {
        for (int i = 0; i < rowMajor.Length; i += featureSize)
        {
            var row = rowMajor.Slice(i, featureSize);
            System.Numerics.Tensors.TensorPrimitives.Subtract(row, Offset, row);
            System.Numerics.Tensors.TensorPrimitives.Multiply(row, Factor, row);
        }
    }
}
