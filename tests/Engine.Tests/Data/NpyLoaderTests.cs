using System.Buffers.Binary;
using System.Text;
using Engine.Data;

namespace Engine.Tests.DataLoading;

public class NpyLoaderTests
{
    /// <summary>An .npy file as numpy writes it: magic, version, padded header dict, raw data.</summary>
    internal static byte[] Npy(string descr, long[] shape, byte[] data, int major = 1, bool fortran = false)
    {
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string dict = $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': ({dims}), }}";
        int prefix = major == 1 ? 10 : 12;
        int total = (prefix + dict.Length + 1 + 63) / 64 * 64;
        string header = dict.PadRight(total - prefix - 1) + "\n";
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.Add((byte)major);
        bytes.Add(0);
        if (major == 1) bytes.AddRange(BitConverter.GetBytes((ushort)header.Length));
        else bytes.AddRange(BitConverter.GetBytes((uint)header.Length));
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        bytes.AddRange(data);
        return [.. bytes];
    }

    internal static byte[] F4(params float[] v) => [.. v.SelectMany(x => BitConverter.GetBytes(x))];
    private static byte[] F8(params double[] v) => [.. v.SelectMany(x => BitConverter.GetBytes(x))];
    private static byte[] I8(params long[] v) => [.. v.SelectMany(x => BitConverter.GetBytes(x))];
    private static byte[] I4(params int[] v) => [.. v.SelectMany(x => BitConverter.GetBytes(x))];

    private static readonly byte[] IntLabels = Npy("<i8", [3], I8(2, 0, 1));

    private static NpyData Load(byte[] features, byte[] labels) => NpyLoader.Load(new MemoryStream(features), new MemoryStream(labels));

    private static string Fails(byte[] features, byte[] labels) =>
        Assert.Throws<DataFormatException>(() => Load(features, labels)).Message;

    public static TheoryData<string, byte[], string> EveryFeatureType() => new()
    {
        { "<f4", F4(1, 2, 3, 4, 5, 6), "float32" },
        { "<f8", F8(1, 2, 3, 4, 5, 6), "float64" },
        { "|u1", [1, 2, 3, 4, 5, 6], "uint8" },
        { "<i8", I8(1, 2, 3, 4, 5, 6), "int64" },
        { "<i4", I4(1, 2, 3, 4, 5, 6), "int32" },
    };

    [Theory]
    [MemberData(nameof(EveryFeatureType))]
    public void EveryFeatureTypeIsReadAsFloat32(string descr, byte[] data, string name)
    {
        var r = Load(Npy(descr, [3, 2], data), IntLabels);
        Assert.Equal(name, r.FeatureDType);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], r.Dataset.Features);
        Assert.Equal([2], r.Dataset.SampleShape);
        Assert.Equal([2, 0, 1], r.Dataset.Labels!);
        Assert.Equal(3, r.Dataset.Classes);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void LaterHeaderVersionsAreRead(int major)
    {
        var r = Load(Npy("<f4", [3, 2], F4(1, 2, 3, 4, 5, 6), major), Npy("|u1", [3], [0, 1, 1], major));
        Assert.Equal([0, 1, 1], r.Dataset.Labels!);
    }

    [Fact]
    public void ImageShapedFeaturesKeepTheirSampleShape()
    {
        var r = Load(Npy("<f4", [3, 1, 2, 2], F4(new float[12])), IntLabels);
        Assert.Equal([1, 2, 2], r.Dataset.SampleShape);
        Assert.Equal(4, r.Dataset.FeatureSize);
    }

    [Fact]
    public void FloatLabelsBecomeTargetsOfTheirWidth()
    {
        var features = Npy("<f4", [2, 1], F4(1, 2));
        var one = Load(features, Npy("<f8", [2], F8(0.5, -1.5))).Dataset;
        Assert.Equal([0.5f, -1.5f], one.Targets!);
        Assert.Equal(1, one.TargetWidth);
        var two = Load(features, Npy("<f4", [2, 2], F4(1, 2, 3, 4))).Dataset;
        Assert.Equal(2, two.TargetWidth);
        Assert.Equal([1f, 2f, 3f, 4f], two.Targets!);
        var multiHot = Load(features, Npy("|u1", [2, 3], [1, 0, 1, 0, 1, 0])).Dataset;
        Assert.Equal(3, multiHot.TargetWidth);
        Assert.Null(multiHot.Labels);
        Assert.Equal([1, 0], Load(features, Npy("<i4", [2, 1], I4(1, 0))).Dataset.Labels!);
    }

    [Fact]
    public void FortranOrderIsAClearError()
    {
        Assert.Contains("fortran_order is True: only C-order", Fails(Npy("<f4", [3, 2], F4(new float[6]), fortran: true), IntLabels));
    }

    [Theory]
    [InlineData(">f4", "big-endian")]
    [InlineData("<f2", "dtype '<f2' is not supported")]
    [InlineData("<c8", "not supported")]
    public void UnsupportedDTypesAreRejected(string descr, string expected)
    {
        Assert.Contains(expected, Fails(Npy(descr, [3, 2], new byte[24]), IntLabels));
    }

    [Fact]
    public void BadMagicAndVersionAreRejectedWithOffsets()
    {
        var bad = Npy("<f4", [3, 2], F4(new float[6]));
        bad[1] = (byte)'X';
        Assert.Equal("features: not an NPY file: the magic \\x93NUMPY is missing (byte offset 0)", Fails(bad, IntLabels));
        bad = Npy("<f4", [3, 2], F4(new float[6]));
        bad[6] = 9;
        Assert.Contains("NPY version 9.0 is not supported (1.0, 2.0, 3.0 are) (byte offset 6)", Fails(bad, IntLabels));
    }

    [Fact]
    public void WrongShapesAndCountsAreRejected()
    {
        Assert.Contains("features: shape (6) is not (N, D)", Fails(Npy("<f4", [6], F4(new float[6])), IntLabels));
        Assert.Contains("has an empty dimension", Fails(Npy("<f4", [3, 0], []), IntLabels));
        Assert.Contains("sample count 0", Fails(Npy("<f4", [0, 2], []), Npy("<i8", [0], [])));
        Assert.Contains("labels: holds 2 labels but the features hold 3 samples", Fails(Npy("<f4", [3, 2], F4(new float[6])), Npy("<i8", [2], I8(0, 1))));
        Assert.Contains("labels: shape (3, 1, 1) is not (N) or (N, K)", Fails(Npy("<f4", [3, 2], F4(new float[6])), Npy("<i8", [3, 1, 1], I8(0, 1, 1))));
        Assert.Contains("more values than one array can", Fails(Npy("<f4", [1000000, 1000000], []), Npy("<i8", [1000000], [])));
        Assert.Contains("more values than one array can", Fails(Npy("<f4", [1, 1 << 30, 999_999_999_999], []), Npy("<i8", [1], I8(0))));
    }

    [Fact]
    public void NegativeLabelsAndNonFiniteValuesNameTheirPosition()
    {
        var features = Npy("<f4", [3, 2], F4(1, 2, 3, float.NaN, 5, 6));
        string m = Fails(features, IntLabels);
        Assert.Contains("features: value 1 of sample 1 is NaN", m);
        Assert.Contains($"byte offset {features.Length - 12}", m);
        var labels = Npy("<i8", [3], I8(0, -4, 1));
        Assert.Contains($"labels: label 1 is -4, class indices must be in [0, {NpyLoader.DefaultMaxClasses}) (byte offset {labels.Length - 16})",
            Fails(Npy("<f4", [3, 2], F4(new float[6])), labels));
    }

    [Fact]
    public void TruncatedAndOverlongDataAreRejected()
    {
        var features = Npy("<f4", [3, 2], F4(1, 2, 3, 4, 5, 6));
        Assert.Contains("features: unexpected end of data: shape (3, 2) needs 24 bytes after the header, the file holds 23", Fails(features[..^1], IntLabels));
        Assert.Contains("while reading the header", Fails(features[..20], IntLabels));
        Assert.Contains("features: unexpected data after the shape (3, 2)", Fails([.. features, 0], IntLabels));
        Assert.Contains("labels: unexpected end of data", Fails(features, IntLabels[..^3]));
    }

    [Theory]
    [InlineData("{'descr': '<f4', 'fortran_order': False}", "lacks one of")]
    [InlineData("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (3, 2)}", "expected True or False")]
    [InlineData("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,)}", "structured dtypes")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (3, -2)}", "expected a dimension")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), 'x': 1}", "unexpected header key 'x'")]
    [InlineData("{'descr: '<f4'}", "expected ':'")]
    [InlineData("", "expected '{'")]
    public void MalformedHeadersAreRejected(string dict, string expected)
    {
        var header = Encoding.ASCII.GetBytes(dict + "\n");
        byte[] bytes = [0x93, .. "NUMPY"u8, 1, 0, (byte)header.Length, 0, .. header];
        string m = Fails(bytes, IntLabels);
        Assert.StartsWith("features: bad NPY header", m.Replace("features: the header lacks", "features: bad NPY header lacks"));
        Assert.Contains(expected, m);
    }

    [Fact]
    public void RandomCorruptionOnlyEverThrowsDataFormatException()
    {
        var rng = new Random(11);
        var good = Npy("<f8", [2, 3], F8(1, 2, 3, 4, 5, 6));
        var labels = Npy("<i8", [2], I8(1, 0));
        for (int trial = 0; trial < 3000; trial++)
        {
            byte[][] files = [(byte[])good.Clone(), (byte[])labels.Clone()];
            int k = rng.Next(2);
            for (int flips = rng.Next(1, 4); flips > 0; flips--) files[k][rng.Next(files[k].Length)] = (byte)rng.Next(256);
            if (rng.Next(4) == 0) files[k] = files[k][..rng.Next(files[k].Length)];
            try
            {
                Load(files[0], files[1]);
            }
            catch (DataFormatException)
            {
            }
        }
    }
}
