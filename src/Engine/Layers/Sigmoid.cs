using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Tensors;

namespace Engine.Layers;

/// <summary>y = 1/(1 + e^{−x}); backward uses the saved output: dx = dy·y·(1 − y).</summary>
public sealed class Sigmoid(int width) : Layer
{
    private readonly Tensor _output = new(0, 0);
    private readonly Tensor _inputGrad = new(0, 0);
    private bool _ready;

    public override int OutputWidth => width;

    public override Tensor Forward(Tensor x, bool training)
    {
        ActivationShapes.Check(x, width);
        _output.Resize(x.Rows, x.Cols);
        TensorPrimitives.Sigmoid(x.Span, _output.Span);
        _ready = true;
        return _output;
    }

    public override Tensor Backward(Tensor dy)
    {
        var y = ActivationShapes.CheckBackward(_ready ? _output : null, dy);
        var dx = _inputGrad.Resize(dy.Rows, dy.Cols).Span;
        TensorPrimitives.Subtract(1f, y.Span, dx);
        TensorPrimitives.Multiply(dx, y.Span, dx);
        TensorPrimitives.Multiply(dx, dy.Span, dx);
        return _inputGrad;
    }
}
