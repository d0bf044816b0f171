using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// Fully connected layer Y = X·W + b with W stored in×out (row-major), so the forward product needs no
/// transpose; backward uses the Gemm transpose flags instead of materializing Wᵀ or Xᵀ.
/// </summary>
public sealed class Dense : Layer
{
    private readonly Tensor _output = new(0, 0);
    private readonly Tensor _inputGrad = new(0, 0);
    private readonly Parameter[] _parameters;
    private Tensor? _input;

    /// <param name="namePrefix">Prefix of the parameter names, e.g. <c>layers.0.</c>.</param>
    public Dense(int inputs, int units, string namePrefix = "")
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(units);
        Inputs = inputs;
        Units = units;
        Weight = new Parameter(namePrefix + "weight", [inputs, units], decays: true);
        Bias = new Parameter(namePrefix + "bias", [units], decays: false);
        _parameters = [Weight, Bias];
    }

    public int Inputs { get; }
    public int Units { get; }
    public override int OutputWidth => Units;

    /// <summary>in×out, row-major.</summary>
    public Parameter Weight { get; }
    public Parameter Bias { get; }
    // Cached: trainers read this every step and must not allocate.
    public override IReadOnlyList<Parameter> Parameters => _parameters;

    public override Tensor Forward(Tensor x, bool training)
    {
        if (x.Cols != Inputs) throw new ArgumentException($"Dense expects {Inputs} input columns, got {x.Cols}.", nameof(x));
        _input = x;
        int n = x.Rows;
        _output.Resize(n, Units);
        Gemm.Multiply(x.Span, Weight.Value, _output.Span, n, Units, Inputs);
        for (int r = 0; r < n; r++)
        {
            var row = _output.Row(r);
            TensorPrimitives.Add(row, Bias.Value, row);
        }
        return _output;
    }

    public override Tensor Backward(Tensor dy)
    {
        BackwardParameters(dy);
        // dX[n×in] = dY·Wᵀ: W is stored in×out, i.e. n×k for transB.
        int n = dy.Rows;
        _inputGrad.Resize(n, Inputs);
        Gemm.Multiply(dy.Span, Weight.Value, _inputGrad.Span, n, Inputs, Units, transB: true);
        return _inputGrad;
    }

    // In the first layer dX is a third of the layer's arithmetic and nobody reads it.
    internal override void BackwardParameters(Tensor dy)
    {
        var x = _input ?? throw new InvalidOperationException("Backward called before Forward.");
        int n = x.Rows;
        if (dy.Rows != n || dy.Cols != Units) throw new ArgumentException($"Dense expects a {n}×{Units} gradient, got {dy.Rows}×{dy.Cols}.", nameof(dy));

        // dW[in×out] += Xᵀ·dY: X is stored n×in, i.e. k×m for transA.
        Gemm.Multiply(x.Span, dy.Span, Weight.Grad, Inputs, Units, n, transA: true, accumulate: true);
        // db += Σ_rows dY, summed in row order so the result does not depend on threading.
        for (int r = 0; r < n; r++) TensorPrimitives.Add(Bias.Grad, dy.Row(r), Bias.Grad);
    }
}
