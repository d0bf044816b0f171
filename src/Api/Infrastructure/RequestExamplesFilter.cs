using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Api.Infrastructure;

/// <summary>
/// Request bodies that work when pasted into Swagger UI in this order: a synthetic data set (id 1),
/// a model for it (id 1), a job training that model on that data, then a prediction.
/// </summary>
internal sealed class RequestExamplesFilter : IOperationFilter
{
    private const string Spec = """
        {"input":[2],"layers":[{"type":"dense","units":32},{"type":"relu"},{"type":"dropout","rate":0.1},{"type":"dense","units":3}],"loss":"softmax_cross_entropy"}
        """;

    private static readonly Dictionary<string, string> Examples = new()
    {
        ["CreateSyntheticDataset"] = """{"name":"spirals","kind":"spirals","size":1000,"classes":3,"seed":42,"noise":0.2}""",
        ["CreateModel"] = $$"""{"name":"spiral-mlp","spec":{{Spec}}}""",
        ["ValidateModel"] = $$"""{"spec":{{Spec}},"batchSize":32}""",
        ["CreateJob"] = """
            {"modelId":1,"datasetId":1,"validationSplit":0.2,"optimizer":{"type":"adam","learningRate":0.01},
             "epochs":30,"batchSize":32,"seed":7,"schedule":{"type":"cosine","warmupEpochs":2},
             "earlyStopping":{"patience":10},"checkpointEvery":5}
            """,
        ["Predict"] = """{"inputs":[[0.1,0.2],[-0.5,0.3]],"checkpoint":"best"}""",
    };

    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (operation.OperationId is not { } id || !Examples.TryGetValue(id, out var json)) return;
        if (operation.RequestBody?.Content is not { } content) return;
        foreach (var media in content.Values.OfType<OpenApiMediaType>()) media.Example = JsonNode.Parse(json);
    }
}
