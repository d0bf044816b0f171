using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Tensors;

namespace Engine.Layers;

/// <summary>y = max(x, 0); the gradient at exactly 0 is taken as 0, as in PyTorch.</summary>
public sealed class Relu(int width) : Layer
{
    private readonly Tensor _output = new(0, 0);
    private readonly Tensor _inputGrad = new(0, 0);
    private Tensor? _input;

    public override int OutputWidth => width;

    public override Tensor Forward(Tensor x, bool training)
    {
        ActivationShapes.Check(x, width);
        _input = x;
        _output.Resize(x.Rows, x.Cols);
        TensorPrimitives.Max(x.Span, 0f, _output.Span);
        return _output;
    }

    public override Tensor Backward(Tensor dy)
    {
        var x = ActivationShapes.CheckBackward(_input, dy);
        _inputGrad.Resize(dy.Rows, dy.Cols);
        SpanMath.SelectPositive(x.Span, dy.Span, 0f, _inputGrad.Span);
        return _inputGrad;
    }
}

internal static class ActivationShapes
{
    public static void Check(Tensor x, int width)
    {
        if (x.Cols != width) throw new ArgumentException($"Layer expects {width} input columns, got {x.Cols}.", nameof(x));
    }

    /// <summary>Returns the tensor Forward saw after checking dy has its shape.</summary>
    public static Tensor CheckBackward(Tensor? saved, Tensor dy)
    {
        var s = saved ?? throw new InvalidOperationException("Backward called before Forward.");
        if (dy.Rows != s.Rows || dy.Cols != s.Cols)
            throw new ArgumentException($"Gradient is {dy.Rows}×{dy.Cols} but the forward output was {s.Rows}×{s.Cols}.", nameof(dy));
        return s;
    }
}
