using Engine.Specs;
using Engine.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Engine.Training;

/// <summary>W ← W − η·g.</summary>
public sealed class Sgd(OptimizerSpec spec, float weightDecay) : Optimizer(spec, weightDecay)
{
    public override OptimizerKind Kind => OptimizerKind.Sgd;
    protected override int SlotCount => 0;

    protected override void Step(Parameter p, float[][] slots) => TensorPrimitives.MultiplyAdd(p.Grad, -LearningRate, p.Value, p.Value);
}

/// <summary>The book's momentum: v ← α·v − η·g; W ← W + v (α = <see cref="OptimizerSpec.Momentum"/>).</summary>
public sealed class Momentum(OptimizerSpec spec, float weightDecay) : Optimizer(spec, weightDecay)
{
    public override OptimizerKind Kind => OptimizerKind.Momentum;
    protected override int SlotCount => 1;

    protected override void Step(Parameter p, float[][] slots)
    {
        var v = slots[0];
        TensorPrimitives.Multiply(v, Spec.Momentum, v);
        TensorPrimitives.MultiplyAdd(p.Grad, -LearningRate, v, v);
        TensorPrimitives.Add(p.Value, v, p.Value);
    }
}

/// <summary>
/// Nesterov momentum in the look-ahead form Sutskever et al. and PyTorch use:
/// v ← α·v − η·g; W ← W + α·v − η·g (the step taken from where momentum would carry W).
/// (The book's code uses a different algebraic form; this one is the common reference, so results compare with PyTorch.)
/// </summary>
public sealed class Nesterov(OptimizerSpec spec, float weightDecay) : Optimizer(spec, weightDecay)
{
    public override OptimizerKind Kind => OptimizerKind.Nesterov;
    protected override int SlotCount => 1;

    protected override void Step(Parameter p, float[][] slots)
    {
        var v = slots[0];
        TensorPrimitives.Multiply(v, Spec.Momentum, v);
        TensorPrimitives.MultiplyAdd(p.Grad, -LearningRate, v, v);
        TensorPrimitives.MultiplyAdd(v, Spec.Momentum, p.Value, p.Value);
        TensorPrimitives.MultiplyAdd(p.Grad, -LearningRate, p.Value, p.Value);
    }
}

/// <summary>h ← h + g⊙g; W ← W − η·g / (√h + ε).</summary>
public sealed class AdaGrad(OptimizerSpec spec, float weightDecay) : Optimizer(spec, weightDecay)
{
    public override OptimizerKind Kind => OptimizerKind.AdaGrad;
    protected override int SlotCount => 1;

    protected override void Step(Parameter p, float[][] slots)
    {
        var h = slots[0];
        TensorPrimitives.MultiplyAdd(p.Grad, p.Grad, h, h);
        RmsProp.ScaledUpdate(p, h, LearningRate, Spec.Epsilon, Scratch(h.Length));
    }
}

/// <summary>h ← ρ·h + (1 − ρ)·g⊙g; W ← W − η·g / (√h + ε), with ρ = <see cref="OptimizerSpec.Momentum"/>.</summary>
public sealed class RmsProp(OptimizerSpec spec, float weightDecay) : Optimizer(spec, weightDecay)
{
    public override OptimizerKind Kind => OptimizerKind.RmsProp;
    protected override int SlotCount => 1;

    protected override void Step(Parameter p, float[][] slots)
    {
        var h = slots[0];
        var sq = Scratch(h.Length);
        TensorPrimitives.Multiply(p.Grad, p.Grad, sq);
        TensorPrimitives.Multiply(h, Spec.Momentum, h);
        TensorPrimitives.MultiplyAdd(sq, 1f - Spec.Momentum, h, h);
        ScaledUpdate(p, h, LearningRate, Spec.Epsilon, sq);
    }

    /// <summary>W ← W − η·g / (√h + ε), shared with AdaGrad.</summary>
    internal static void ScaledUpdate(Parameter p, float[] h, float lr, float epsilon, Span<float> scratch)
    {
        TensorPrimitives.Sqrt<float>(h, scratch);
        TensorPrimitives.Add(scratch, epsilon, scratch);
        TensorPrimitives.Divide(p.Grad, scratch, scratch);
        TensorPrimitives.MultiplyAdd(scratch, -lr, p.Value, p.Value);
    }
}

/// <summary>
/// Adam with bias correction: m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g⊙g;
/// W ← W − η·m̂ / (√v̂ + ε) with m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ).
/// Weight decay is coupled L2 (λ·W added to g before the moments).
/// </summary>
public class Adam(OptimizerSpec spec, float weightDecay) : Optimizer(spec, weightDecay)
{
    private float _stepScale, _invSqrtCorrection2;

    public override OptimizerKind Kind => OptimizerKind.Adam;
    protected override int SlotCount => 2;

    protected override void BeginStep()
    {
        // Corrections in double: 1 − β^t loses precision in float for β near 1 and small t.
        double c1 = 1 - Math.Pow(Spec.Beta1, Steps), c2 = 1 - Math.Pow(Spec.Beta2, Steps);
        _stepScale = (float)(LearningRate / c1);
        _invSqrtCorrection2 = (float)(1 / Math.Sqrt(c2));
    }

    protected override void Step(Parameter p, float[][] slots)
    {
        float[] m = slots[0], v = slots[1];
        var s = Scratch(m.Length);
        TensorPrimitives.Multiply(m, Spec.Beta1, m);
        TensorPrimitives.MultiplyAdd(p.Grad, 1f - Spec.Beta1, m, m);
        TensorPrimitives.Multiply(p.Grad, p.Grad, s);
        TensorPrimitives.Multiply(v, Spec.Beta2, v);
        TensorPrimitives.MultiplyAdd(s, 1f - Spec.Beta2, v, v);
        // √v̂ + ε = √v / √(1 − β₂ᵗ) + ε; then η/(1 − β₁ᵗ) · m / that.
        TensorPrimitives.Sqrt<float>(v, s);
        TensorPrimitives.Multiply(s, _invSqrtCorrection2, s);
        TensorPrimitives.Add(s, Spec.Epsilon, s);
        TensorPrimitives.Divide(m, s, s);
        BeforeUpdate(p);
        TensorPrimitives.MultiplyAdd(s, -_stepScale, p.Value, p.Value);
    }

    /// <summary>Hook between the moment update and the parameter update (AdamW's decay goes here).</summary>
    protected virtual void BeforeUpdate(Parameter p) { }
}

/// <summary>
/// AdamW (Loshchilov &amp; Hutter): Adam without L2 in the gradient; instead W ← W − η·λ·W on weights
/// (<see cref="Parameter.Decays"/>), from the pre-step W, as PyTorch does. The decay is thus not divided by √v̂.
/// </summary>
public sealed class AdamW(OptimizerSpec spec, float weightDecay) : Adam(spec, weightDecay)
{
    public override OptimizerKind Kind => OptimizerKind.AdamW;
    protected override bool DecoupledDecay => true;

    protected override void BeforeUpdate(Parameter p)
    {
        if (WeightDecay > 0f && p.Decays) TensorPrimitives.Multiply(p.Value, 1f - LearningRate * WeightDecay, p.Value);
    }
}
