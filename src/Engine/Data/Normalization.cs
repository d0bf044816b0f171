namespace Engine.Data;

/// <summary>
/// Fits an <see cref="InputTransform"/> on training data and applies it to other data (validation sets,
/// prediction inputs), so both see the same affine map x' = (x − offset)·factor.
/// </summary>
/// <remarks>
/// Scale maps to 0–1 with one offset and factor for all features (per-feature min–max would blow up
/// image pixels that are always 0): if every value is an integer in [0, 255] (8-bit data such as pixels)
/// the map is x/255 regardless of the brightest pixel present, so other 8-bit inputs scale identically;
/// otherwise (x − min)/(max − min) over the whole dataset.
/// Standardize uses each feature's mean and population standard deviation from this data; a feature
/// whose deviation is below 1e-7 (constant) keeps factor 1, because 1/σ would amplify any later
/// deviation by 10⁷. Statistics are accumulated in double in row order, so they are deterministic.
/// </remarks>
public static class Normalization
{
    private const double MinStd = 1e-7;

    /// <summary>A new dataset with features transformed and <see cref="Dataset.Transform"/> set (null for None).</summary>
    public static Dataset Fit(Dataset raw, NormalizationKind kind)
    {
        ArgumentNullException.ThrowIfNull(raw);
        if (raw.Transform is not null) throw new ArgumentException("The dataset is already normalized; fit on raw data.", nameof(raw));
        int d = raw.FeatureSize;
        var offset = new float[d];
        var factor = new float[d];
        switch (kind)
        {
            case NormalizationKind.None:
                return raw;
            case NormalizationKind.Scale:
                var (lo, f) = ScaleOf(raw.Features);
                Array.Fill(offset, lo);
                Array.Fill(factor, f);
                break;
            case NormalizationKind.Standardize:
                Standardize(raw, offset, factor);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown normalization.");
        }
        return Apply(raw, new InputTransform(kind, offset, factor));
    }

    /// <summary>A new dataset with <paramref name="t"/> applied to a copy of the raw features; <paramref name="raw"/> itself when t is null.</summary>
    public static Dataset Apply(Dataset raw, InputTransform? t)
    {
        ArgumentNullException.ThrowIfNull(raw);
        if (t is null) return raw;
        if (raw.Transform is not null) throw new ArgumentException("The dataset is already normalized.", nameof(raw));
        if (t.Offset.Length != raw.FeatureSize || t.Factor.Length != raw.FeatureSize)
            throw new ArgumentException($"The transform is for {t.Offset.Length} features, the dataset has {raw.FeatureSize}.", nameof(t));
        var x = (float[])raw.Features.Clone();
        t.Apply(x, raw.FeatureSize);
        return new Dataset(x, raw.SampleShape, raw.Count, raw.Labels, raw.Targets, raw.TargetWidth, raw.Classes, t);
    }

    private static (float Offset, float Factor) ScaleOf(float[] x)
    {
        if (x.Length == 0) return (0f, 1f);
        bool bytes = true;
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (var v in x)
        {
            if (v < min) min = v;
            if (v > max) max = v;
            if (bytes && !(v >= 0 && v <= 255 && v == MathF.Floor(v))) bytes = false;
        }
        if (bytes) return (0f, 1f / 255f);
        double range = (double)max - min;
        return range > 0 ? (min, (float)(1.0 / range)) : (min, 1f);
    }

    private static void Standardize(Dataset raw, float[] offset, float[] factor)
    {
        int d = raw.FeatureSize, n = raw.Count;
        var sum = new double[d];
        var x = raw.Features;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) sum[j] += x[i * d + j];
        var mean = new double[d];
        for (int j = 0; j < d; j++) mean[j] = n == 0 ? 0 : sum[j] / n;
        var squares = new double[d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++)
            {
                double c = x[i * d + j] - mean[j]; // two passes: no catastrophic cancellation of E[x²] − E[x]²
                squares[j] += c * c;
            }
        for (int j = 0; j < d; j++)
        {
            double std = n == 0 ? 0 : Math.Sqrt(squares[j] / n);
            offset[j] = (float)mean[j];
            factor[j] = std < MinStd ? 1f : (float)(1.0 / std);
        }
    }
}
