using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// Geometry shared by the window pooling layers: [C, H, W] → [C, OH, OW], no padding (as PyTorch's default).
/// Samples are independent, so a batch is split by samples across the worker pool where that measures faster.
/// </summary>
public abstract class Pool2d : Layer
{
    // About 64k outputs per chunk: a few samples of a large pooling, enough to be worth handing to another thread.
    private const int OutputsPerChunk = 1 << 16;

    private protected readonly Tensor _output = new(0, 0);
    private protected readonly Tensor _inputGrad = new(0, 0);
    private protected Tensor? _input;
    private readonly RowsWork _work;

    private protected Pool2d(int channels, int height, int width, int size, int stride)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stride);
        if (size > height || size > width) throw new ArgumentException($"Window {size} is larger than the input {height}×{width}.", nameof(size));
        (Channels, Height, Width, Size, Stride) = (channels, height, width, size, stride);
        OutHeight = (height - size) / stride + 1;
        OutWidth = (width - size) / stride + 1;
        _work = new RowsWork(this);
    }

    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public int Size { get; }
    public int Stride { get; }
    public int OutHeight { get; }
    public int OutWidth { get; }
    public int InputWidth => Channels * Height * Width;
    public override int OutputWidth => Channels * OutHeight * OutWidth;

    public override Tensor Forward(Tensor x, bool training)
    {
        if (x.Cols != InputWidth) throw new ArgumentException($"{GetType().Name} expects {InputWidth} input columns, got {x.Cols}.", nameof(x));
        _input = x;
        _output.Resize(x.Rows, OutputWidth);
        PrepareForward(x.Rows);
        _work.Run(x.Rows, backward: false, null);
        return _output;
    }

    public override Tensor Backward(Tensor dy)
    {
        var x = _input ?? throw new InvalidOperationException("Backward called before Forward.");
        if (dy.Rows != x.Rows || dy.Cols != OutputWidth)
            throw new ArgumentException($"{GetType().Name} expects a {x.Rows}×{OutputWidth} gradient, got {dy.Rows}×{dy.Cols}.", nameof(dy));
        _inputGrad.Resize(x.Rows, InputWidth);
        _work.Run(x.Rows, backward: true, dy);
        return _inputGrad;
    }

    /// <summary>Sizes what forward keeps for backward, before the samples are split.</summary>
    private protected virtual void PrepareForward(int rows) { }

    /// <summary>Forward of samples [lo, hi) from <see cref="_input"/> into <see cref="_output"/>.</summary>
    private protected abstract void ForwardRows(int lo, int hi);

    /// <summary>Backward of samples [lo, hi): sets (not adds) their rows of <see cref="_inputGrad"/>.</summary>
    private protected abstract void BackwardRows(Tensor dy, int lo, int hi);

    /// <summary>The batch's samples in contiguous chunks; each sample is computed alone, so any chunking gives the same bits.</summary>
    private sealed class RowsWork(Pool2d layer) : PoolWork
    {
        private int _rows;
        private bool _backward;
        private Tensor? _dy;

        public void Run(int rows, bool backward, Tensor? dy)
        {
            if (rows == 0) return;
            (_rows, _backward, _dy) = (rows, backward, dy);
            int chunks = (int)Math.Clamp((long)rows * layer.OutputWidth / OutputsPerChunk, 1, Math.Min(rows, 2 * Gemm.MaxThreads));
            try
            {
                int threads = Math.Min(Gemm.MaxThreads, chunks);
                if (threads == 1) WorkerPool.Run(this, 1, 1);
                else ThreadChoice.For(ThreadChoice.WorkKind.Pooling, rows, layer.OutputWidth, backward ? 1 : 0, threads).RunChunks(this, chunks);
            }
            finally { _dy = null; }
        }

        public override void RunChunk(int chunk, int chunks)
        {
            int lo = (int)((long)_rows * chunk / chunks), hi = (int)((long)_rows * (chunk + 1) / chunks);
            if (_backward) layer.BackwardRows(_dy!, lo, hi);
            else layer.ForwardRows(lo, hi);
        }
    }
}

/// <summary>
/// Maximum of each size×size window per channel. Forward keeps the input index of each window's maximum (the
/// first one on ties, and the first NaN, as PyTorch), and backward routes each output gradient to it.
/// </summary>
/// <remarks>
/// The common 2×2 window with stride 2 takes a vectorized path: four outputs from two 8-wide loads per input row, and
/// backward writes each window's four inputs once instead of clearing the row and scattering into it.
/// </remarks>
public sealed class MaxPool2d(int channels, int height, int width, int size, int stride)
    : Pool2d(channels, height, width, size, stride)
{
    private int[] _argmax = [];
    private readonly int _lanes = LanesFor(width);
    private readonly int[] _blocks = size == 2 && stride == 2 ? PairBlocks(channels, height, width, LanesFor(width)) : [];

    /// <summary>Outputs a 2×2 block takes: eight where a row has that many and AVX2 is there, else four (SSE).</summary>
    private static int LanesFor(int width) => width / 2 >= 8 && Avx2.IsSupported ? 8 : 4;

    /// <summary>For each output of the last forward pass, the index of its maximum within its sample's input row.</summary>
    public ReadOnlySpan<int> Argmax => _argmax.AsSpan(0, (_input?.Rows ?? 0) * OutputWidth);

    private bool Pairs => _blocks.Length > 0 && Sse.IsSupported;

    private protected override void PrepareForward(int rows)
    {
        if (_argmax.Length < rows * OutputWidth) _argmax = new int[rows * OutputWidth];
    }

    /// <summary>
    /// Readies a forward pass whose outputs and argmax another kernel writes (<see cref="Conv2d.ForwardPooled"/>);
    /// <paramref name="input"/> stands for the unpooled batch, of which backward needs only the number of rows.
    /// </summary>
    internal Tensor ForwardWrittenBy(Tensor input)
    {
        if (input.Cols != InputWidth) throw new ArgumentException($"MaxPool2d expects {InputWidth} input columns, got {input.Cols}.", nameof(input));
        _input = input;
        _output.Resize(input.Rows, OutputWidth);
        PrepareForward(input.Rows);
        return _output;
    }

    /// <summary>The outputs of the last forward pass, where <see cref="Conv2d.ForwardPooled"/> writes them.</summary>
    internal Tensor Output => _output;

    /// <summary>The argmax of the last forward pass for every row, as <see cref="Conv2d.ForwardPooled"/> writes it and its backward reads it.</summary>
    internal int[] ArgmaxBuffer => _argmax;

    /// <summary>Whether a kernel may write this pooling's forward pass the way <see cref="ForwardRows"/> does: 2×2 windows, stride 2, even sides.</summary>
    internal bool IsEvenPairs => Size == 2 && Stride == 2 && Height % 2 == 0 && Width % 2 == 0;

    /// <summary>Whether <see cref="ForwardChannel"/> and <see cref="BackwardChannel"/> can run: the vectorized 2×2 path with even sides.</summary>
    internal bool PoolsChannels => Pairs && IsEvenPairs;

    /// <summary>
    /// Pools channel <paramref name="c"/> of one sample from its plane wherever it is (a conv's scratch,
    /// <see cref="Conv2d.ForwardPooled"/>) into the sample's outputs and argmax, as <see cref="ForwardRows"/> would.
    /// </summary>
    internal unsafe void ForwardChannel(int c, float* plane, float* ySample, int* argmaxSample)
    {
        int per = _blocks.Length / Channels;
        ForwardBlocks(plane - (long)c * Height * Width, ySample, argmaxSample, c * per, (c + 1) * per);
    }

    /// <summary>Channel <paramref name="c"/>'s input gradient written into <paramref name="plane"/>, as <see cref="BackwardRows"/> would write it.</summary>
    internal unsafe void BackwardChannel(int c, float* gSample, int* argmaxSample, float* plane)
    {
        int per = _blocks.Length / Channels;
        BackwardBlocks(gSample, argmaxSample, plane - (long)c * Height * Width, c * per, (c + 1) * per);
    }

    private protected override void ForwardRows(int lo, int hi)
    {
        var x = _input!;
        for (int s = lo; s < hi; s++)
        {
            var y = _output.Row(s);
            var argmax = _argmax.AsSpan(s * OutputWidth, OutputWidth);
            if (Pairs) ForwardPairs(x.Row(s), y, argmax);
            else ForwardWindows(x.Row(s), y, argmax);
        }
    }

    private void ForwardWindows(ReadOnlySpan<float> row, Span<float> y, Span<int> argmax)
    {
        int plane = Height * Width, o = 0;
        for (int c = 0; c < Channels; c++)
            for (int oh = 0; oh < OutHeight; oh++)
                for (int ow = 0; ow < OutWidth; ow++, o++)
                {
                    int top = c * plane + oh * Stride * Width + ow * Stride, best = top;
                    float max = row[top];
                    for (int i = 0; i < Size; i++)
                        for (int j = 0, at = top + i * Width; j < Size; j++, at++)
                        {
                            float v = row[at];
                            if (v > max || float.IsNaN(v) && !float.IsNaN(max)) { max = v; best = at; }
                        }
                    y[o] = max;
                    argmax[o] = best;
                }
    }

    /// <summary>2×2 windows, stride 2: each output row from two input rows, eight or four outputs at a time.</summary>
    private unsafe void ForwardPairs(ReadOnlySpan<float> row, Span<float> y, Span<int> argmax)
    {
        fixed (float* px = row, py = y)
        fixed (int* pa = argmax)
            ForwardBlocks(px, py, pa, 0, _blocks.Length);
    }

    /// <summary>Blocks [from, to) of <see cref="_blocks"/> (in entries); <paramref name="px"/> is where the blocks' input indices count from.</summary>
    private unsafe void ForwardBlocks(float* px, float* py, int* pa, int from, int to)
    {
        if (_lanes == 8) ForwardBlocks8(px, py, pa, from, to);
        else ForwardBlocks4(px, py, pa, from, to);
    }

    private unsafe void ForwardBlocks4(float* px, float* py, int* pa, int from, int to)
    {
        var offsets = new WindowOffsets(Width);
        for (int b = from; b < to; b += 2)
        {
            int o = _blocks[b], top = _blocks[b + 1];
            float* r0 = px + top, r1 = r0 + Width;
            var a0 = Sse.LoadVector128(r0);
            var a1 = Sse.LoadVector128(r0 + 4);
            var b0 = Sse.LoadVector128(r1);
            var b1 = Sse.LoadVector128(r1 + 4);
            // Window order (0,0), (0,1), (1,0), (1,1): even and odd columns of each row.
            var best = Sse.Shuffle(a0, a1, 0x88);
            var code = Vector128<int>.Zero;
            WindowMax.Take(Sse.Shuffle(a0, a1, 0xDD), offsets.Right, ref best, ref code);
            WindowMax.Take(Sse.Shuffle(b0, b1, 0x88), offsets.Below, ref best, ref code);
            WindowMax.Take(Sse.Shuffle(b0, b1, 0xDD), offsets.BelowRight, ref best, ref code);
            Sse.Store(py + o, best);
            Sse2.Store(pa + o, Vector128.Create(top) + WindowOffsets.Lanes + code);
        }
    }

    /// <summary>
    /// <see cref="ForwardBlocks4"/> eight outputs at a time. The in-lane shuffles leave the outputs in the order
    /// 0 1 4 5 2 3 6 7; each lane is still compared exactly as in the four-wide path, and one permute puts them back.
    /// </summary>
    private unsafe void ForwardBlocks8(float* px, float* py, int* pa, int from, int to)
    {
        var offsets = new WindowOffsets(Width);
        var right = Vector256.Create(offsets.Right, offsets.Right);
        var below = Vector256.Create(offsets.Below, offsets.Below);
        var belowRight = Vector256.Create(offsets.BelowRight, offsets.BelowRight);
        for (int b = from; b < to; b += 2)
        {
            int o = _blocks[b], top = _blocks[b + 1];
            float* r0 = px + top, r1 = r0 + Width;
            var a0 = Avx.LoadVector256(r0);
            var a1 = Avx.LoadVector256(r0 + 8);
            var b0 = Avx.LoadVector256(r1);
            var b1 = Avx.LoadVector256(r1 + 8);
            var best = Avx.Shuffle(a0, a1, 0x88);
            var code = Vector256<int>.Zero;
            WindowMax.Take(Avx.Shuffle(a0, a1, 0xDD), right, ref best, ref code);
            WindowMax.Take(Avx.Shuffle(b0, b1, 0x88), below, ref best, ref code);
            WindowMax.Take(Avx.Shuffle(b0, b1, 0xDD), belowRight, ref best, ref code);
            Avx.Store(py + o, Avx2.Permute4x64(best.AsDouble(), 0xD8).AsSingle());
            Avx.Store(pa + o, Vector256.Create(top) + WindowMax.Tops8 + Avx2.Permute4x64(code.AsInt64(), 0xD8).AsInt32());
        }
    }

    private protected override void BackwardRows(Tensor dy, int lo, int hi)
    {
        int outWidth = OutputWidth;
        for (int s = lo; s < hi; s++)
        {
            var dx = _inputGrad.Row(s);
            var g = dy.Row(s);
            var index = _argmax.AsSpan(s * outWidth, outWidth);
            if (Pairs)
            {
                BackwardPairs(g, index, dx);
                continue;
            }
            dx.Clear();
            for (int o = 0; o < outWidth; o++) dx[index[o]] += g[o];
        }
    }

    /// <summary>2×2 windows, stride 2: each window's four inputs written once, the gradient where the maximum was and zero elsewhere.</summary>
    private unsafe void BackwardPairs(ReadOnlySpan<float> g, ReadOnlySpan<int> argmax, Span<float> dx)
    {
        // The windows cover every input only when both sizes are even; otherwise the dropped row or column stays zero.
        if (2 * OutWidth != Width || 2 * OutHeight != Height) dx.Clear();
        fixed (float* pg = g, px = dx)
        fixed (int* pa = argmax)
            BackwardBlocks(pg, pa, px, 0, _blocks.Length);
    }

    private unsafe void BackwardBlocks(float* pg, int* pa, float* px, int from, int to)
    {
        if (_lanes == 8) BackwardBlocks8(pg, pa, px, from, to);
        else BackwardBlocks4(pg, pa, px, from, to);
    }

    private unsafe void BackwardBlocks4(float* pg, int* pa, float* px, int from, int to)
    {
        var offsets = new WindowOffsets(Width);
        for (int b = from; b < to; b += 2)
        {
            int o = _blocks[b], top = _blocks[b + 1];
            var code = Sse2.LoadVector128(pa + o) - (Vector128.Create(top) + WindowOffsets.Lanes);
            var gv = Sse.LoadVector128(pg + o);
            var e0 = gv & Vector128.Equals(code, Vector128<int>.Zero).AsSingle();
            var o0 = gv & Vector128.Equals(code, offsets.Right).AsSingle();
            var e1 = gv & Vector128.Equals(code, offsets.Below).AsSingle();
            var o1 = gv & Vector128.Equals(code, offsets.BelowRight).AsSingle();
            float* r0 = px + top, r1 = r0 + Width;
            Sse.Store(r0, Sse.UnpackLow(e0, o0));
            Sse.Store(r0 + 4, Sse.UnpackHigh(e0, o0));
            Sse.Store(r1, Sse.UnpackLow(e1, o1));
            Sse.Store(r1 + 4, Sse.UnpackHigh(e1, o1));
        }
    }

    /// <summary><see cref="BackwardBlocks4"/> eight outputs at a time: each row's sixteen inputs from two in-lane interleaves.</summary>
    private unsafe void BackwardBlocks8(float* pg, int* pa, float* px, int from, int to)
    {
        var offsets = new WindowOffsets(Width);
        var right = Vector256.Create(offsets.Right, offsets.Right);
        var below = Vector256.Create(offsets.Below, offsets.Below);
        var belowRight = Vector256.Create(offsets.BelowRight, offsets.BelowRight);
        for (int b = from; b < to; b += 2)
        {
            int o = _blocks[b], top = _blocks[b + 1];
            var code = Avx.LoadVector256(pa + o) - (Vector256.Create(top) + WindowMax.Tops8);
            var gv = Avx.LoadVector256(pg + o);
            var e0 = gv & Vector256.Equals(code, Vector256<int>.Zero).AsSingle();
            var o0 = gv & Vector256.Equals(code, right).AsSingle();
            var e1 = gv & Vector256.Equals(code, below).AsSingle();
            var o1 = gv & Vector256.Equals(code, belowRight).AsSingle();
            float* r0 = px + top, r1 = r0 + Width;
            // Unpacking interleaves within each 128-bit lane: outputs 0 1 | 4 5 and 2 3 | 6 7.
            var low0 = Avx.UnpackLow(e0, o0);
            var high0 = Avx.UnpackHigh(e0, o0);
            var low1 = Avx.UnpackLow(e1, o1);
            var high1 = Avx.UnpackHigh(e1, o1);
            Avx.Store(r0, Avx.Permute2x128(low0, high0, 0x20));
            Avx.Store(r0 + 8, Avx.Permute2x128(low0, high0, 0x31));
            Avx.Store(r1, Avx.Permute2x128(low1, high1, 0x20));
            Avx.Store(r1 + 8, Avx.Permute2x128(low1, high1, 0x31));
        }
    }

    /// <summary>
    /// The blocks of <paramref name="lanes"/> outputs of a sample for the 2×2 path, as (first output, its window's top-left
    /// input) pairs; a row whose width is not a multiple of the lanes ends with a block moved back to overlap the one before (its outputs are written twice, alike).
    /// </summary>
    private static int[] PairBlocks(int channels, int height, int width, int lanes)
    {
        int outHeight = height / 2, outWidth = width / 2;
        if (outWidth < lanes) return [];
        var blocks = new List<int>();
        for (int c = 0, o = 0; c < channels; c++)
            for (int oh = 0; oh < outHeight; oh++, o += outWidth)
                for (int ow = 0; ow < outWidth; ow += lanes)
                {
                    int at = Math.Min(ow, outWidth - lanes);
                    blocks.Add(o + at);
                    blocks.Add((c * height + 2 * oh) * width + 2 * at);
                }
        return [.. blocks];
    }

    /// <summary>Where each of a window's four inputs sits relative to its top-left one, per lane of four outputs.</summary>
    private readonly struct WindowOffsets(int width)
    {
        public static Vector128<int> Lanes => Vector128.Create(0, 2, 4, 6);
        public Vector128<int> Right { get; } = Vector128.Create(1);
        public Vector128<int> Below { get; } = Vector128.Create(width);
        public Vector128<int> BelowRight { get; } = Vector128.Create(width + 1);
    }
}

/// <summary>Mean of each size×size window per channel.</summary>
public sealed class AvgPool2d(int channels, int height, int width, int size, int stride)
    : Pool2d(channels, height, width, size, stride)
{
    private protected override void ForwardRows(int lo, int hi)
    {
        var x = _input!;
        int plane = Height * Width;
        float scale = 1f / (Size * Size);
        var y = _output.Data;
        int o = lo * OutputWidth;
        for (int s = lo; s < hi; s++)
        {
            var row = x.Row(s);
            for (int c = 0; c < Channels; c++)
                for (int oh = 0; oh < OutHeight; oh++)
                    for (int ow = 0; ow < OutWidth; ow++, o++)
                    {
                        int top = c * plane + oh * Stride * Width + ow * Stride;
                        float sum = 0f;
                        for (int i = 0; i < Size; i++) sum += TensorPrimitives.Sum(row.Slice(top + i * Width, Size));
                        y[o] = sum * scale;
                    }
        }
    }

    private protected override void BackwardRows(Tensor dy, int lo, int hi)
    {
        int plane = Height * Width;
        float scale = 1f / (Size * Size);
        for (int s = lo; s < hi; s++)
        {
            var dx = _inputGrad.Row(s);
            dx.Clear();
            var g = dy.Row(s);
            int o = 0;
            for (int c = 0; c < Channels; c++)
                for (int oh = 0; oh < OutHeight; oh++)
                    for (int ow = 0; ow < OutWidth; ow++, o++)
                    {
                        int top = c * plane + oh * Stride * Width + ow * Stride;
                        float share = g[o] * scale;
                        for (int i = 0; i < Size; i++)
                        {
                            var line = dx.Slice(top + i * Width, Size);
                            TensorPrimitives.Add(line, share, line);
                        }
                    }
        }
    }
}

/// <summary>Mean of each channel over the whole image: [C, H, W] → [C, 1, 1].</summary>
public sealed class GlobalAvgPool2d : Layer
{
    private readonly Tensor _output = new(0, 0);
    private readonly Tensor _inputGrad = new(0, 0);
    private Tensor? _input;

    public GlobalAvgPool2d(int channels, int plane)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(plane);
        (Channels, Plane) = (channels, plane);
    }

    public int Channels { get; }
    /// <summary>H·W of the input.</summary>
    public int Plane { get; }
    public override int OutputWidth => Channels;

    public override Tensor Forward(Tensor x, bool training)
    {
        ActivationShapes.Check(x, Channels * Plane);
        _input = x;
        _output.Resize(x.Rows, Channels);
        float scale = 1f / Plane;
        var y = _output.Data;
        for (int s = 0, o = 0; s < x.Rows; s++)
        {
            var row = x.Row(s);
            for (int c = 0; c < Channels; c++, o++) y[o] = TensorPrimitives.Sum(row.Slice(c * Plane, Plane)) * scale;
        }
        return _output;
    }

    public override Tensor Backward(Tensor dy)
    {
        ActivationShapes.CheckBackward(_input is null ? null : _output, dy);
        _inputGrad.Resize(dy.Rows, Channels * Plane);
        float scale = 1f / Plane;
        for (int s = 0; s < dy.Rows; s++)
        {
            var dx = _inputGrad.Row(s);
            var g = dy.Row(s);
            for (int c = 0; c < Channels; c++) dx.Slice(c * Plane, Plane).Fill(g[c] * scale);
        }
        return _inputGrad;
    }
}

/// <summary>[C, H, W] → [C·H·W]: rows are already NCHW in memory, so this is the identity on the data.</summary>
public sealed class Flatten(int width) : Layer
{
    public override int OutputWidth => width;

    public override Tensor Forward(Tensor x, bool training)
    {
        ActivationShapes.Check(x, width);
        return x;
    }

    public override Tensor Backward(Tensor dy)
    {
        ActivationShapes.Check(dy, width);
        return dy;
    }
}
