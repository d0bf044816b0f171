using Engine.Specs;
using Engine.Tensors;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// First two steps of every optimizer on W₀ = [1, −2] with g₁ = [0.5, 0.25], g₂ = [−0.5, 1], η = 0.1,
/// against values worked out by hand from the update rules (digits checked in double precision).
/// Float32 arithmetic allows about 1e-6 absolute error here.
/// </summary>
public class OptimizerTests
{
    private static readonly float[] G1 = [0.5f, 0.25f], G2 = [-0.5f, 1f];
    private const double Tolerance = 2e-6;

    private static (float[] After1, float[] After2) TwoSteps(OptimizerKind kind, float weightDecay = 0f, bool decays = true)
    {
        var p = new Parameter("w", [2], decays);
        p.Value[0] = 1f; p.Value[1] = -2f;
        var opt = Optimizer.Create(new OptimizerSpec(kind, 0.1f), weightDecay);
        G1.CopyTo(p.Grad, 0);
        opt.Step([p]);
        float[] after1 = [.. p.Value];
        G2.CopyTo(p.Grad, 0);
        opt.Step([p]);
        return (after1, [.. p.Value]);
    }

    private static void Close(double[] expected, float[] actual)
    {
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) < Tolerance, $"[{i}] expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void SgdStepsAgainstTheNegativeGradient()
    {
        // W₁ = W₀ − 0.1·g₁; W₂ = W₁ − 0.1·g₂.
        var (a, b) = TwoSteps(OptimizerKind.Sgd);
        Close([0.95, -2.025], a);
        Close([1.0, -2.125], b);
    }

    [Fact]
    public void MomentumAccumulatesVelocity()
    {
        // v₁ = −0.1·g₁ = [−0.05, −0.025]; v₂ = 0.9·v₁ − 0.1·g₂ = [0.005, −0.1225].
        var (a, b) = TwoSteps(OptimizerKind.Momentum);
        Close([0.95, -2.025], a);
        Close([0.955, -2.1475], b);
    }

    [Fact]
    public void NesterovStepsFromTheLookAheadPoint()
    {
        // W₁ = W₀ + 0.9·v₁ − 0.1·g₁ = [0.905, −2.0475]; W₂ = W₁ + 0.9·[0.005, −0.1225] − 0.1·g₂.
        var (a, b) = TwoSteps(OptimizerKind.Nesterov);
        Close([0.905, -2.0475], a);
        Close([0.9595, -2.25775], b);
    }

    [Fact]
    public void AdaGradDividesBySquareRootOfSummedSquares()
    {
        // h₁ = [0.25, 0.0625] → step 0.1·sign(g₁); h₂ = [0.5, 1.0625] → 0.1·[−0.5/√0.5, 1/√1.0625].
        var (a, b) = TwoSteps(OptimizerKind.AdaGrad);
        Close([0.9, -2.1], a);
        Close([0.970710679, -2.197014245], b);
    }

    [Fact]
    public void RmsPropUsesADecayingAverageOfSquares()
    {
        // ρ = 0.9: h₁ = 0.1·g₁² = [0.025, 0.00625]; h₂ = 0.9·h₁ + 0.1·g₂² = [0.0475, 0.105625].
        var (a, b) = TwoSteps(OptimizerKind.RmsProp);
        Close([0.683772254, -2.316227726], a);
        Close([0.913187977, -2.623920024], b);
    }

    [Fact]
    public void AdamIsBiasCorrected()
    {
        // Step 1: m̂ = g₁, v̂ = g₁², so the step is η·sign(g₁). Step 2: m = [−0.005, 0.1225], m̂ = m/0.19;
        // v = [0.00049975, 0.0010624375], v̂ = v/0.001999 = [0.25, 0.53148...].
        var (a, b) = TwoSteps(OptimizerKind.Adam);
        Close([0.9, -2.1], a);
        Close([0.905263160, -2.188437644], b);
    }

    [Fact]
    public void AdamWDiffersFromAdamWithL2ExactlyByTheDecoupledDecay()
    {
        // With L2 the decay enters g and Adam's normalisation cancels it on step 1 (g + λW has g's signs here);
        // AdamW instead shrinks W by η·λ·W: W₁ = 0.99·W₀ − 0.1·sign(g₁) = [0.89, −2.08].
        var (adamL2, _) = TwoSteps(OptimizerKind.Adam, weightDecay: 0.1f);
        var (adamW, _) = TwoSteps(OptimizerKind.AdamW, weightDecay: 0.1f);
        Close([0.9, -2.1], adamL2);
        Close([0.89, -2.08], adamW);
        Close([-0.01, 0.02], [adamW[0] - adamL2[0], adamW[1] - adamL2[1]]);
    }

    [Fact]
    public void AdamWIsPlainAdamWithoutDecay()
    {
        var (a1, a2) = TwoSteps(OptimizerKind.Adam);
        var (w1, w2) = TwoSteps(OptimizerKind.AdamW);
        Assert.Equal(a1, w1);
        Assert.Equal(a2, w2);
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Momentum)]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.AdamW)]
    public void WeightDecaySkipsParametersThatDoNotDecay(OptimizerKind kind)
    {
        var (a1, a2) = TwoSteps(kind, weightDecay: 0.5f, decays: false);
        var (b1, b2) = TwoSteps(kind, weightDecay: 0f, decays: false);
        Assert.Equal(b1, a1);
        Assert.Equal(b2, a2);
    }

    [Fact]
    public void L2AddsLambdaTimesWeightToTheGradientOfWeightsOnly()
    {
        // SGD with λ = 0.5: W₁ = W₀ − 0.1·(g₁ + 0.5·W₀) = [0.9, −1.925].
        var (a, _) = TwoSteps(OptimizerKind.Sgd, weightDecay: 0.5f);
        Close([0.9, -1.925], a);
    }

    [Fact]
    public void NetworkBiasesAndBatchNormParametersAreNeverDecayed()
    {
        var spec = new ModelSpec([3], [new DenseSpec(4), new BatchNormSpec(), new ReluSpec(), new DenseSpec(2)], LossKind.SoftmaxCrossEntropy);
        var net = Network.Create(spec, new Rng(1));
        foreach (var p in net.Parameters) Array.Fill(p.Value, 1f);
        // Zero gradients: only the decay can move anything.
        Optimizer.Create(new OptimizerSpec(OptimizerKind.Sgd, 0.1f), 0.5f).Step(net.Parameters);
        foreach (var p in net.Parameters)
            Assert.All(p.Value, v => Assert.Equal(p.Name is "layers.0.weight" or "layers.3.weight" ? 0.95f : 1f, v));
    }

    [Fact]
    public void ClippingScalesTheGlobalNormDownAndLeavesSmallGradientsAlone()
    {
        var a = new Parameter("a", [2], true);
        var b = new Parameter("b", [1], false);
        a.Grad[0] = 3f; a.Grad[1] = 0f; b.Grad[0] = 4f;
        Assert.Equal(5.0, Optimizer.ClipGlobalNorm([a, b], 10f), 6);
        Assert.Equal([3f, 0f], a.Grad);
        Assert.Equal(5.0, Optimizer.ClipGlobalNorm([a, b], 1f), 6);
        Assert.Equal(0.6f, a.Grad[0], 6);
        Assert.Equal(0.8f, b.Grad[0], 6);
    }

    [Theory]
    [InlineData(OptimizerKind.Nesterov)]
    [InlineData(OptimizerKind.RmsProp)]
    [InlineData(OptimizerKind.AdamW)]
    public void SavedStateContinuesIdentically(OptimizerKind kind)
    {
        var spec = new OptimizerSpec(kind, 0.05f);
        var p = new Parameter("w", [3], true);
        float[] w0 = [0.3f, -0.7f, 1.1f];
        w0.CopyTo(p.Value, 0);
        var opt = Optimizer.Create(spec, 0.01f);
        for (int i = 0; i < 3; i++) { G1.CopyTo(p.Grad, 0); p.Grad[2] = i; opt.Step([p]); }
        using var ms = new MemoryStream();
        opt.WriteState(ms);
        var q = new Parameter("w", [3], true);
        p.Value.CopyTo(q.Value, 0);
        var restored = Optimizer.Create(spec, 0.01f);
        restored.ReadState(ms.ToArray(), [q]);
        Assert.Equal(opt.Steps, restored.Steps);
        G2.CopyTo(p.Grad, 0); G2.CopyTo(q.Grad, 0);
        p.Grad[2] = q.Grad[2] = 0.3f;
        opt.Step([p]);
        restored.Step([q]);
        Assert.Equal(p.Value, q.Value);
    }

    [Fact]
    public void StateOfAnotherOptimizerIsRejected()
    {
        var p = new Parameter("w", [2], true);
        var adam = Optimizer.Create(new OptimizerSpec(OptimizerKind.Adam), 0f);
        adam.Step([p]);
        using var ms = new MemoryStream();
        adam.WriteState(ms);
        var rms = Optimizer.Create(new OptimizerSpec(OptimizerKind.RmsProp), 0f);
        Assert.Throws<InvalidTrainingStateException>(() => rms.ReadState(ms.ToArray(), [p]));
        var adam2 = Optimizer.Create(new OptimizerSpec(OptimizerKind.Adam), 0f);
        Assert.Throws<InvalidTrainingStateException>(() => adam2.ReadState(ms.ToArray().AsSpan(0, 30), [p]));
    }
}
