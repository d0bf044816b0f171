using System.Text;
using System.Text.Json;
using Engine.Serialization;

namespace Engine.Tests.Serialization;

public class JsonWeightsTests
{
    [Fact]
    public void RoundTripIsExactAndKeepsOrder()
    {
        NamedTensor[] tensors = [new("layers.0.weight", [2, 2], [0.1f, -1e-30f, 3.4028235e38f, 1f / 3]), new("layers.0.bias", [2], [0f, -7.25f])];
        var read = JsonWeights.Read(JsonWeights.Write(tensors));
        Assert.Equal(tensors.Select(t => t.Name), read.Select(t => t.Name));
        for (int i = 0; i < tensors.Length; i++)
        {
            Assert.Equal(tensors[i].Shape, read[i].Shape);
            Assert.Equal(tensors[i].Data, read[i].Data);
        }
    }

    [Fact]
    public void WrittenJsonHasTheDocumentedShape()
    {
        using var json = JsonDocument.Parse(JsonWeights.Write([new("w", [1, 2], [1.5f, 2f])]));
        Assert.Equal("nn-weights/1", json.RootElement.GetProperty("format").GetString());
        var w = json.RootElement.GetProperty("tensors").GetProperty("w");
        Assert.Equal([1, 2], w.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal([1.5f, 2f], w.GetProperty("data").EnumerateArray().Select(e => e.GetSingle()));
    }

    [Fact]
    public void NonFiniteWeightsCannotBeWritten() =>
        Assert.Throws<ArgumentException>(() => JsonWeights.Write([new("w", [1], [float.NaN])]));

    [Theory]
    [InlineData("not json", "Not valid JSON")]
    [InlineData("{\"tensors\":{}}", "format")]
    [InlineData("{\"format\":\"nn-weights/2\",\"tensors\":{}}", "format")]
    [InlineData("{\"format\":\"nn-weights/1\"}", "tensors")]
    [InlineData("{\"format\":\"nn-weights/1\",\"tensors\":{\"w\":{\"shape\":[2],\"data\":[1]}}}", "needs 2 values")]
    [InlineData("{\"format\":\"nn-weights/1\",\"tensors\":{\"w\":{\"shape\":[-1],\"data\":[]}}}", "non-negative")]
    [InlineData("{\"format\":\"nn-weights/1\",\"tensors\":{\"w\":{\"shape\":[1],\"data\":[\"x\"]}}}", "not a finite float")]
    [InlineData("{\"format\":\"nn-weights/1\",\"tensors\":{\"w\":{\"shape\":[1],\"data\":[1e39]}}}", "not a finite float")]
    [InlineData("{\"format\":\"nn-weights/1\",\"tensors\":{\"w\":{\"shape\":[1],\"data\":[1]},\"w\":{\"shape\":[1],\"data\":[1]}}}", "more than once")]
    [InlineData("{\"format\":\"nn-weights/1\",\"tensors\":{\"w\":{\"data\":[1]}}}", "missing shape")]
    public void MalformedDocumentIsRejectedWithAClearMessage(string text, string fragment)
    {
        var e = Assert.Throws<InvalidDataException>(() => JsonWeights.Read(Encoding.UTF8.GetBytes(text)));
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void RandomCorruptionOnlyEverRaisesInvalidDataException()
    {
        var valid = JsonWeights.Write([new("layers.0.weight", [2, 2], [1, 2, 3, 4]), new("layers.0.bias", [2], [0.5f, -1])]);
        var rng = new Engine.Tensors.Rng(5);
        for (int trial = 0; trial < 3000; trial++)
        {
            var bytes = (byte[])valid.Clone();
            for (int f = 0; f <= rng.NextInt(3); f++) bytes[rng.NextInt(bytes.Length)] = (byte)rng.NextInt(256);
            try { JsonWeights.Read(bytes); }
            catch (InvalidDataException) { }
        }
    }
}
