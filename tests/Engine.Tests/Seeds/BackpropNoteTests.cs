using Engine.Layers;
using Engine.Losses;
using Engine.Specs;
using Engine.Tensors;

namespace Engine.Tests.Seeds;

/// <summary>
/// The worked examples of the source notes (/work/shared/seeds). Note 000 is column-major
/// (Z = W·X, samples are columns); the engine is row-major (Y = X·W), so its W is the note's Wᵀ and its
/// gradients are the notes' transposed: the note's W2ᵀ·dZ2 is the engine's dY·Wᵀ.
/// </summary>
public class BackpropNoteTests
{
    private static void Set(float[] target, params float[] values) => values.CopyTo(target, 0);

    [Fact]
    public void Note000Section58TransposedWeightTimesGradientIsTwoPointTwoAndTwoPointEight()
    {
        // Note: W2 = [[1,2],[3,4],[5,6]] (3×2), dZ2 = [0.1,0.2,0.3]ᵀ. Engine W (in=2, out=3) = W2ᵀ.
        var dense = new Dense(2, 3);
        Set(dense.Weight.Value, 1, 3, 5, 2, 4, 6);
        dense.Forward(new Tensor(1, 2), training: true);
        var dx = dense.Backward(Tensor.FromRows([[0.1f, 0.2f, 0.3f]]));
        Assert.Equal(2.2f, dx[0, 0], 5);
        Assert.Equal(2.8f, dx[0, 1], 5);
    }

    [Fact]
    public void Note000Section61HiddenGradientMatchesTheWorkedNumbers()
    {
        // Note: W2 = [[0.5,0.3,-0.2,0.7]] (1×4), dZ2 = [[0.1,-0.3]] (two samples as columns),
        // g1'(Z1) = [[0.2,0.1],[0.4,0.3],[0.1,0.2],[0.3,0.4]]. The activation is a real Tanh layer whose
        // input is chosen so that tanh'(z) = 1 − tanh²(z) equals the note's g1' at every position.
        float[,] g1 = { { 0.2f, 0.1f }, { 0.4f, 0.3f }, { 0.1f, 0.2f }, { 0.3f, 0.4f } };
        var z1 = new Tensor(2, 4); // row = sample, the transpose of the note's 4×2
        for (int unit = 0; unit < 4; unit++)
            for (int sample = 0; sample < 2; sample++)
                z1[sample, unit] = (float)Math.Atanh(Math.Sqrt(1 - g1[unit, sample]));

        var tanh = new Tanh(4);
        var dense = new Dense(4, 1);
        Set(dense.Weight.Value, 0.5f, 0.3f, -0.2f, 0.7f);
        dense.Forward(tanh.Forward(z1, training: true), training: true);
        var dZ1 = tanh.Backward(dense.Backward(Tensor.FromRows([[0.1f], [-0.3f]])));

        float[,] expected = { { 0.01f, -0.015f }, { 0.012f, -0.027f }, { -0.002f, 0.012f }, { 0.021f, -0.084f } };
        for (int unit = 0; unit < 4; unit++)
            for (int sample = 0; sample < 2; sample++)
                Assert.Equal(expected[unit, sample], dZ1[sample, unit], 4);
    }

    [Fact]
    public void Note001MatrixFormulasMatchTheNetworkGradients()
    {
        // 10 → 15 → sigmoid → 5 → sigmoid, E = ½Σ(Z2 − T)², one sample: the engine's MSE with N = 1.
        var spec = new ModelSpec([10], [new DenseSpec(15, InitKind.Xavier), new SigmoidSpec(), new DenseSpec(5, InitKind.Xavier), new SigmoidSpec()], LossKind.Mse);
        var net = Network.Create(spec, new Rng(42));
        var x = RandomRow(10, 43);
        var t = RandomRow(5, 44);
        for (int j = 0; j < 5; j++) t[0, j] = 0.5f + 0.4f * t[0, j];

        net.ZeroGrad();
        var z2 = net.Forward(x, training: true);
        net.ComputeLoss(z2, Targets.FromRows(t.Span.ToArray(), 5));
        net.Backward();

        // The notes' formulas, evaluated directly in double from the forward activations.
        double[] z1 = [.. net.Layers[1].Forward(net.Layers[0].Forward(x, false), false).Span.ToArray().Select(v => (double)v)];
        var w2 = (Dense)net.Layers[2];
        var w1 = (Dense)net.Layers[0];
        double[] delta2 = new double[5]; // (Z2 − T) ⊙ Z2 ⊙ (1 − Z2)
        for (int j = 0; j < 5; j++) delta2[j] = (z2[0, j] - t[0, j]) * z2[0, j] * (1 - z2[0, j]);

        for (int i = 0; i < 15; i++)
            for (int j = 0; j < 5; j++)
                Assert.Equal(z1[i] * delta2[j], w2.Weight.Grad[i * 5 + j], 6); // ∂E/∂W2 = Z1ᵀ·δ2
        for (int j = 0; j < 5; j++) Assert.Equal(delta2[j], w2.Bias.Grad[j], 6); // ∂E/∂B2 = δ2

        // ∂E/∂Z1 = δ2·W2ᵀ, then through the first sigmoid and ∂E/∂W1 = Xᵀ·δ1.
        for (int i = 0; i < 15; i++)
        {
            double dz1 = 0;
            for (int j = 0; j < 5; j++) dz1 += delta2[j] * w2.Weight.Value[i * 5 + j];
            double delta1 = dz1 * z1[i] * (1 - z1[i]);
            Assert.Equal(delta1, w1.Bias.Grad[i], 6);
            for (int k = 0; k < 10; k++) Assert.Equal(x[0, k] * delta1, w1.Weight.Grad[k * 15 + i], 6);
        }
    }

    private static Tensor RandomRow(int width, ulong seed)
    {
        var rng = new Rng(seed);
        var t = new Tensor(1, width);
        for (int i = 0; i < width; i++) t[0, i] = 2f * rng.NextSingle() - 1f;
        return t;
    }
}
