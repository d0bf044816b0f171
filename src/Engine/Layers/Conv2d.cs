using System.Runtime.Intrinsics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// 2-D convolution (cross-correlation, as <c>torch.nn.Conv2d</c>) on NCHW rows, lowered to one large product per
/// chunk of samples: the chunk's inputs are unfolded side by side into a (C·k·k)×(S·OH·OW) column matrix (im2col),
/// multiplied by the [F, C·k·k] weight through the packed GEMM into an F×(S·OH·OW) matrix, which is then spread
/// back to each sample's [F, OH, OW] with the bias added. The weight is stored [F, C, k, k], PyTorch's layout.
/// </summary>
/// <remarks>
/// One product per chunk instead of one per sample: the GEMM sees thousands of columns rather than OH·OW, so its
/// edge tiles, packing of the weight and call overhead are paid once per chunk. Backward gathers the chunk's output
/// gradient into the same F×(S·OH·OW) form, so the weight gradient is one product over all the chunk's positions
/// and the input gradient one product followed by col2im. The chunking depends only on the batch size and the
/// layer's shape (about <see cref="ColumnBudget"/> floats of columns per chunk, so they stay in a core's cache);
/// each chunk sums its weight gradient into its own partial and the partials are added in chunk order, so the bits
/// do not depend on the thread count. Backward unfolds the input again rather than keeping the whole batch's columns.
/// </remarks>
public sealed class Conv2d : Layer
{
    // The worker pool's limit; chunks never follow the thread count, so this bounds them for any machine.
    private const int MaxChunks = 32;
    /// <summary>Floats of column matrix per chunk: a few samples' worth that stays in a core's 1 MiB L2.</summary>
    internal const int ColumnBudget = 1 << 18;

    [ThreadStatic] private static float[]? t_columns, t_planes, t_transposed, t_padded, t_sums, t_staged, t_plane;

    /// <summary>Replaces <see cref="ColumnBudget"/> for batches run from the calling thread (0: none), so tests see many chunks on small layers.</summary>
    internal static int ForcedColumnBudget { get => t_forcedColumnBudget; set => t_forcedColumnBudget = value; }
    [ThreadStatic] private static int t_forcedColumnBudget;

    /// <summary>Stores the column matrix even where the products could take it as panels, for batches run from the calling thread: tests and the bench compare the two.</summary>
    internal static bool ForceStoredColumns { get => t_forceStoredColumns; set => t_forceStoredColumns = value; }
    [ThreadStatic] private static bool t_forceStoredColumns;

    private readonly Tensor _output = new(0, 0);
    private readonly Tensor _inputGrad = new(0, 0);
    private readonly Parameter[] _parameters;
    private float[] _weightGrads = [];
    private float[] _biasGrads = [];
    private readonly ChunkWork _work;
    private readonly SameTaps? _taps;
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
        if (SameSize && !Direct && SameTaps.Supported) _taps = new SameTaps(height, width, kernel, padding);
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

    private int OutPlane => OutHeight * OutWidth;

    public override Tensor Forward(Tensor x, bool training)
    {
        if (x.Cols != InputWidth) throw new ArgumentException($"Conv2d expects {InputWidth} input columns, got {x.Cols}.", nameof(x));
        _input = x;
        _output.Resize(x.Rows, OutputWidth);
        _work.Run(ThreadChoice.WorkKind.ConvForward, x.Rows);
        return _output;
    }

    /// <summary>
    /// Whether <see cref="ForwardPooled"/> can stand for this layer's forward pass followed by <paramref name="pool"/>'s: a
    /// pooling that takes this layer's output in whole 2×2 windows, written by the direct 3×3 kernel
    /// (<see cref="DirectConv3x3"/>) or, on the product path, per plane as each chunk's output is spread.
    /// </summary>
    internal bool CanPoolDirectly(MaxPool2d pool) =>
        pool.IsEvenPairs && pool.Channels == Filters && pool.Height == OutHeight && pool.Width == OutWidth
        && (Direct || pool.PoolsChannels);

    /// <summary>
    /// This layer's forward pass and <paramref name="pool"/>'s as one: the convolution's output is never stored, the
    /// pooling's output and argmax are written directly, to the bit as the two layers give them. Backward runs as usual
    /// (the pooling's, then this layer's), so only the layers' own unpooled output is missing.
    /// </summary>
    internal Tensor ForwardPooled(Tensor x, MaxPool2d pool)
    {
        if (x.Cols != InputWidth) throw new ArgumentException($"Conv2d expects {InputWidth} input columns, got {x.Cols}.", nameof(x));
        if (!CanPoolDirectly(pool)) throw new InvalidOperationException("This pooling cannot be written by the convolution.");
        _input = x;
        _output.Resize(x.Rows, OutputWidth);
        var pooled = pool.ForwardWrittenBy(_output);
        _pool = pool;
        try
        {
            _work.Run(ThreadChoice.WorkKind.ConvForward, x.Rows);
        }
        finally
        {
            _pool = null;
        }
        return pooled;
    }

    // Set only while ForwardPooled or a pooled backward runs: the pooling whose output, argmax and gradient the chunks use.
    private MaxPool2d? _pool;

    public override Tensor Backward(Tensor dy) => Backward(dy, inputGradient: true);

    // In the first layer dX costs as much as the forward pass and nobody reads it.
    internal override void BackwardParameters(Tensor dy) => Backward(dy, inputGradient: false);

    private Tensor Backward(Tensor dy, bool inputGradient)
    {
        var x = _input ?? throw new InvalidOperationException("Backward called before Forward.");
        if (dy.Rows != x.Rows || dy.Cols != OutputWidth)
            throw new ArgumentException($"Conv2d expects a {x.Rows}×{OutputWidth} gradient, got {dy.Rows}×{dy.Cols}.", nameof(dy));
        if (inputGradient) _inputGrad.Resize(x.Rows, InputWidth);
        AddChunkGradients(_work.Run(inputGradient ? ThreadChoice.WorkKind.ConvBackwardInput : ThreadChoice.WorkKind.ConvBackward, x.Rows, dy));
        return _inputGrad;
    }

    /// <summary>
    /// <see cref="BackwardParameters"/> after <see cref="ForwardPooled"/>, from <paramref name="pool"/>'s output gradient: the
    /// full-size gradient the pooling would hand back is rebuilt sixteen values at a time in registers, never stored.
    /// </summary>
    internal void BackwardParametersPooled(Tensor pooledGrad, MaxPool2d pool) => BackwardPooled(pooledGrad, pool, inputGradient: false);

    /// <summary><see cref="Backward(Tensor)"/> after <see cref="ForwardPooled"/>, from <paramref name="pool"/>'s output gradient.</summary>
    internal Tensor BackwardPooled(Tensor pooledGrad, MaxPool2d pool) => BackwardPooled(pooledGrad, pool, inputGradient: true);

    private Tensor BackwardPooled(Tensor pooledGrad, MaxPool2d pool, bool inputGradient)
    {
        var x = _input ?? throw new InvalidOperationException("Backward called before Forward.");
        if (!CanPoolDirectly(pool) || pooledGrad.Rows != x.Rows || pooledGrad.Cols != pool.OutputWidth)
            throw new ArgumentException($"Conv2d expects a {x.Rows}×{pool.OutputWidth} pooled gradient, got {pooledGrad.Rows}×{pooledGrad.Cols}.", nameof(pooledGrad));
        if (inputGradient) _inputGrad.Resize(x.Rows, InputWidth);
        _pool = pool;
        try
        {
            AddChunkGradients(_work.Run(inputGradient ? ThreadChoice.WorkKind.ConvBackwardInput : ThreadChoice.WorkKind.ConvBackward, x.Rows, pooledGrad));
        }
        finally
        {
            _pool = null;
        }
        return _inputGrad;
    }

    /// <summary>Adds the chunks' gradient partials in chunk order, whatever thread ran each chunk.</summary>
    private void AddChunkGradients(int chunks)
    {
        int wLength = Weight.Value.Length;
        for (int c = 0; c < chunks; c++)
        {
            TensorPrimitives.Add(Weight.Grad, _weightGrads.AsSpan(c * wLength, wLength), Weight.Grad);
            if (Bias is not null) TensorPrimitives.Add(Bias.Grad, _biasGrads.AsSpan(c * Filters, Filters), Bias.Grad);
        }
    }

    /// <summary>How many chunks a batch of <paramref name="rows"/> samples is split into: from the batch size and the layer's shape only.</summary>
    internal int Chunks(int rows)
    {
        long perSample = (long)PatchSize * OutPlane;
        long samples = Math.Clamp((ForcedColumnBudget > 0 ? ForcedColumnBudget : ColumnBudget) / perSample, 1, rows);
        return (int)Math.Min(MaxChunks, (rows + samples - 1) / samples);
    }

    /// <summary>Forward of samples [lo, hi): unfold, one product, spread to NCHW with the bias.</summary>
    private void ForwardChunk(int lo, int hi, bool split)
    {
        if (Direct)
        {
            if (_pool is not null) ForwardDirectPooled(lo, hi);
            else ForwardDirect(lo, hi);
            return;
        }
        int p = OutPlane, n = (hi - lo) * p, inWidth = InputWidth, outWidth = OutputWidth;
        var planes = Scratch(ref t_planes, Filters * n);
        var x = _input!.Data;
        if (!ColumnsAsPanels(split) || !ForwardPanels(lo, n, planes))
        {
            var columns = Scratch(ref t_columns, PatchSize * n);
            for (int s = lo; s < hi; s++) Im2Col(x.AsSpan(s * inWidth, inWidth), columns[((s - lo) * p)..], n);
            Multiply(Weight.Value, columns, planes, Filters, n, PatchSize, split);
        }
        if (_pool is not null)
        {
            PoolChunk(lo, hi, planes);
            return;
        }
        var y = _output.Data;
        for (int s = lo; s < hi; s++)
            for (int f = 0; f < Filters; f++)
            {
                var src = planes.Slice(f * n + (s - lo) * p, p);
                var dst = y.AsSpan(s * outWidth + f * p, p);
                if (Bias is null) src.CopyTo(dst);
                else TensorPrimitives.Add(src, Bias.Value[f], dst);
            }
    }

    /// <summary>
    /// <see cref="ForwardPooled"/> on the product path: each (sample, filter) plane of the chunk's product gets its bias in
    /// a one-plane scratch and is pooled from there, instead of being spread into the layer's output and read back.
    /// </summary>
    private unsafe void PoolChunk(int lo, int hi, Span<float> planes)
    {
        var pooled = _pool!.Output;
        int p = OutPlane, n = (hi - lo) * p, pooledWidth = pooled.Cols;
        var plane = Scratch(ref t_plane, p);
        fixed (float* pp = planes, pl = plane, py = pooled.Data)
        fixed (int* pa = _pool.ArgmaxBuffer)
            for (int s = lo; s < hi; s++)
                for (int f = 0; f < Filters; f++)
                {
                    float* src = pp + (long)f * n + (long)(s - lo) * p;
                    if (Bias is not null)
                    {
                        TensorPrimitives.Add(new ReadOnlySpan<float>(src, p), Bias.Value[f], plane);
                        src = pl;
                    }
                    _pool.ForwardChannel(f, src, py + (long)s * pooledWidth, pa + (long)s * pooledWidth);
                }
    }

    /// <summary>
    /// Whether this chunk's products take the column matrix as panels written from the input (<see cref="SameTaps"/>): a
    /// chunk run on one thread, as the panels are; a product split across threads keeps the stored columns.
    /// </summary>
    private bool ColumnsAsPanels(bool split) => _taps is not null && !split && !_work.StoredColumns;

    /// <summary>A copy of samples [lo, lo + count) with the zero guards the panel writers read past them.</summary>
    private Span<float> Staged(int lo, int count)
    {
        int guard = _taps!.Guard, length = count * InputWidth;
        var staged = Scratch(ref t_staged, guard + length + guard);
        staged[..guard].Clear();
        staged[(guard + length)..].Clear();
        _input!.Data.AsSpan(lo * InputWidth, length).CopyTo(staged[guard..]);
        return staged;
    }

    private unsafe bool ForwardPanels(int lo, int n, Span<float> planes)
    {
        fixed (float* px = Staged(lo, n / OutPlane))
        {
            var panels = new ColumnPanels(_taps!, px + _taps!.Guard, InputWidth);
            return Gemm.TryMultiplyPanels(Weight.Value, ref panels, planes, Filters, n, PatchSize);
        }
    }

    private unsafe bool WeightGradPanels(int lo, int n, ReadOnlySpan<float> planes, Span<float> weightGrad)
    {
        fixed (float* px = Staged(lo, n / OutPlane))
        {
            var panels = new TransposedColumnPanels(_taps!, px + _taps!.Guard, InputWidth);
            return Gemm.TryMultiplyPanels(planes, ref panels, weightGrad, Filters, PatchSize, n);
        }
    }

    /// <summary>Backward of samples [lo, hi) into chunk <paramref name="chunk"/>'s gradient partials, and their input gradient when asked.</summary>
    private void BackwardChunk(int chunk, int lo, int hi, ReadOnlySpan<float> dy, bool inputGradient, bool split)
    {
        if (Direct)
        {
            if (_pool is not null) WeightGradDirectPooled(chunk, lo, hi, dy);
            else WeightGradDirect(chunk, lo, hi, dy);
            if (!inputGradient) return;
        }
        int p = OutPlane, n = (hi - lo) * p, inWidth = InputWidth, outWidth = OutputWidth, k = PatchSize;
        var planes = Scratch(ref t_planes, Filters * n);
        if (_pool is not null) UnpoolChunk(lo, hi, dy, planes);
        else
            for (int s = lo; s < hi; s++)
                for (int f = 0; f < Filters; f++)
                    dy.Slice(s * outWidth + f * p, p).CopyTo(planes.Slice(f * n + (s - lo) * p, p));
        if (!Direct) WeightGradProduct(chunk, lo, hi, planes, split);
        if (!inputGradient) return;
        if (_taps is not null && !split && !_work.StoredColumns && FoldedInputGrad(lo, hi, planes)) return;
        // dcols[Ckk×n] = Wᵀ·dY (W stored F×Ckk, i.e. k×m for transA), folded back onto each input (col2im).
        var columns = Scratch(ref t_columns, k * n);
        Multiply(Weight.Value, planes, columns, k, n, Filters, split, transA: true);
        var dx = _inputGrad.Data;
        for (int s = lo; s < hi; s++)
        {
            var image = dx.AsSpan(s * inWidth, inWidth);
            image.Clear();
            Col2Im(columns[((s - lo) * p)..], image, n);
        }
    }

    /// <summary>The chunk's output gradient gathered into <paramref name="planes"/> (F×n) straight from the pooling's gradient.</summary>
    private unsafe void UnpoolChunk(int lo, int hi, ReadOnlySpan<float> pooledGrad, Span<float> planes)
    {
        int p = OutPlane, n = (hi - lo) * p, pooledWidth = _pool!.OutputWidth;
        fixed (float* pg = pooledGrad, pp = planes)
        fixed (int* pa = _pool.ArgmaxBuffer)
            for (int s = lo; s < hi; s++)
                for (int f = 0; f < Filters; f++)
                    _pool.BackwardChannel(f, pg + (long)s * pooledWidth, pa + (long)s * pooledWidth, pp + (long)f * n + (long)(s - lo) * p);
    }

    /// <summary>
    /// The input gradient's product into a column matrix with guards, folded onto each sample by <see cref="SameTaps.Fold"/>:
    /// the bits of the stored path's product and <see cref="Col2Im"/>. False, with nothing written, when the product would take
    /// the unpacked loops (which give the same bits for products that small).
    /// </summary>
    private unsafe bool FoldedInputGrad(int lo, int hi, Span<float> planes)
    {
        int p = OutPlane, n = (hi - lo) * p, k = PatchSize, guard = _taps!.Guard;
        // The guards need only be readable: the fold clears every lane it reads from them.
        var columns = Scratch(ref t_columns, guard + k * n + guard);
        fixed (float* pp = planes, pc = columns, pdx = _inputGrad.Data)
        {
            var panels = new StoredPanels(pp, n, transB: false);
            if (!Gemm.TryMultiplyPanels(Weight.Value, ref panels, columns.Slice(guard, k * n), k, n, Filters, transA: true)) return false;
            for (int s = lo; s < hi; s++)
                _taps.Fold(pc + guard + (long)(s - lo) * p, n, Channels, pdx + (long)s * InputWidth);
        }
        return true;
    }

    /// <summary>The chunk's bias and weight gradient partials from its output gradient gathered into <paramref name="planes"/> (F×n).</summary>
    private void WeightGradProduct(int chunk, int lo, int hi, Span<float> planes, bool split)
    {
        int p = OutPlane, n = (hi - lo) * p, inWidth = InputWidth, k = PatchSize;
        if (Bias is not null)
        {
            var biasGrad = _biasGrads.AsSpan(chunk * Filters, Filters);
            for (int f = 0; f < Filters; f++) biasGrad[f] = TensorPrimitives.Sum(planes.Slice(f * n, n));
        }
        var weightGrad = _weightGrads.AsSpan(chunk * Weight.Value.Length, Weight.Value.Length);
        if (k >= Filters && ColumnsAsPanels(split) && WeightGradPanels(lo, n, planes, weightGrad)) return;
        var columns = Scratch(ref t_columns, k * n);
        var x = _input!.Data;
        for (int s = lo; s < hi; s++) Im2Col(x.AsSpan(s * inWidth, inWidth), columns[((s - lo) * p)..], n);
        if (k >= Filters)
        {
            // dW[F×Ckk] = dY[F×n]·colsᵀ (cols stored Ckk×n, i.e. n×k for transB).
            Multiply(planes, columns, weightGrad, Filters, k, n, split, transB: true);
        }
        else
        {
            // Few taps (a first conv on one channel): dWᵀ[Ckk×F] = cols·dYᵀ puts the filters along the micro-kernel's wide side.
            var transposed = Scratch(ref t_transposed, k * Filters);
            Multiply(columns, planes, transposed, k, Filters, n, split, transB: true);
            for (int f = 0; f < Filters; f++)
                for (int r = 0; r < k; r++) weightGrad[f * k + r] = transposed[r * Filters + f];
        }
    }

    /// <summary>A 3×3 "same" conv on at most three channels (a first conv on images) skips the column matrix: <see cref="DirectConv3x3"/>.</summary>
    private bool Direct => Kernel == 3 && Stride == 1 && Padding == 1 && Channels <= 3 && DirectConv3x3.Fits(Width);

    private unsafe void ForwardDirect(int lo, int hi)
    {
        int inWidth = InputWidth, outWidth = OutputWidth;
        var padded = Scratch(ref t_padded, DirectConv3x3.PaddedLength(Channels, Height, Width));
        var x = _input!.Data;
        fixed (float* pp = padded, pw = Weight.Value, pb = Bias?.Value, py = _output.Data)
            for (int s = lo; s < hi; s++)
            {
                DirectConv3x3.Pad(x.AsSpan(s * inWidth, inWidth), Channels, Height, Width, padded);
                DirectConv3x3.Forward(pp, Channels, Height, Width, pw, pb, Filters, py + (long)s * outWidth);
            }
    }

    private unsafe void ForwardDirectPooled(int lo, int hi)
    {
        var pooled = _pool!.Output;
        int inWidth = InputWidth, pooledWidth = pooled.Cols;
        var padded = Scratch(ref t_padded, DirectConv3x3.PaddedLength(Channels, Height, Width));
        var x = _input!.Data;
        fixed (float* pp = padded, pw = Weight.Value, pb = Bias?.Value, py = pooled.Data)
        fixed (int* pa = _pool.ArgmaxBuffer)
            for (int s = lo; s < hi; s++)
            {
                DirectConv3x3.Pad(x.AsSpan(s * inWidth, inWidth), Channels, Height, Width, padded);
                DirectConv3x3.ForwardPooled(pp, Channels, Height, Width, pw, pb, Filters, py + (long)s * pooledWidth, pa + (long)s * pooledWidth);
            }
    }

    private unsafe void WeightGradDirect(int chunk, int lo, int hi, ReadOnlySpan<float> dy)
    {
        fixed (float* pdy = dy) WeightGradDirect(chunk, lo, hi, new StoredGrad(pdy, Filters, OutHeight, OutWidth));
    }

    /// <summary>The weight gradient from the gradient of the max pooling this layer wrote in <see cref="ForwardPooled"/>.</summary>
    private unsafe void WeightGradDirectPooled(int chunk, int lo, int hi, ReadOnlySpan<float> pooledGrad)
    {
        fixed (float* pg = pooledGrad)
        fixed (int* pa = _pool!.ArgmaxBuffer)
            WeightGradDirect(chunk, lo, hi, new PooledGrad(pg, pa, Filters, OutHeight, OutWidth));
    }

    private unsafe void WeightGradDirect<TGrad>(int chunk, int lo, int hi, TGrad batch) where TGrad : struct, IOutputGrad<TGrad>
    {
        int inWidth = InputWidth, weights = Weight.Value.Length;
        var padded = Scratch(ref t_padded, DirectConv3x3.PaddedLength(Channels, Height, Width));
        var sums = Scratch(ref t_sums, (weights + Filters) * DirectConv3x3.Lanes);
        sums.Clear();
        var x = _input!.Data;
        var weightGrad = _weightGrads.AsSpan(chunk * weights, weights);
        fixed (float* pp = padded, ps = sums)
        {
            var vectors = (Vector512<float>*)ps;
            var biasVectors = Bias is null ? null : vectors + weights;
            for (int s = lo; s < hi; s++)
            {
                DirectConv3x3.Pad(x.AsSpan(s * inWidth, inWidth), Channels, Height, Width, padded);
                DirectConv3x3.AccumulateWeightGrad(pp, Channels, Height, Width, batch.Sample(s), Filters, vectors, biasVectors);
            }
            for (int i = 0; i < weights; i++) weightGrad[i] = Vector512.Sum(vectors[i]);
            if (Bias is not null)
            {
                var biasGrad = _biasGrads.AsSpan(chunk * Filters, Filters);
                for (int f = 0; f < Filters; f++) biasGrad[f] = Vector512.Sum(biasVectors[f]);
            }
        }
    }

    // A batch that is one chunk lets the product split across threads itself; chunks already are the split.
    private static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool split,
        bool transA = false, bool transB = false)
    {
        if (split) Gemm.Multiply(a, b, c, m, n, k, transA, transB);
        else Gemm.MultiplyOnThisThread(a, b, c, m, n, k, transA, transB);
    }

    /// <summary>The calling thread's scratch of at least <paramref name="length"/> floats; it only grows, so steady state allocates nothing.</summary>
    private static Span<float> Scratch(ref float[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = GC.AllocateUninitializedArray<float>(length);
        return buffer.AsSpan(0, length);
    }

    /// <summary>
    /// columns[((c·k + i)·k + j)·ld + oh·OW + ow] = x[c, oh·s − p + i, ow·s − p + j], zero outside the image: one sample's
    /// block of a column matrix <paramref name="ld"/> wide.
    /// </summary>
    private void Im2Col(ReadOnlySpan<float> x, Span<float> columns, int ld)
    {
        int outPlane = OutPlane, row = 0;
        for (int c = 0; c < Channels; c++)
        {
            var image = x.Slice(c * Height * Width, Height * Width);
            for (int i = 0; i < Kernel; i++)
                for (int j = 0; j < Kernel; j++, row++)
                {
                    var dst = columns.Slice(row * ld, outPlane);
                    if (SameSize)
                    {
                        var (from, to, offset) = Shift(i, j);
                        dst[..from].Clear();
                        image.Slice(from + offset, to - from).CopyTo(dst[from..to]);
                        dst[to..].Clear();
                        ClearWrapped(dst, j);
                        continue;
                    }
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

    /// <summary>
    /// The adjoint of <see cref="Im2Col"/>: dx[c, ih, iw] += every column entry that read it. The columns are scratch:
    /// the entries that read the zero padding may be overwritten.
    /// </summary>
    private void Col2Im(Span<float> columns, Span<float> dx, int ld)
    {
        int outPlane = OutPlane, row = 0;
        for (int c = 0; c < Channels; c++)
        {
            var image = dx.Slice(c * Height * Width, Height * Width);
            for (int i = 0; i < Kernel; i++)
                for (int j = 0; j < Kernel; j++, row++)
                {
                    var src = columns.Slice(row * ld, outPlane);
                    if (SameSize)
                    {
                        var (from, to, offset) = Shift(i, j);
                        // Entries that read the padding beside a row would land on the neighbouring row: zeroed, they add nothing.
                        ClearWrapped(src, j);
                        var d = image.Slice(from + offset, to - from);
                        TensorPrimitives.Add(d, src[from..to], d);
                        continue;
                    }
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

    /// <summary>
    /// Stride 1 with the output as large as the input ("same"): kernel tap (i, j) reads the whole plane shifted by
    /// (i − p)·W + (j − p), so its column row is one contiguous copy whose wrapped border columns are then cleared.
    /// </summary>
    private bool SameSize => Stride == 1 && OutWidth == Width && OutHeight == Height;

    /// <summary>Plane positions [first, end) whose shifted read stays inside the plane, and the shift.</summary>
    private (int First, int End, int Offset) Shift(int i, int j)
    {
        int plane = Height * Width, offset = (i - Padding) * Width + (j - Padding);
        int first = Math.Clamp(-offset, 0, plane);
        return (first, Math.Max(first, Math.Min(plane, plane - offset)), offset);
    }

    /// <summary>Zeroes the positions of a plane-sized column row whose tap column j − p falls left or right of the image.</summary>
    private void ClearWrapped(Span<float> line, int j)
    {
        int dx = j - Padding;
        if (dx == 0) return;
        int count = Math.Min(Math.Abs(dx), Width), lo = dx < 0 ? 0 : Width - count;
        for (int at = lo; at < line.Length; at += Width) line.Slice(at, count).Clear();
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

    /// <summary>The batch's samples in contiguous chunks, each unfolded into its calling thread's scratch, with its own gradient partials.</summary>
    private sealed class ChunkWork(Conv2d layer) : PoolWork
    {
        private ThreadChoice.WorkKind _kind;

        /// <summary>The caller's <see cref="ForceStoredColumns"/>, for the chunks run on other threads.</summary>
        public bool StoredColumns { get; private set; }
        private int _rows;
        private Tensor? _dy;

        /// <summary>Runs every chunk and returns how many there were.</summary>
        public int Run(ThreadChoice.WorkKind kind, int rows, Tensor? dy = null)
        {
            if (rows == 0) return 0;
            int chunks = layer.Chunks(rows);
            if (kind != ThreadChoice.WorkKind.ConvForward)
            {
                int wLength = layer.Weight.Value.Length;
                if (layer._weightGrads.Length < chunks * wLength) layer._weightGrads = new float[chunks * wLength];
                if (layer.Bias is not null && layer._biasGrads.Length < chunks * layer.Filters) layer._biasGrads = new float[chunks * layer.Filters];
            }
            (_kind, _rows, _dy, StoredColumns) = (kind, rows, dy, ForceStoredColumns);
            try
            {
                int threads = Math.Min(Gemm.MaxThreads, chunks);
                // Whether the second core pays for this layer's batch depends on the machine and its load: measured.
                if (threads == 1) WorkerPool.Run(this, 1, chunks);
                else ThreadChoice.For(kind, rows, layer.OutputWidth, layer.PatchSize, threads).RunChunks(this, chunks);
            }
            finally { _dy = null; }
            return chunks;
        }

        public override void RunChunk(int chunk, int chunks)
        {
            int lo = (int)((long)_rows * chunk / chunks), hi = (int)((long)_rows * (chunk + 1) / chunks);
            bool split = chunks == 1;
            if (_kind == ThreadChoice.WorkKind.ConvForward) layer.ForwardChunk(lo, hi, split);
            else layer.BackwardChunk(chunk, lo, hi, _dy!.Data, _kind == ThreadChoice.WorkKind.ConvBackwardInput, split);
        }
    }
}
