using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// Inverted dropout: in training each unit is kept with probability 1 − rate and scaled by 1/(1 − rate),
/// so the expected activation is unchanged and evaluation is the identity. The mask is drawn from the
/// network's <see cref="Rng"/> (row-major, one draw per unit) and reused by <see cref="Backward"/>.
/// </summary>
public sealed class Dropout : Layer
{
    private readonly int _width;
    private readonly Tensor _output = new(0, 0);
    private readonly Tensor _inputGrad = new(0, 0);
    private readonly Tensor _mask = new(0, 0);
    private float[]? _fixedKeep;
    private bool _masked;
    private bool _ready;

    public Dropout(int width, float rate, Rng rng)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if (!(rate is >= 0f and < 1f)) throw new ArgumentOutOfRangeException(nameof(rate), rate, "Dropout rate must be in [0, 1).");
        _width = width;
        Rate = rate;
        Rng = rng;
    }

    public float Rate { get; }

    /// <summary>Source of the masks; replaceable so a resumed training run can continue the saved random stream.</summary>
    public Rng Rng { get; set; }
    public override int OutputWidth => _width;

    /// <summary>
    /// For tests: use this row-major keep mask (1 = keep, 0 = drop) instead of drawing one; its length
    /// must equal rows·width of the batch. Null returns to random masks.
    /// </summary>
    internal void SetMask(float[]? keep) => _fixedKeep = keep;

    public override Tensor Forward(Tensor x, bool training)
    {
        ActivationShapes.Check(x, _width);
        _output.Resize(x.Rows, x.Cols);
        _masked = training && Rate > 0f;
        if (!_masked) x.Span.CopyTo(_output.Span);
        else
        {
            var mask = _mask.Resize(x.Rows, x.Cols).Span;
            float scale = 1f / (1f - Rate);
            if (_fixedKeep is { } keep)
            {
                if (keep.Length != mask.Length) throw new InvalidOperationException($"Fixed mask has {keep.Length} values, the batch {mask.Length}.");
                TensorPrimitives.Multiply(keep, scale, mask);
            }
            else
            {
                // P(u ≥ rate) = 1 − rate for u uniform in [0, 1).
                for (int i = 0; i < mask.Length; i++) mask[i] = Rng.NextSingle() >= Rate ? scale : 0f;
            }
            TensorPrimitives.Multiply(x.Span, mask, _output.Span);
        }
        _ready = true;
        return _output;
    }

    public override Tensor Backward(Tensor dy)
    {
        ActivationShapes.CheckBackward(_ready ? _output : null, dy);
        _inputGrad.Resize(dy.Rows, dy.Cols);
        if (_masked) TensorPrimitives.Multiply(dy.Span, _mask.Span, _inputGrad.Span);
        else dy.Span.CopyTo(_inputGrad.Span);
        return _inputGrad;
    }
}
