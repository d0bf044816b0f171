using Engine.Data;

namespace Engine.Tests.DataLoading;

public class NormalizationTests
{
    private static Dataset Rows(int width, params float[] x) =>
        new(x, [width], x.Length / width, new int[x.Length / width], null, 1, 1);

    [Fact]
    public void NoneReturnsTheDataUntouched()
    {
        var raw = Rows(2, 1, 2, 3, 4);
        var d = Normalization.Fit(raw, NormalizationKind.None);
        Assert.Same(raw, d);
        Assert.Null(d.Transform);
    }

    [Fact]
    public void ScaleOfByteValuedDataDividesBy255EvenWhenTheMaximumIsLower()
    {
        var raw = Rows(2, 0, 51, 102, 254); // all integers in [0, 255], max 254
        var d = Normalization.Fit(raw, NormalizationKind.Scale);
        Assert.Equal(NormalizationKind.Scale, d.Transform!.Kind);
        Assert.All(d.Transform.Factor, f => Assert.Equal(1f / 255f, f));
        Assert.All(d.Transform.Offset, o => Assert.Equal(0f, o));
        Assert.Equal(0.2f, d.Features[1], 6);
        Assert.Equal(254f / 255f, d.Features[3], 6);
        Assert.Equal([0f, 51f, 102f, 254f], raw.Features); // the raw data is not modified
    }

    [Fact]
    public void ScaleOfOtherDataMapsTheGlobalRangeToZeroOne()
    {
        var d = Normalization.Fit(Rows(2, -1, 0.5f, 3, 1), NormalizationKind.Scale);
        Assert.Equal([0f, 0.375f, 1f, 0.5f], d.Features);
        Assert.All(d.Transform!.Offset, o => Assert.Equal(-1f, o));
    }

    [Fact]
    public void ScaleOfConstantDataKeepsFactorOne()
    {
        var d = Normalization.Fit(Rows(1, 300, 300), NormalizationKind.Scale);
        Assert.Equal([0f, 0f], d.Features);
        Assert.Equal([1f], d.Transform!.Factor);
    }

    [Fact]
    public void StandardizeGivesEachFeatureZeroMeanAndUnitDeviation()
    {
        var d = Normalization.Fit(Rows(2, 1, 10, 2, 10, 3, 10, 4, 10), NormalizationKind.Standardize);
        var t = d.Transform!;
        Assert.Equal([2.5f, 10f], t.Offset);
        Assert.Equal(1f / MathF.Sqrt(1.25f), t.Factor[0], 6);
        Assert.Equal(1f, t.Factor[1]); // constant feature: not amplified by 1/σ
        var first = Enumerable.Range(0, 4).Select(i => d.Features[2 * i]).ToArray();
        Assert.Equal(0, first.Average(), 6);
        Assert.Equal(1, Math.Sqrt(first.Select(v => v * v).Average()), 5);
        Assert.All(Enumerable.Range(0, 4), i => Assert.Equal(0f, d.Features[2 * i + 1]));
    }

    [Fact]
    public void ApplyUsesTheTrainingStatisticsOnOtherData()
    {
        var train = Normalization.Fit(Rows(1, 0, 2, 4), NormalizationKind.Standardize);
        var other = Normalization.Apply(Rows(1, 2, 6), train.Transform);
        Assert.Same(train.Transform, other.Transform);
        float sigma = MathF.Sqrt(8f / 3f);
        Assert.Equal(0f, other.Features[0], 6);
        Assert.Equal(4f / sigma, other.Features[1], 5);
        var raw = Rows(1, 5);
        Assert.Same(raw, Normalization.Apply(raw, null));
    }

    [Fact]
    public void MisuseIsRejected()
    {
        var fitted = Normalization.Fit(Rows(1, 1, 2), NormalizationKind.Scale);
        Assert.Throws<ArgumentException>(() => Normalization.Fit(fitted, NormalizationKind.Scale));
        Assert.Throws<ArgumentException>(() => Normalization.Apply(Rows(2, 1, 2), fitted.Transform));
    }
}
