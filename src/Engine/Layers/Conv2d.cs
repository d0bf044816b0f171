using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// 2-D convolution (cross-correlation, as <c>torch.nn.Conv2d</c>) on NCHW rows: each sample's [C, H, W] input
/// is unfolded into a (C·k·k)×(OH·OW) column matrix (im2col) and multiplied by the [F, C·k·k] weight through the
/// packed GEMM, giving the sample's [F, OH·OW] output. The weight is stored [F, C, k, k], PyTorch's layout.
/// </summary>
/// <remarks>
/// Samples are split into a fixed number of chunks (depending only on the batch size) that the worker pool
/// runs; each chunk unfolds into its own column buffer and sums its weight gradient into its own partial,
/// and the partials are added in chunk order, so the bits do not depend on the thread count. The backward
/// pass unfolds the input again instead of keeping every sample's columns: one sample's columns stay in cache.
/// </remarks>
public sealed class Conv2d : Layer
{
    private const int MaxChunks = 8;

    private readonly Tensor _output = new(0, 0);
    private readonly Tensor _inputGrad = new(0, 0);
    private readonly Parameter[] _parameters;
    private readonly float[]?[] _columns = new float[MaxChunks][];
    private readonly float[]?[] _weightGrads = new float[MaxChunks][];
    private readonly float[]?[] _biasGrads = new float[MaxChunks][];
    private readonly ChunkWork _work;
    private Tensor? _input;

    /// <param name="namePrefix">Prefix of the parameter names, e.g. <c>0.</c>.</param>
    public Conv2d(int channels, int height, int width, int filters, int kernel, int stride = 1, int padding = 0, bool bias = true, string namePrefix = "")
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(filters);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernel);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stride);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        if (kernel > height + 2 * padding || kernel > width + 2 * padding)
            throw new ArgumentException($"Kernel {kernel} is larger than the padded input {height + 2 * padding}×{width + 2 * padding}.", nameof(kernel));
        (Channels, Height, Width, Filters, Kernel, Stride, Padding) = (channels, height, width, filters, kernel, stride, padding);
        OutHeight = (height + 2 * padding - kernel) / stride + 1;
        OutWidth = (width + 2 * padding - kernel) / stride + 1;
        Weight = new Parameter(namePrefix + "weight", [filters, channels, kernel, kernel], decays: true);
        Bias = bias ? new Parameter(namePrefix + "bias", [filters], decays: false) : null;
        _parameters = Bias is null ? [Weight] : [Weight, Bias];
        _work = new ChunkWork(this);
    }

    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public int Filters { get; }
    public int Kernel { get; }
    public int Stride { get; }
    public int Padding { get; }
    public int OutHeight { get; }
    public int OutWidth { get; }
    public int InputWidth => Channels * Height * Width;
    public override int OutputWidth => Filters * OutHeight * OutWidth;
    /// <summary>Rows of the column matrix: C·k·k.</summary>
    public int PatchSize => Channels * Kernel * Kernel;

    /// <summary>[F, C, k, k], row-major.</summary>
    public Parameter Weight { get; }
    public Parameter? Bias { get; }
    // Cached: trainers read this every step and must not allocate.
    public override IReadOnlyList<Parameter> Parameters => _parameters;

    // A 1×1 kernel with stride 1 and no padding reads the input itself as its column matrix.
    private bool Pointwise => Kernel == 1 && Stride == 1 && Padding == 0;

    public override Tensor Forward(Tensor x, bool training)
    {
        if (x.Cols != InputWidth) throw new ArgumentException($"Conv2d expects {InputWidth} input columns, got {x.Cols}.", nameof(x));
        _input = x;
        _output.Resize(x.Rows, OutputWidth);
        _work.Run(ChunkWork.Mode.Forward, x.Rows);
        return _output;
    }

    public override Tensor Backward(Tensor dy) => Backward(dy, inputGradient: true);

    // In the first layer dX costs as much as the forward pass and nobody reads it.
    internal override void BackwardParameters(Tensor dy) => Backward(dy, inputGradient: false);

    private Tensor Backward(Tensor dy, bool inputGradient)
    {
        var x = _input ?? throw new InvalidOperationException("Backward called before Forward.");
        if (dy.Rows != x.Rows || dy.Cols != OutputWidth)
            throw new ArgumentException($"Conv2d expects a {x.Rows}×{OutputWidth} gradient, got {dy.Rows}×{dy.Cols}.", nameof(dy));
        if (inputGradient) _inputGrad.Resize(x.Rows, InputWidth);
        int chunks = _work.Run(inputGradient ? ChunkWork.Mode.BackwardWithInput : ChunkWork.Mode.Backward, x.Rows, dy);
        // Chunk order, whatever thread ran each chunk.
        for (int c = 0; c < chunks; c++)
        {
            TensorPrimitives.Add(Weight.Grad, _weightGrads[c]!, Weight.Grad);
            if (Bias is not null) TensorPrimitives.Add(Bias.Grad, _biasGrads[c]!, Bias.Grad);
        }
        return _inputGrad;
    }

    private void ForwardSample(ReadOnlySpan<float> x, Span<float> y, float[] columns)
    {
        int outPlane = OutHeight * OutWidth;
        if (Pointwise) Gemm.Multiply(Weight.Value, x, y, Filters, outPlane, Channels);
        else
        {
            Im2Col(x, columns);
            Gemm.Multiply(Weight.Value, columns, y, Filters, outPlane, PatchSize);
        }
        if (Bias is null) return;
        for (int f = 0; f < Filters; f++)
        {
            var plane = y.Slice(f * outPlane, outPlane);
            TensorPrimitives.Add(plane, Bias.Value[f], plane);
        }
    }

    private void BackwardSample(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, float[] columns, float[] weightGrad, float[]? biasGrad)
    {
        int outPlane = OutHeight * OutWidth;
        ReadOnlySpan<float> cols = x;
        if (!Pointwise)
        {
            Im2Col(x, columns);
            cols = columns;
        }
        // dW[F×Ckk] += dY[F×P]·colsᵀ (cols stored Ckk×P, i.e. n×k for transB).
        Gemm.Multiply(dy, cols, weightGrad, Filters, PatchSize, outPlane, transB: true, accumulate: true);
        if (biasGrad is not null)
            for (int f = 0; f < Filters; f++) biasGrad[f] += TensorPrimitives.Sum(dy.Slice(f * outPlane, outPlane));
        if (dx.IsEmpty) return;
        // dcols[Ckk×P] = Wᵀ·dY (W stored F×Ckk, i.e. k×m for transA), folded back onto the input (col2im).
        if (Pointwise)
        {
            Gemm.Multiply(Weight.Value, dy, dx, Channels, outPlane, Filters, transA: true);
            return;
        }
        Gemm.Multiply(Weight.Value, dy, columns, PatchSize, outPlane, Filters, transA: true);
        dx.Clear();
        Col2Im(columns, dx);
    }

    /// <summary>columns[(c·k + i)·k + j, oh·OW + ow] = x[c, oh·s − p + i, ow·s − p + j], zero outside the image.</summary>
    private void Im2Col(ReadOnlySpan<float> x, Span<float> columns)
    {
        int outPlane = OutHeight * OutWidth, row = 0;
        for (int c = 0; c < Channels; c++)
        {
            var image = x.Slice(c * Height * Width, Height * Width);
            for (int i = 0; i < Kernel; i++)
                for (int j = 0; j < Kernel; j++, row++)
                {
                    var dst = columns.Slice(row * outPlane, outPlane);
                    ColumnRange(j, out int first, out int end);
                    for (int oh = 0; oh < OutHeight; oh++)
                    {
                        var line = dst.Slice(oh * OutWidth, OutWidth);
                        int ih = oh * Stride - Padding + i;
                        if ((uint)ih >= (uint)Height || first >= end) { line.Clear(); continue; }
                        var src = image.Slice(ih * Width, Width);
                        line[..first].Clear();
                        line[end..].Clear();
                        int iw = first * Stride - Padding + j;
                        if (Stride == 1) src.Slice(iw, end - first).CopyTo(line[first..end]);
                        else for (int ow = first; ow < end; ow++, iw += Stride) line[ow] = src[iw];
                    }
                }
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col"/>: dx[c, ih, iw] += every column entry that read it.</summary>
    private void Col2Im(ReadOnlySpan<float> columns, Span<float> dx)
    {
        int outPlane = OutHeight * OutWidth, row = 0;
        for (int c = 0; c < Channels; c++)
        {
            var image = dx.Slice(c * Height * Width, Height * Width);
            for (int i = 0; i < Kernel; i++)
                for (int j = 0; j < Kernel; j++, row++)
                {
                    var src = columns.Slice(row * outPlane, outPlane);
                    ColumnRange(j, out int first, out int end);
                    if (first >= end) continue;
                    for (int oh = 0; oh < OutHeight; oh++)
                    {
                        int ih = oh * Stride - Padding + i;
                        if ((uint)ih >= (uint)Height) continue;
                        var line = src.Slice(oh * OutWidth, OutWidth);
                        var dst = image.Slice(ih * Width, Width);
                        int iw = first * Stride - Padding + j;
                        if (Stride == 1)
                        {
                            var d = dst.Slice(iw, end - first);
                            TensorPrimitives.Add(d, line[first..end], d);
                        }
                        else for (int ow = first; ow < end; ow++, iw += Stride) dst[iw] += line[ow];
                    }
                }
        }
    }

    /// <summary>Output columns [first, end) whose kernel column <paramref name="j"/> falls inside the image.</summary>
    private void ColumnRange(int j, out int first, out int end)
    {
        // ow·s − p + j ≥ 0  and  ow·s − p + j ≤ W − 1.
        first = Math.Max(0, (Padding - j + Stride - 1) / Stride);
        int last = (Width - 1 + Padding - j) >= 0 ? (Width - 1 + Padding - j) / Stride : -1;
        end = Math.Min(OutWidth, last + 1);
        if (end < first) end = first;
    }

    /// <summary>The batch's samples in contiguous chunks, each with its own column buffer and gradient partials.</summary>
    private sealed class ChunkWork(Conv2d layer) : PoolWork
    {
        public enum Mode { Forward, Backward, BackwardWithInput }

        // About a sample's convolution per chunk is worth handing to another thread.
        private const long MinWorkPerChunk = 1L << 18;

        private Mode _mode;
        private int _rows;
        private Tensor? _dy;

        /// <summary>Runs every chunk and returns how many there were.</summary>
        public int Run(Mode mode, int rows, Tensor? dy = null)
        {
            if (rows == 0) return 0;
            long perSample = (long)layer.Filters * layer.PatchSize * layer.OutHeight * layer.OutWidth;
            int chunks = (int)Math.Clamp(perSample * rows / MinWorkPerChunk, 1, Math.Min(rows, MaxChunks));
            (_mode, _rows, _dy) = (mode, rows, dy);
            try { WorkerPool.Run(this, Math.Min(Gemm.MaxThreads, chunks), chunks); }
            finally { _dy = null; }
            return chunks;
        }

        public override void RunChunk(int chunk, int chunks)
        {
            int lo = (int)((long)_rows * chunk / chunks), hi = (int)((long)_rows * (chunk + 1) / chunks);
            int inWidth = layer.InputWidth, outWidth = layer.OutputWidth;
            var columns = layer._columns[chunk] ??= new float[layer.Pointwise ? 0 : layer.PatchSize * layer.OutHeight * layer.OutWidth];
            var x = layer._input!.Data;
            if (_mode == Mode.Forward)
            {
                var y = layer._output.Data;
                for (int s = lo; s < hi; s++)
                    layer.ForwardSample(x.AsSpan(s * inWidth, inWidth), y.AsSpan(s * outWidth, outWidth), columns);
                return;
            }
            var weightGrad = layer._weightGrads[chunk] ??= new float[layer.Weight.Value.Length];
            var biasGrad = layer.Bias is null ? null : layer._biasGrads[chunk] ??= new float[layer.Filters];
            Array.Clear(weightGrad);
            if (biasGrad is not null) Array.Clear(biasGrad);
            var dy = _dy!.Data;
            for (int s = lo; s < hi; s++)
            {
                var dx = _mode == Mode.BackwardWithInput ? layer._inputGrad.Data.AsSpan(s * inWidth, inWidth) : [];
                layer.BackwardSample(x.AsSpan(s * inWidth, inWidth), dy.AsSpan(s * outWidth, outWidth), dx, columns, weightGrad, biasGrad);
            }
        }
    }
}
