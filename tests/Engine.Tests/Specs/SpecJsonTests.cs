using System.Text.Json;
using Engine.Specs;

namespace Engine.Tests.SpecValidation;

public class SpecJsonTests
{
    [Fact]
    public void LayerSpecsSerializeWithTheTypeDiscriminatorOnly()
    {
        var spec = new ModelSpec([4], [new DenseSpec(8), new ReluSpec(), new DropoutSpec(0.5f), new DenseSpec(3)], LossKind.SoftmaxCrossEntropy);
        string json = JsonSerializer.Serialize(spec, new JsonSerializerOptions(JsonSerializerDefaults.Web));

        Assert.DoesNotContain("typeName", json, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\"type\":\"dense\"", json);
        Assert.Contains("\"type\":\"dropout\"", json);
        var back = JsonSerializer.Deserialize<ModelSpec>(json, new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
        Assert.Equal(spec.Layers, back.Layers);
    }
}
