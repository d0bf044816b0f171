using Engine.Tensors;
using Engine.Training;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Engine.Tests.Training;

/// <summary>
/// The fused optimizer loops give exactly the bits of the update rules written as a chain of
/// TensorPrimitives operations (how the optimizers were first written), in vector lanes and scalar tail.
/// </summary>
public class OptimizerKernelTests
{
    private const float Lr = 0.01f, Rho = 0.9f, Eps = 1e-7f;

    private static float[] Random(int n, ulong seed, bool positive = false)
    {
        var rng = new Rng(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = positive ? rng.NextSingle() : rng.NextGaussian();
        return a;
    }

    public static TheoryData<int> Lengths => [1, 15, 37, 1000];

    [Theory, MemberData(nameof(Lengths))]
    public void MomentumAndNesterovMatchTheChainedFormulas(int n)
    {
        foreach (bool nesterov in new[] { false, true })
        {
            float[] w = Random(n, 1), g = Random(n, 2), v = Random(n, 3);
            float[] w2 = [.. w], v2 = [.. v];
            OptimizerKernels.Momentum(w, g, v, Rho, Lr, nesterov);
            TensorPrimitives.Multiply(v2, Rho, v2);
            TensorPrimitives.MultiplyAdd(g, -Lr, v2, v2);
            if (nesterov)
            {
                TensorPrimitives.MultiplyAdd(v2, Rho, w2, w2);
                TensorPrimitives.MultiplyAdd(g, -Lr, w2, w2);
            }
            else TensorPrimitives.Add(w2, v2, w2);
            Assert.Equal(v2, v);
            Assert.Equal(w2, w);
        }
    }

    [Theory, MemberData(nameof(Lengths))]
    public void AdaGradAndRmsPropMatchTheChainedFormulas(int n)
    {
        foreach (bool adaGrad in new[] { false, true })
        {
            float[] w = Random(n, 4), g = Random(n, 5), h = Random(n, 6, positive: true);
            float[] w2 = [.. w], h2 = [.. h], s = new float[n];
            OptimizerKernels.ScaledBySquares(w, g, h, Rho, Lr, Eps, adaGrad);
            if (adaGrad) TensorPrimitives.MultiplyAdd(g, g, h2, h2);
            else
            {
                TensorPrimitives.Multiply(g, g, s);
                TensorPrimitives.Multiply(h2, Rho, h2);
                TensorPrimitives.MultiplyAdd(s, 1f - Rho, h2, h2);
            }
            TensorPrimitives.Sqrt<float>(h2, s);
            TensorPrimitives.Add(s, Eps, s);
            TensorPrimitives.Divide(g, s, s);
            TensorPrimitives.MultiplyAdd(s, -Lr, w2, w2);
            Assert.Equal(h2, h);
            Assert.Equal(w2, w);
        }
    }

    [Theory, MemberData(nameof(Lengths))]
    public void AdamMatchesTheChainedFormulas(int n)
    {
        const float b1 = 0.9f, b2 = 0.999f, c2 = 1.3f, step = 0.02f;
        foreach (float decay in new[] { 1f, 0.999f })
        {
            float[] w = Random(n, 7), g = Random(n, 8), m = Random(n, 9), v = Random(n, 10, positive: true);
            float[] w2 = [.. w], m2 = [.. m], v2 = [.. v], s = new float[n];
            OptimizerKernels.Adam(w, g, m, v, b1, b2, c2, Eps, step, decay);
            TensorPrimitives.Multiply(m2, b1, m2);
            TensorPrimitives.MultiplyAdd(g, 1f - b1, m2, m2);
            TensorPrimitives.Multiply(g, g, s);
            TensorPrimitives.Multiply(v2, b2, v2);
            TensorPrimitives.MultiplyAdd(s, 1f - b2, v2, v2);
            TensorPrimitives.Sqrt<float>(v2, s);
            TensorPrimitives.Multiply(s, c2, s);
            TensorPrimitives.Add(s, Eps, s);
            TensorPrimitives.Divide(m2, s, s);
            if (decay != 1f) TensorPrimitives.Multiply(w2, decay, w2);
            TensorPrimitives.MultiplyAdd(s, -step, w2, w2);
            Assert.Equal(m2, m);
            Assert.Equal(v2, v);
            Assert.Equal(w2, w);
        }
    }
}
