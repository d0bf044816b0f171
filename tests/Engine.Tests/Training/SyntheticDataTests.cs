using System.Text.Json;
using Engine.Data;

namespace Engine.Tests.Training;

public class SyntheticDataTests
{
    [Theory]
    [InlineData(SyntheticKind.Xor, 2)]
    [InlineData(SyntheticKind.Spirals, 5)]
    [InlineData(SyntheticKind.Moons, 2)]
    [InlineData(SyntheticKind.Blobs, 4)]
    [InlineData(SyntheticKind.Regression, 3)]
    [InlineData(SyntheticKind.Stripes, 4)]
    public void SameSeedGivesTheSameDataAndAnotherSeedDoesNot(SyntheticKind kind, int classes)
    {
        var a = SyntheticData.Generate(kind, 50, classes, 1);
        var b = SyntheticData.Generate(kind, 50, classes, 1);
        var c = SyntheticData.Generate(kind, 50, classes, 2);
        Assert.Equal(a.Features, b.Features);
        Assert.Equal(a.Labels, b.Labels);
        Assert.Equal(a.Targets, b.Targets);
        Assert.NotEqual(a.Features, c.Features);
        Assert.Equal(50, a.Count);
        Assert.All(a.Features, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void StripesAreOneChannelImagesWhoseRowsOrColumnsAreConstantByClass()
    {
        var d = SyntheticData.Generate(SyntheticKind.Stripes, 8, 4, seed: 5, noise: 0f);
        Assert.Equal([1, 16, 16], d.SampleShape);
        Assert.Equal([0, 1, 2, 3, 0, 1, 2, 3], d.Labels!);
        float At(int sample, int y, int x) => d.Features[sample * 256 + y * 16 + x];
        for (int y = 0; y < 16; y++)
            for (int x = 1; x < 16; x++)
            {
                Assert.Equal(At(0, y, 0), At(0, y, x)); // horizontal: constant along a row
                Assert.Equal(At(1, 0, y), At(1, x, y)); // vertical: constant down a column
            }
        for (int y = 1; y < 16; y++)
            for (int x = 1; x < 16; x++) Assert.Equal(At(3, y - 1, x - 1), At(3, y, x)); // anti-diagonal class: constant along ↘ (y − x fixed)
        Assert.Contains(0f, d.Features);
        Assert.Contains(1f, d.Features);
        Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticData.Generate(SyntheticKind.Stripes, 8, 5, seed: 5));
    }

    [Fact]
    public void ClassesAlternateSoEveryClassIsPresent()
    {
        var d = SyntheticData.Generate(SyntheticKind.Spirals, 30, 3, 3);
        Assert.Equal(3, d.Classes);
        Assert.Equal([.. Enumerable.Range(0, 30).Select(i => i % 3)], d.Labels!);
        var xor = SyntheticData.Generate(SyntheticKind.Xor, 8, 2, 4, noise: 0f);
        Assert.Equal([0f, 0f, 0f, 1f, 1f, 1f, 1f, 0f, 0f, 0f, 0f, 1f, 1f, 1f, 1f, 0f], xor.Features);
        Assert.Equal([0, 1, 0, 1, 0, 1, 0, 1], xor.Labels!);
    }

    [Fact]
    public void RegressionUsesClassesAsTheFeatureCountAndHasFloatTargets()
    {
        var d = SyntheticData.Generate(SyntheticKind.Regression, 10, 7, 5);
        Assert.Equal([7], d.SampleShape);
        Assert.Null(d.Labels);
        Assert.Equal(10, d.Targets!.Length);
        Assert.Equal(0, d.Classes);
    }

    [Fact]
    public void InvalidArgumentsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticData.Generate(SyntheticKind.Xor, 10, 3, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticData.Generate(SyntheticKind.Spirals, 10, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticData.Generate(SyntheticKind.Blobs, 0, 3, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticData.Generate(SyntheticKind.Moons, 10, 2, 1, float.NaN));
    }

    [Fact]
    public void KindsSerializeWithLowerCaseNames()
    {
        Assert.Equal("\"spirals\"", JsonSerializer.Serialize(SyntheticKind.Spirals));
        Assert.Equal(SyntheticKind.Regression, JsonSerializer.Deserialize<SyntheticKind>("\"regression\""));
        Assert.Equal(["xor", "spirals", "moons", "blobs", "regression", "stripes"],
            Enum.GetValues<SyntheticKind>().Select(k => JsonSerializer.Serialize(k).Trim('"')));
    }
}
