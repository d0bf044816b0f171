using Engine.Specs;
using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// Weight initializers for a dense weight of fan-in n_in and fan-out n_out. Values are drawn from the
/// <see cref="Rng"/> in row-major order of the engine's in×out layout, so a seed fixes every weight.
/// </summary>
/// <remarks>
/// <see cref="InitKind.Xavier"/> here is Glorot normal, N(0, 2/(n_in + n_out)), as in PyTorch and Keras.
/// The book ("Deep Learning from Scratch") calls N(0, 1/n_in) "Xavier"; that is a different variance
/// and can be had with <see cref="InitKind.Normal"/> and std = 1/√n_in.
/// </remarks>
public static class Initializers
{
    /// <summary>Fills <paramref name="weights"/> (length n_in·n_out) with the given initializer.</summary>
    public static void Fill(Span<float> weights, int fanIn, int fanOut, InitKind kind, float? std, Rng rng)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fanIn);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fanOut);
        switch (kind)
        {
            case InitKind.He: Gaussian(weights, MathF.Sqrt(2f / fanIn), rng); break;
            case InitKind.HeUniform: Uniform(weights, MathF.Sqrt(6f / fanIn), rng); break;
            case InitKind.Xavier: Gaussian(weights, MathF.Sqrt(2f / (fanIn + fanOut)), rng); break;
            case InitKind.XavierUniform: Uniform(weights, MathF.Sqrt(6f / (fanIn + fanOut)), rng); break;
            case InitKind.Normal:
                if (std is not { } s || !(s >= 0) || float.IsInfinity(s))
                    throw new ArgumentException("The normal initializer needs a finite std ≥ 0.", nameof(std));
                Gaussian(weights, s, rng);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown initializer.");
        }
    }

    private static void Gaussian(Span<float> w, float std, Rng rng)
    {
        for (int i = 0; i < w.Length; i++) w[i] = std * rng.NextGaussian();
    }

    private static void Uniform(Span<float> w, float limit, Rng rng)
    {
        // NextSingle is in [0, 1): maps to [−limit, limit).
        for (int i = 0; i < w.Length; i++) w[i] = limit * (2f * rng.NextSingle() - 1f);
    }
}
