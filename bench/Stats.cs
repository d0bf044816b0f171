namespace Bench;

internal static class Stats
{
    /// <summary>Nearest-rank percentile of sorted values.</summary>
    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>Nearest-rank median.</summary>
    public static double Median(IEnumerable<double> values) => Percentile([.. values.Order()], 0.5);

    /// <summary>
    /// The median of <paramref name="values"/> and a 95 % bootstrap interval for it (the medians of 10,000 resamples
    /// with replacement, fixed seed): how far a median over this many noisy rounds can be trusted.
    /// </summary>
    public static (double Median, double Low, double High) MedianWithInterval(IReadOnlyList<double> values)
    {
        const int resamples = 10_000;
        var rng = new Random(1);
        var medians = new double[resamples];
        var sample = new double[values.Count];
        for (int r = 0; r < resamples; r++)
        {
            for (int i = 0; i < sample.Length; i++) sample[i] = values[rng.Next(values.Count)];
            Array.Sort(sample);
            medians[r] = Percentile(sample, 0.5);
        }
        Array.Sort(medians);
        return (Median(values), Percentile(medians, 0.025), Percentile(medians, 0.975));
    }
}
