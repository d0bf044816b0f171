using Engine.Layers;
using Engine.Specs;
using Engine.Tensors;

namespace Engine.Tests.Layers;

public class InitializerTests
{
    private const int FanIn = 300, FanOut = 200;

    /// <summary>Mean and variance of 60 000 seeded draws: the variance estimate's relative error is about 0.6%.</summary>
    private static (double Mean, double Variance, double MaxAbs) Draw(InitKind kind, float? std = null)
    {
        var w = new float[FanIn * FanOut];
        Initializers.Fill(w, FanIn, FanOut, kind, std, new Rng(1));
        double mean = w.Average(v => (double)v);
        double variance = w.Average(v => (v - mean) * (v - mean));
        return (mean, variance, w.Max(v => Math.Abs((double)v)));
    }

    [Theory]
    [InlineData(InitKind.He, 2.0 / FanIn)]
    [InlineData(InitKind.HeUniform, 2.0 / FanIn)] // U(±√(6/n)) has variance 6/n/3
    [InlineData(InitKind.Xavier, 2.0 / (FanIn + FanOut))]
    [InlineData(InitKind.XavierUniform, 2.0 / (FanIn + FanOut))]
    public void InitializerHasTheDocumentedVariance(InitKind kind, double expectedVariance)
    {
        var (mean, variance, _) = Draw(kind);
        Assert.InRange(mean, -0.05 * Math.Sqrt(expectedVariance), 0.05 * Math.Sqrt(expectedVariance));
        Assert.InRange(variance / expectedVariance, 0.97, 1.03);
    }

    [Theory]
    [InlineData(InitKind.HeUniform, FanIn)]
    [InlineData(InitKind.XavierUniform, FanIn + FanOut)]
    public void UniformInitializersStayInsideTheirBound(InitKind kind, int denominator)
    {
        Assert.True(Draw(kind).MaxAbs <= Math.Sqrt(6.0 / denominator));
    }

    [Fact]
    public void NormalInitializerUsesTheGivenStdAndRequiresOne()
    {
        Assert.InRange(Draw(InitKind.Normal, 0.05f).Variance / (0.05 * 0.05), 0.97, 1.03);
        Assert.Throws<ArgumentException>(() => Draw(InitKind.Normal));
    }
}
