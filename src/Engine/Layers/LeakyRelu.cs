using Engine.Tensors;

namespace Engine.Layers;

/// <summary>y = x for x &gt; 0, α·x otherwise; the gradient is 1 or α on the same split.</summary>
public sealed class LeakyRelu(int width, float alpha) : Layer
{
    private readonly Tensor _output = new(0, 0);
    private readonly Tensor _inputGrad = new(0, 0);
    private Tensor? _input;

    public float Alpha { get; } = alpha;
    public override int OutputWidth => width;

    public override Tensor Forward(Tensor x, bool training)
    {
        ActivationShapes.Check(x, width);
        _input = x;
        _output.Resize(x.Rows, x.Cols);
        SpanMath.SelectPositive(x.Span, x.Span, Alpha, _output.Span);
        return _output;
    }

    public override Tensor Backward(Tensor dy)
    {
        var x = ActivationShapes.CheckBackward(_input, dy);
        _inputGrad.Resize(dy.Rows, dy.Cols);
        SpanMath.SelectPositive(x.Span, dy.Span, Alpha, _inputGrad.Span);
        return _inputGrad;
    }
}
