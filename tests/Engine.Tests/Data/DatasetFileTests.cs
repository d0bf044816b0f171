using Engine.Data;

namespace Engine.Tests.DataLoading;

public class DatasetFileTests
{
    private static byte[] Bytes(Dataset d)
    {
        var s = new MemoryStream();
        DatasetFile.Write(s, d);
        return s.ToArray();
    }

    private static Dataset Read(byte[] bytes) => DatasetFile.Read(new MemoryStream(bytes));

    private static Dataset Classified() =>
        Normalization.Fit(new Dataset([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [1, 2, 2], 3, [2, 0, 1], null, 1, 3), NormalizationKind.Standardize);

    private static Dataset Regression() =>
        new([0.5f, -1f, float.Epsilon, 2f], [2], 2, null, [1f, 2f, 3f, -0f], 2, 0);

    private static void AssertSame(Dataset a, Dataset b)
    {
        Assert.Equal(a.SampleShape, b.SampleShape);
        Assert.Equal(a.Count, b.Count);
        Assert.Equal(a.Features.Select(BitConverter.SingleToInt32Bits), b.Features.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(a.Labels, b.Labels);
        Assert.Equal(a.Targets?.Select(BitConverter.SingleToInt32Bits), b.Targets?.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(a.TargetWidth, b.TargetWidth);
        Assert.Equal(a.Classes, b.Classes);
        Assert.Equal(a.Transform?.Kind, b.Transform?.Kind);
        Assert.Equal(a.Transform?.Offset, b.Transform?.Offset);
        Assert.Equal(a.Transform?.Factor, b.Transform?.Factor);
    }

    [Fact]
    public void LabelledDatasetWithTransformRoundTripsBitExactly()
    {
        var d = Classified();
        AssertSame(d, Read(Bytes(d)));
    }

    [Fact]
    public void RegressionDatasetWithoutTransformRoundTripsBitExactly()
    {
        var d = Regression();
        var copy = Read(Bytes(d));
        AssertSame(d, copy);
        Assert.Null(copy.Transform);
    }

    [Fact]
    public void LargeDatasetsSpanManyChunks()
    {
        int n = 5000, width = 7;
        var x = Enumerable.Range(0, n * width).Select(i => i * 0.25f).ToArray();
        var d = new Dataset(x, [width], n, [.. Enumerable.Range(0, n).Select(i => i % 4)], null, 1, 4);
        AssertSame(d, Read(Bytes(d)));
    }

    [Fact]
    public void ReadStopsAtTheChecksumLeavingTheRestOfTheStream()
    {
        var s = new MemoryStream([.. Bytes(Regression()), 42]);
        DatasetFile.Read(s);
        Assert.Equal(42, s.ReadByte());
    }

    [Fact]
    public void AnyFlippedByteIsDetected()
    {
        var bytes = Bytes(Classified());
        for (int i = 0; i < bytes.Length; i++)
        {
            var copy = (byte[])bytes.Clone();
            copy[i] ^= 0x01;
            Assert.Throws<DataFormatException>(() => Read(copy));
        }
    }

    [Fact]
    public void EveryTruncationIsDetected()
    {
        var bytes = Bytes(Regression());
        for (int length = 0; length < bytes.Length; length++)
        {
            var e = Assert.Throws<DataFormatException>(() => Read(bytes[..length]));
            Assert.Contains("byte offset", e.Message);
        }
    }

    [Fact]
    public void CorruptPayloadIsReportedAsChecksumMismatch()
    {
        var bytes = Bytes(Regression());
        bytes[^33] ^= 0x40; // last feature byte: structurally still valid
        Assert.Contains("checksum mismatch", Assert.Throws<DataFormatException>(() => Read(bytes)).Message);
    }

    [Fact]
    public void HeaderProblemsAreNamed()
    {
        var bytes = Bytes(Regression());
        var wrongMagic = (byte[])bytes.Clone();
        wrongMagic[0] = (byte)'X';
        Assert.Contains("magic \"NNDS\" is missing", Assert.Throws<DataFormatException>(() => Read(wrongMagic)).Message);
        var newer = (byte[])bytes.Clone();
        newer[4] = 2;
        Assert.Contains("version 2 is not supported", Assert.Throws<DataFormatException>(() => Read(newer)).Message);
    }

    [Fact]
    public void HugeDeclaredCountFailsWithoutAllocatingIt()
    {
        var bytes = Bytes(Regression());
        // count sits after magic(4), version+flags(4), rank(4), one dimension(4)
        BitConverter.GetBytes(100_000_000).CopyTo(bytes, 16);
        var e = Assert.Throws<DataFormatException>(() => Read(bytes));
        Assert.Contains("unexpected end of data", e.Message);
    }
}
