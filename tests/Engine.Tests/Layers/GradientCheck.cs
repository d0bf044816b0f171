using Engine.Layers;
using Engine.Tensors;

namespace Engine.Tests.Layers;

/// <summary>
/// Central-difference gradient checks. The engine runs in float32, so the numerical derivative
/// (f(x + h) − f(x − h)) / 2h is formed from float forward passes but summed and divided in double.
/// With h = 1e-2 the truncation error is O(h²) ≈ 1e-4 relative and the float rounding error is about
/// ε_f·|f|/h ≈ 1e-5·|f|, so analytic and numerical gradients must agree within 1e-3 absolute plus
/// 1e-2 relative; a wrong formula (a missing term, a wrong sign or scale) is off by far more.
/// </summary>
internal static class GradientCheck
{
    public const double Step = 1e-2;

    /// <summary>
    /// Checks dX and every parameter gradient of <paramref name="layer"/> for the scalar objective
    /// f = Σ g ⊙ layer(x), with a fixed random upstream gradient g.
    /// </summary>
    public static void Layer(Layer layer, Tensor x, bool training = true, ulong seed = 7)
    {
        var rng = new Rng(seed);
        var y = layer.Forward(x, training);
        var g = new Tensor(y.Rows, y.Cols);
        for (int i = 0; i < g.Length; i++) g.Span[i] = 2f * rng.NextSingle() - 1f;

        foreach (var p in layer.Parameters) p.ZeroGrad();
        layer.Forward(x, training);
        float[] dx = layer.Backward(g).Span.ToArray();
        double Objective()
        {
            var output = layer.Forward(x, training).Span;
            double f = 0;
            for (int i = 0; i < output.Length; i++) f += (double)g.Span[i] * output[i];
            return f;
        }

        AssertClose(dx, Numerical(x.Data, x.Length, Objective), "input");
        foreach (var p in layer.Parameters)
            AssertClose(p.Grad, Numerical(p.Value, p.Value.Length, Objective), p.Name);
    }

    /// <summary>Central differences of <paramref name="objective"/> with respect to values[0..count).</summary>
    public static double[] Numerical(float[] values, int count, Func<double> objective, double step = Step)
    {
        var result = new double[count];
        for (int i = 0; i < count; i++)
        {
            float saved = values[i];
            values[i] = saved + (float)step;
            double plus = objective();
            values[i] = saved - (float)step;
            double minus = objective();
            values[i] = saved;
            // Divide by the step actually taken: saved ± Step is rounded to float.
            result[i] = (plus - minus) / ((double)(saved + (float)step) - (saved - (float)step));
        }
        return result;
    }

    public static void AssertClose(ReadOnlySpan<float> analytic, double[] numerical, string what)
    {
        Assert.Equal(numerical.Length, analytic.Length);
        for (int i = 0; i < numerical.Length; i++)
        {
            double tolerance = 1e-3 + 1e-2 * Math.Abs(numerical[i]);
            Assert.True(Math.Abs(analytic[i] - numerical[i]) <= tolerance,
                $"{what}[{i}]: analytic {analytic[i]} vs numerical {numerical[i]}");
        }
    }

    /// <summary>Uniform values in ±[0.1, 1.1]: at least 10·h from zero, so ReLU-like kinks are never crossed.</summary>
    public static Tensor AwayFromZero(int rows, int cols, ulong seed)
    {
        var rng = new Rng(seed);
        var t = new Tensor(rows, cols);
        for (int i = 0; i < t.Length; i++)
            t.Span[i] = (rng.NextSingle() < 0.5f ? -1f : 1f) * (0.1f + rng.NextSingle());
        return t;
    }

    public static Tensor Uniform(int rows, int cols, ulong seed, float scale = 1f)
    {
        var rng = new Rng(seed);
        var t = new Tensor(rows, cols);
        for (int i = 0; i < t.Length; i++) t.Span[i] = scale * (2f * rng.NextSingle() - 1f);
        return t;
    }
}
