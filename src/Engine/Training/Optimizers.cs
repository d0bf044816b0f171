using Engine.Specs;
using Engine.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Engine.Training;

/// <summary>W ← W − η·g.</summary>
public sealed class Sgd(OptimizerSpec spec, float weightDecay) : Optimizer(spec, weightDecay)
{
    public override OptimizerKind Kind => OptimizerKind.Sgd;
    protected override int SlotCount => 0;

    protected override void Step(in ParameterSlice p) => TensorPrimitives.MultiplyAdd(p.Grad, -LearningRate, p.Value, p.Value);
}

/// <summary>The book's momentum: v ← α·v − η·g; W ← W + v (α = <see cref="OptimizerSpec.Momentum"/>).</summary>
public sealed class Momentum(OptimizerSpec spec, float weightDecay) : Optimizer(spec, weightDecay)
{
    public override OptimizerKind Kind => OptimizerKind.Momentum;
    protected override int SlotCount => 1;

    protected override void Step(in ParameterSlice p) =>
        OptimizerKernels.Momentum(p.Value, p.Grad, p.Slot(0), Spec.Momentum, LearningRate, nesterov: false);
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

    protected override void Step(in ParameterSlice p) =>
        OptimizerKernels.Momentum(p.Value, p.Grad, p.Slot(0), Spec.Momentum, LearningRate, nesterov: true);
}

/// <summary>h ← h + g⊙g; W ← W − η·g / (√h + ε).</summary>
public sealed class AdaGrad(OptimizerSpec spec, float weightDecay) : Optimizer(spec, weightDecay)
{
    public override OptimizerKind Kind => OptimizerKind.AdaGrad;
    protected override int SlotCount => 1;

    protected override void Step(in ParameterSlice p) =>
        OptimizerKernels.ScaledBySquares(p.Value, p.Grad, p.Slot(0), 0f, LearningRate, Spec.Epsilon, adaGrad: true);
}

/// <summary>h ← ρ·h + (1 − ρ)·g⊙g; W ← W − η·g / (√h + ε), with ρ = <see cref="OptimizerSpec.Momentum"/>.</summary>
public sealed class RmsProp(OptimizerSpec spec, float weightDecay) : Optimizer(spec, weightDecay)
{
    public override OptimizerKind Kind => OptimizerKind.RmsProp;
    protected override int SlotCount => 1;

    protected override void Step(in ParameterSlice p) =>
        OptimizerKernels.ScaledBySquares(p.Value, p.Grad, p.Slot(0), Spec.Momentum, LearningRate, Spec.Epsilon, adaGrad: false);
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

    protected override void Step(in ParameterSlice p) =>
        OptimizerKernels.Adam(p.Value, p.Grad, p.Slot(0), p.Slot(1), Spec.Beta1, Spec.Beta2, _invSqrtCorrection2,
            Spec.Epsilon, _stepScale, DecayFactor(p.Parameter));

    /// <summary>Factor W is multiplied by before the update (AdamW's decoupled decay); 1 leaves W unchanged.</summary>
    protected virtual float DecayFactor(Parameter p) => 1f;
}

/// <summary>
/// AdamW (Loshchilov &amp; Hutter): Adam without L2 in the gradient; instead W ← W − η·λ·W on weights
/// (<see cref="Parameter.Decays"/>), from the pre-step W, as PyTorch does. The decay is thus not divided by √v̂.
/// </summary>
public sealed class AdamW(OptimizerSpec spec, float weightDecay) : Adam(spec, weightDecay)
{
    public override OptimizerKind Kind => OptimizerKind.AdamW;
    protected override bool DecoupledDecay => true;

    protected override float DecayFactor(Parameter p) => WeightDecay > 0f && p.Decays ? 1f - LearningRate * WeightDecay : 1f;
}
