using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Engine.Serialization;
using Engine.Specs;
using Engine.Tensors;

namespace Engine.Tests.Serialization;

public class SafeTensorsTests
{
    /// <summary>A file assembled by hand: length prefix, header text, data bytes.</summary>
    private static byte[] File(string header, params float[] data)
    {
        var headerBytes = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + headerBytes.Length + data.Length * 4];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)headerBytes.Length);
        headerBytes.CopyTo(bytes, 8);
        for (int i = 0; i < data.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(8 + headerBytes.Length + 4 * i), data[i]);
        return bytes;
    }

    [Fact]
    public void RoundTripPreservesNamesShapesBitsAndMetadata()
    {
        NamedTensor[] tensors =
        [
            new("b.weight", [2, 3], [1f, -0f, float.NaN, float.Epsilon, float.MaxValue, -2.5f]),
            new("a.bias", [3], [0.1f, 0.2f, 0.3f]),
            new("empty", [0, 4], []),
        ];
        var bytes = SafeTensors.Write(tensors, new Dictionary<string, string> { ["format"] = "pt", ["spec"] = "{\"x\":1}" });
        var read = SafeTensors.Read(bytes, out var metadata);

        Assert.Equal(["a.bias", "b.weight", "empty"], read.Select(t => t.Name)); // name order
        foreach (var original in tensors)
        {
            var copy = read.Single(t => t.Name == original.Name);
            Assert.Equal(original.Shape, copy.Shape);
            Assert.Equal(original.Data.Select(BitConverter.SingleToInt32Bits), copy.Data.Select(BitConverter.SingleToInt32Bits));
        }
        Assert.Equal("pt", metadata["format"]);
        Assert.Equal("{\"x\":1}", metadata["spec"]);
    }

    [Fact]
    public void WrittenFileFollowsTheSafetensorsLayout()
    {
        var bytes = SafeTensors.Write([new("w", [2], [1.5f, -2f]), new("a", [1], [3f])], new Dictionary<string, string> { ["k"] = "v" });
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, (8 + headerLength) % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        // The JSON ends at its closing brace; only space padding (fewer than 8) follows.
        Assert.EndsWith("}", header.TrimEnd(' '));
        Assert.InRange(header.Length - header.TrimEnd(' ').Length, 0, 7);
        using var json = JsonDocument.Parse(header);
        Assert.Equal("v", json.RootElement.GetProperty("__metadata__").GetProperty("k").GetString());
        var w = json.RootElement.GetProperty("w");
        Assert.Equal("F32", w.GetProperty("dtype").GetString());
        Assert.Equal([4L, 12L], w.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal([0L, 4L], json.RootElement.GetProperty("a").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        int data = 8 + (int)headerLength;
        Assert.Equal(3f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(data)));
        Assert.Equal(-2f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(data + 8)));
        Assert.Equal(data + 12, bytes.Length);
    }

    [Fact]
    public void ReadsAHandWrittenFileAsOtherWritersProduceIt()
    {
        var bytes = File("{\"__metadata__\":{\"format\":\"pt\"},\"x\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}   ", 1f, 2f, 3f, 4f);
        var t = Assert.Single(SafeTensors.Read(bytes));
        Assert.Equal("x", t.Name);
        Assert.Equal([2, 2], t.Shape);
        Assert.Equal([1f, 2f, 3f, 4f], t.Data);
    }

    public static TheoryData<string, string> MalformedHeaders => new()
    {
        { "[1,2]", "not a JSON object" },
        { "{\"x\":", "not valid JSON" },
        { "{\"x\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", "F16 is not supported" },
        { "{\"x\":{\"shape\":[2],\"data_offsets\":[0,8]}}", "missing dtype" },
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", "non-negative" },
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", "non-negative" },
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", "two integers" },
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", "0 ≤ begin ≤ end" },
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", "needs 12 bytes" },
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", "starts at byte 8" },
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "cover 4 bytes but the data section has 8" },
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "starts at byte 4" },
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "more than once" },
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,8]}}", "too large" },
        { "{\"__metadata__\":{\"k\":1},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "not a string" },
    };

    [Theory]
    [MemberData(nameof(MalformedHeaders))]
    public void MalformedHeaderIsRejectedWithAClearMessage(string header, string fragment)
    {
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(File(header, 1f, 2f)));
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void HeaderLengthsOutsideTheFileAreRejected()
    {
        Assert.Throws<InvalidDataException>(() => SafeTensors.Read(new byte[5]));
        var bytes = File("{}");
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 3);
        Assert.Contains("past the end", Assert.Throws<InvalidDataException>(() => SafeTensors.Read(bytes)).Message);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue);
        Assert.Contains("limit", Assert.Throws<InvalidDataException>(() => SafeTensors.Read(bytes)).Message);
    }

    [Fact]
    public void RandomCorruptionOnlyEverRaisesInvalidDataException()
    {
        var valid = SafeTensors.Write([new("0.weight", [3, 2], [1, 2, 3, 4, 5, 6]), new("0.bias", [3], [1, 2, 3])], null,
            [new NamedInt64("1.num_batches_tracked", 12)]);
        var rng = new Rng(99);
        for (int trial = 0; trial < 3000; trial++)
        {
            var bytes = (byte[])valid.Clone();
            int flips = 1 + rng.NextInt(3);
            for (int f = 0; f < flips; f++) bytes[rng.NextInt(Math.Min(bytes.Length, 8 + 160))] = (byte)rng.NextInt(256);
            int length = rng.NextInt(4) == 0 ? rng.NextInt(bytes.Length + 1) : bytes.Length;
            try { SafeTensors.Read(bytes.AsSpan(0, length)); }
            catch (InvalidDataException) { }
        }
    }

    [Fact]
    public void ExportedNetworkSurvivesASafetensorsRoundTrip()
    {
        var spec = new ModelSpec([4], [new DenseSpec(5), new BatchNormSpec(), new ReluSpec(), new DenseSpec(2)], LossKind.SigmoidBinaryCrossEntropy);
        var source = Network.Create(spec, new Rng(1));
        source.Forward(Layers.GradientCheck.Uniform(8, 4, 2, scale: 3f), training: true); // non-trivial running stats
        var target = Network.Create(spec, new Rng(3));
        var tensors = SafeTensors.Read(SafeTensors.Write(source.ExportTensors(), null, source.ExportCounters()), out _, out var counters);
        Assert.Equal([new NamedInt64("1.num_batches_tracked", 0)], counters);
        target.ImportTensors(tensors, counters);
        var inputs = Layers.GradientCheck.Uniform(6, 4, 4).Span.ToArray();
        Assert.Equal(source.Predict(inputs, 6), target.Predict(inputs, 6));
    }

    [Fact]
    public void Int64ScalarsAreWrittenAsPyTorchStoresNumBatchesTracked()
    {
        var bytes = SafeTensors.Write([new("1.weight", [2], [1f, 2f])], null, [new NamedInt64("1.num_batches_tracked", 1L << 40)]);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var json = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)headerLength));
        var counter = json.RootElement.GetProperty("1.num_batches_tracked");
        Assert.Equal("I64", counter.GetProperty("dtype").GetString());
        Assert.Equal(0, counter.GetProperty("shape").GetArrayLength());
        // Name order puts "1.num_batches_tracked" before "1.weight".
        Assert.Equal([0L, 8L], counter.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(1L << 40, BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8 + (int)headerLength)));

        var floats = SafeTensors.Read(bytes, out _, out var scalars);
        Assert.Equal(["1.weight"], floats.Select(t => t.Name));
        Assert.Equal([new NamedInt64("1.num_batches_tracked", 1L << 40)], scalars);
    }

    [Fact]
    public void Int64TensorsOtherThanScalarsAreRejected()
    {
        var bytes = File("{\"ids\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 0f, 0f);
        Assert.Contains("scalars only", Assert.Throws<InvalidDataException>(() => SafeTensors.Read(bytes)).Message);
    }
}
