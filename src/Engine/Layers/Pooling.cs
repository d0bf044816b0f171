using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Tensors;

namespace Engine.Layers;

/// <summary>Geometry shared by the window pooling layers: [C, H, W] → [C, OH, OW], no padding (as PyTorch's default).</summary>
public abstract class Pool2d : Layer
{
    private protected readonly Tensor _output = new(0, 0);
    private protected readonly Tensor _inputGrad = new(0, 0);
    private protected Tensor? _input;

    private protected Pool2d(int channels, int height, int width, int size, int stride)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stride);
        if (size > height || size > width) throw new ArgumentException($"Window {size} is larger than the input {height}×{width}.", nameof(size));
        (Channels, Height, Width, Size, Stride) = (channels, height, width, size, stride);
        OutHeight = (height - size) / stride + 1;
        OutWidth = (width - size) / stride + 1;
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

    private protected void CheckForward(Tensor x)
    {
        if (x.Cols != InputWidth) throw new ArgumentException($"{GetType().Name} expects {InputWidth} input columns, got {x.Cols}.", nameof(x));
        _input = x;
        _output.Resize(x.Rows, OutputWidth);
    }

    private protected Tensor CheckBackward(Tensor dy)
    {
        var x = _input ?? throw new InvalidOperationException("Backward called before Forward.");
        if (dy.Rows != x.Rows || dy.Cols != OutputWidth)
            throw new ArgumentException($"{GetType().Name} expects a {x.Rows}×{OutputWidth} gradient, got {dy.Rows}×{dy.Cols}.", nameof(dy));
        _inputGrad.Resize(x.Rows, InputWidth);
        _inputGrad.Clear();
        return x;
    }
}

/// <summary>
/// Maximum of each size×size window per channel. Forward keeps the input index of each window's maximum (the
/// first one on ties, as PyTorch), and backward routes each output gradient to it.
/// </summary>
public sealed class MaxPool2d(int channels, int height, int width, int size, int stride)
    : Pool2d(channels, height, width, size, stride)
{
    private int[] _argmax = [];

    /// <summary>For each output of the last forward pass, the index of its maximum within its sample's input row.</summary>
    public ReadOnlySpan<int> Argmax => _argmax.AsSpan(0, (_input?.Rows ?? 0) * OutputWidth);

    public override Tensor Forward(Tensor x, bool training)
    {
        CheckForward(x);
        int n = x.Rows, plane = Height * Width;
        if (_argmax.Length < n * OutputWidth) _argmax = new int[n * OutputWidth];
        var y = _output.Data;
        int o = 0;
        for (int s = 0; s < n; s++)
        {
            var row = x.Row(s);
            for (int c = 0; c < Channels; c++)
                for (int oh = 0; oh < OutHeight; oh++)
                    for (int ow = 0; ow < OutWidth; ow++, o++)
                    {
                        int top = c * plane + oh * Stride * Width + ow * Stride, best = top;
                        float max = row[top];
                        for (int i = 0; i < Size; i++)
                        {
                            var line = row.Slice(top + i * Width, Size);
                            for (int j = 0; j < Size; j++)
                                if (line[j] > max || float.IsNaN(line[j]) && !float.IsNaN(max)) { max = line[j]; best = top + i * Width + j; }
                        }
                        y[o] = max;
                        _argmax[o] = best;
                    }
        }
        return _output;
    }

    public override Tensor Backward(Tensor dy)
    {
        var x = CheckBackward(dy);
        int outWidth = OutputWidth;
        for (int s = 0; s < x.Rows; s++)
        {
            var dx = _inputGrad.Row(s);
            var g = dy.Row(s);
            var index = _argmax.AsSpan(s * outWidth, outWidth);
            for (int o = 0; o < outWidth; o++) dx[index[o]] += g[o];
        }
        return _inputGrad;
    }
}

/// <summary>Mean of each size×size window per channel.</summary>
public sealed class AvgPool2d(int channels, int height, int width, int size, int stride)
    : Pool2d(channels, height, width, size, stride)
{
    public override Tensor Forward(Tensor x, bool training)
    {
        CheckForward(x);
        int plane = Height * Width;
        float scale = 1f / (Size * Size);
        var y = _output.Data;
        int o = 0;
        for (int s = 0; s < x.Rows; s++)
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
        return _output;
    }

    public override Tensor Backward(Tensor dy)
    {
        var x = CheckBackward(dy);
        int plane = Height * Width;
        float scale = 1f / (Size * Size);
        for (int s = 0; s < x.Rows; s++)
        {
            var dx = _inputGrad.Row(s);
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
        return _inputGrad;
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
