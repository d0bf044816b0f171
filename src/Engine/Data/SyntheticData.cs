using Engine.Tensors;

namespace Engine.Data;

/// <summary>
/// Small generated datasets for demos and tests, identical for a given seed. Classes alternate by sample
/// (sample i has class i mod k), so any prefix or split is balanced. <c>noise</c> is the standard deviation of
/// Gaussian noise in each kind's natural unit: on the 2-D position (xor, moons, blobs), on the spiral angle in
/// radians (spirals), on the target (regression).
/// </summary>
public static class SyntheticData
{
    /// <param name="classes">Classes for spirals and blobs (≥ 2); must be 2 for xor and moons; the number of input
    /// features for regression (≥ 1).</param>
    public static Dataset Generate(SyntheticKind kind, int size, int classes, ulong seed, float noise = 0.1f)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        if (!(noise >= 0f) || float.IsInfinity(noise)) throw new ArgumentOutOfRangeException(nameof(noise), noise, "Noise must be finite and ≥ 0.");
        var rng = new Rng(seed);
        switch (kind)
        {
            case SyntheticKind.Xor: RequireClasses(kind, classes, 2, 2); return Xor(size, rng, noise);
            case SyntheticKind.Spirals: RequireClasses(kind, classes, 2, 1000); return Spirals(size, classes, rng, noise);
            case SyntheticKind.Moons: RequireClasses(kind, classes, 2, 2); return Moons(size, rng, noise);
            case SyntheticKind.Blobs: RequireClasses(kind, classes, 2, 1000); return Blobs(size, classes, rng, noise);
            case SyntheticKind.Regression: RequireClasses(kind, classes, 1, 10_000); return Regression(size, classes, rng, noise);
            case SyntheticKind.Stripes: RequireClasses(kind, classes, 2, 4); return Stripes(size, classes, rng, noise);
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown synthetic dataset.");
        }
    }

    private static void RequireClasses(SyntheticKind kind, int classes, int min, int max)
    {
        if (classes < min || classes > max)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, min == max
                ? $"{kind} has exactly {min} classes."
                : $"{kind} needs {(kind == SyntheticKind.Regression ? "a feature count" : "a class count")} in [{min}, {max}].");
    }

    private static Dataset Classification(float[] x, int[] labels, int classes) => new(x, [2], labels.Length, labels, null, 1, classes);

    /// <summary>Side of a <see cref="SyntheticKind.Stripes"/> image.</summary>
    public const int StripesSize = 16;

    /// <summary>
    /// Stripes of a random period (3-5 pixels) and phase, values 0 or 1 plus Gaussian noise; class i mod classes is the
    /// orientation: horizontal, vertical or one of the two diagonals. Only the orientation separates classes,
    /// which a small CNN learns and a position-bound dense layer learns poorly.
    /// </summary>
    private static Dataset Stripes(int size, int classes, Rng rng, float noise)
    {
        const int side = StripesSize, plane = side * side;
        var x = new float[checked(size * plane)];
        var labels = new int[size];
        for (int i = 0; i < size; i++)
        {
            int c = i % classes, period = 3 + rng.NextInt(3), phase = rng.NextInt(2 * period);
            var image = x.AsSpan(i * plane, plane);
            for (int y = 0; y < side; y++)
                for (int col = 0; col < side; col++)
                {
                    int along = c switch { 0 => y, 1 => col, 2 => y + col, _ => y - col + side };
                    image[y * side + col] = ((along + phase) / period % 2 == 0 ? 1f : 0f) + noise * rng.NextGaussian();
                }
            labels[i] = c;
        }
        return new Dataset(x, [1, side, side], size, labels, null, 1, classes);
    }

    private static Dataset Xor(int size, Rng rng, float noise)
    {
        var x = new float[size * 2];
        var labels = new int[size];
        for (int i = 0; i < size; i++)
        {
            // Corners in the order (0,0), (0,1), (1,1), (1,0), so the label a XOR b is i mod 2.
            int corner = i % 4, a = corner >> 1, b = (corner >> 1) ^ (corner & 1);
            x[2 * i] = a + noise * rng.NextGaussian();
            x[2 * i + 1] = b + noise * rng.NextGaussian();
            labels[i] = a ^ b;
        }
        return Classification(x, labels, 2);
    }

    private static Dataset Spirals(int size, int classes, Rng rng, float noise)
    {
        var x = new float[size * 2];
        var labels = new int[size];
        int perClass = (size + classes - 1) / classes;
        for (int i = 0; i < size; i++)
        {
            int c = i % classes, j = i / classes;
            // Radius 0 → 1 along the arm; each arm turns 4 rad, offset by 4 rad per class (as in CS231n).
            double r = perClass > 1 ? (double)j / (perClass - 1) : 0.5;
            double t = c * 4 + 4 * r + noise * rng.NextGaussian();
            x[2 * i] = (float)(r * Math.Sin(t));
            x[2 * i + 1] = (float)(r * Math.Cos(t));
            labels[i] = c;
        }
        return Classification(x, labels, classes);
    }

    private static Dataset Moons(int size, Rng rng, float noise)
    {
        var x = new float[size * 2];
        var labels = new int[size];
        int perClass = (size + 1) / 2;
        for (int i = 0; i < size; i++)
        {
            int c = i % 2, j = i / 2;
            double t = Math.PI * (perClass > 1 ? (double)j / (perClass - 1) : 0.5);
            double px = c == 0 ? Math.Cos(t) : 1 - Math.Cos(t);
            double py = c == 0 ? Math.Sin(t) : 0.5 - Math.Sin(t);
            x[2 * i] = (float)px + noise * rng.NextGaussian();
            x[2 * i + 1] = (float)py + noise * rng.NextGaussian();
            labels[i] = c;
        }
        return Classification(x, labels, 2);
    }

    private static Dataset Blobs(int size, int classes, Rng rng, float noise)
    {
        // Centres uniform in [−5, 5]², drawn first so they depend on the seed only.
        var centres = new float[classes * 2];
        for (int i = 0; i < centres.Length; i++) centres[i] = 10f * rng.NextSingle() - 5f;
        var x = new float[size * 2];
        var labels = new int[size];
        for (int i = 0; i < size; i++)
        {
            int c = i % classes;
            x[2 * i] = centres[2 * c] + noise * rng.NextGaussian();
            x[2 * i + 1] = centres[2 * c + 1] + noise * rng.NextGaussian();
            labels[i] = c;
        }
        return Classification(x, labels, classes);
    }

    private static Dataset Regression(int size, int features, Rng rng, float noise)
    {
        // Teacher weights and bias N(0, 1); inputs uniform in [−1, 1].
        var w = new float[features];
        for (int j = 0; j < features; j++) w[j] = rng.NextGaussian();
        float bias = rng.NextGaussian();
        var x = new float[checked(size * features)];
        var y = new float[size];
        for (int i = 0; i < size; i++)
        {
            double sum = bias;
            for (int j = 0; j < features; j++)
            {
                float v = 2f * rng.NextSingle() - 1f;
                x[i * features + j] = v;
                sum += (double)v * w[j];
            }
            y[i] = (float)sum + noise * rng.NextGaussian();
        }
        return new Dataset(x, [features], size, null, y, 1, 0);
    }
}
