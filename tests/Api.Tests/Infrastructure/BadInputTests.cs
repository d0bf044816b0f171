using System.Net;
using System.Net.Http.Json;
using System.Text;

namespace Api.Tests.Infrastructure;

/// <summary>Every endpoint answers bad input with problem+json naming the field and the rule, never 500.</summary>
public sealed class BadInputTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    private Task<HttpResponseMessage> PostJson(string url, string json) =>
        _client.PostAsync(url, new StringContent(json, Encoding.UTF8, "application/json"));

    [Fact]
    public async Task SyntheticDatasetRequestsAreChecked()
    {
        await Problem.AssertAsync(await PostJson("/datasets/synthetic", """{"size":10}"""), HttpStatusCode.BadRequest, "kind");
        await Problem.AssertAsync(await PostJson("/datasets/synthetic", """{"kind":"circles","size":10}"""), HttpStatusCode.BadRequest, "kind");
        await Problem.AssertAsync(await PostJson("/datasets/synthetic", """{"kind":"xor","size":0}"""), HttpStatusCode.BadRequest, "size");
        await Problem.AssertAsync(await PostJson("/datasets/synthetic", """{"kind":"spirals","size":10,"classes":1}"""), HttpStatusCode.BadRequest, "classes");
        await Problem.AssertAsync(await PostJson("/datasets/synthetic", """{"kind":"xor","size":10,"noise":-1}"""), HttpStatusCode.BadRequest, "noise");
        await Problem.AssertAsync(await PostJson("/datasets/synthetic", """{"kind":"xor","size":"""), HttpStatusCode.BadRequest, "size");
    }

    [Fact]
    public async Task UnknownIdsAre404()
    {
        foreach (var url in new[] { "/datasets/999", "/models/999", "/jobs/999", "/jobs/999/metrics", "/jobs/999/checkpoints", "/jobs/999/weights" })
            await Problem.AssertAsync(await _client.GetAsync(url), HttpStatusCode.NotFound, "id");
        foreach (var url in new[] { "/datasets/999", "/models/999", "/jobs/999" })
            await Problem.AssertAsync(await _client.DeleteAsync(url), HttpStatusCode.NotFound, "id");
        await Problem.AssertAsync(await _client.PostAsync("/jobs/999/cancel", null), HttpStatusCode.NotFound, "id");
        await Problem.AssertAsync(await _client.PostAsync("/jobs/999/resume", null), HttpStatusCode.NotFound, "id");
        await Problem.AssertAsync(await PostJson("/jobs/999/predict", """{"inputs":[[1,2]]}"""), HttpStatusCode.NotFound, "id");

        var unknownRoute = await _client.GetAsync("/no-such-thing");
        Assert.Equal(HttpStatusCode.NotFound, unknownRoute.StatusCode);
        Assert.Equal("application/problem+json", unknownRoute.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task SpecErrorsAreKeyedByPath()
    {
        var badRate = """
            {"name":"m","spec":{"input":[2],"layers":[{"type":"dense","units":4},{"type":"dropout","rate":1.5},{"type":"dense","units":2}],"loss":"softmax_cross_entropy"}}
            """;
        var messages = await Problem.AssertAsync(await PostJson("/models", badRate), HttpStatusCode.BadRequest, "layers[1].rate");
        Assert.Contains("[0, 1)", messages[0]);

        var unknownType = """{"name":"m","spec":{"input":[2],"layers":[{"type":"lstm","units":4}],"loss":"mse"}}""";
        await Problem.AssertAsync(await PostJson("/models", unknownType), HttpStatusCode.BadRequest, "spec.layers[0]");
        await Problem.AssertAsync(await PostJson("/models", """{"name":"m","spec":{"input":[2],"layers":[{"type":"""), HttpStatusCode.BadRequest, "spec.layers[0].type");
        await Problem.AssertAsync(await PostJson("/models", """{"spec":{"input":[2],"layers":[],"loss":"mse"}}"""), HttpStatusCode.BadRequest, "name");
        await Problem.AssertAsync(await PostJson("/models", """{"name":"m"}"""), HttpStatusCode.BadRequest, "spec");

        var invalid = await PostJson("/models/validate", """{"spec":{"input":[2],"layers":[{"type":"dense","units":4},{"type":"dropout","rate":-1}],"loss":"mse"}}""");
        await Problem.AssertAsync(invalid, HttpStatusCode.BadRequest, "layers[1].rate");

        var huge = """{"spec":{"input":[100000],"layers":[{"type":"dense","units":100000}],"loss":"mse"}}""";
        await Problem.AssertAsync(await PostJson("/models/validate", huge), HttpStatusCode.UnprocessableEntity, "layers[0]");
    }

    [Fact]
    public async Task ValidateReportsShapesParametersAndMemory()
    {
        var ok = await (await PostJson("/models/validate",
            """{"spec":{"input":[4],"layers":[{"units":8,"type":"dense"},{"type":"relu"},{"type":"dense","units":3}],"loss":"softmax_cross_entropy"},"batchSize":16}"""))
            .ReadJsonAsync();
        Assert.True(ok.GetProperty("valid").GetBoolean());
        Assert.Equal(4 * 8 + 8 + 8 * 3 + 3, ok.GetProperty("totalParameters").GetInt64());
        Assert.Equal(8, ok.GetProperty("layers")[1].GetProperty("outputShape")[0].GetInt32());
        Assert.True(ok.GetProperty("estimatedTrainingBytes").GetInt64() > ok.GetProperty("parameterBytes").GetInt64());
    }

    [Fact]
    public async Task JobRequestsAreChecked()
    {
        var datasetId = await _client.CreateSyntheticAsync("xor", size: 64, classes: 2);
        var modelId = await _client.CreateModelAsync(ServiceClient.Mlp(outputs: 2));
        var threeInputs = await _client.CreateModelAsync(ServiceClient.Mlp(inputs: 3, outputs: 2));

        await Problem.AssertAsync(await PostJson("/jobs", $$$"""{"modelId":{{{modelId}}}}"""), HttpStatusCode.BadRequest, "datasetId");
        await Problem.AssertAsync(await PostJson("/jobs", $$$"""{"datasetId":{{{datasetId}}}}"""), HttpStatusCode.BadRequest, "modelId");
        await Problem.AssertAsync(await PostJson("/jobs", $$$"""{"modelId":999,"datasetId":{{{datasetId}}}}"""), HttpStatusCode.NotFound, "modelId");
        await Problem.AssertAsync(await PostJson("/jobs", $$$"""{"modelId":{{{modelId}}},"datasetId":999}"""), HttpStatusCode.NotFound, "datasetId");
        await Problem.AssertAsync(await PostJson("/jobs", $$$"""{"modelId":{{{modelId}}},"datasetId":{{{datasetId}}},"optimizer":{"type":"adam","learningRate":-1}}"""),
            HttpStatusCode.BadRequest, "optimizer.learningRate");
        await Problem.AssertAsync(await PostJson("/jobs", $$$"""{"modelId":{{{modelId}}},"datasetId":{{{datasetId}}},"epochs":0}"""), HttpStatusCode.BadRequest, "epochs");
        await Problem.AssertAsync(await PostJson("/jobs", $$$"""{"modelId":{{{modelId}}},"datasetId":{{{datasetId}}},"optimizer":{"type":"lbfgs"}}"""),
            HttpStatusCode.BadRequest, "optimizer.type");
        await Problem.AssertAsync(await PostJson("/jobs", $$$"""{"modelId":{{{modelId}}},"datasetId":{{{datasetId}}},"checkpointEvery":0}"""),
            HttpStatusCode.BadRequest, "checkpointEvery");
        await Problem.AssertAsync(await PostJson("/jobs", $$$"""{"modelId":{{{threeInputs}}},"datasetId":{{{datasetId}}}}"""), HttpStatusCode.UnprocessableEntity, "input");
        await Problem.AssertAsync(await PostJson("/jobs", $$$"""{"datasetId":{{{datasetId}}},"spec":{"input":[2],"layers":[{"type":"dropout","rate":2}],"loss":"mse"}}"""),
            HttpStatusCode.BadRequest, "layers[0].rate");

        await Problem.AssertAsync(await _client.GetAsync("/jobs?status=sleeping"), HttpStatusCode.BadRequest, "status");
        await Problem.AssertAsync(await _client.GetAsync("/jobs?page=0"), HttpStatusCode.BadRequest, "page");
        await Problem.AssertAsync(await _client.GetAsync("/jobs?pageSize=1000"), HttpStatusCode.BadRequest, "pageSize");
        var unparsable = await _client.GetAsync("/jobs?page=abc");
        Assert.Equal(HttpStatusCode.BadRequest, unparsable.StatusCode);
        Assert.Equal("application/problem+json", unparsable.Content.Headers.ContentType?.MediaType);
        Assert.Contains("page", await unparsable.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ResultRequestsAreChecked()
    {
        var datasetId = await _client.CreateSyntheticAsync("xor", size: 64, classes: 2);
        var modelId = await _client.CreateModelAsync(ServiceClient.Mlp(outputs: 2));
        var jobId = await _client.CreateJobAsync(modelId, datasetId, epochs: 2);
        await _client.WaitForStatusAsync(jobId, TimeSpan.FromSeconds(60), "succeeded");

        await Problem.AssertAsync(await _client.GetAsync($"/jobs/{jobId}/weights?format=pickle"), HttpStatusCode.BadRequest, "format");
        await Problem.AssertAsync(await _client.GetAsync($"/jobs/{jobId}/weights?checkpoint=first"), HttpStatusCode.BadRequest, "checkpoint");
        await Problem.AssertAsync(await _client.GetAsync($"/jobs/{jobId}/weights?checkpoint=77"), HttpStatusCode.NotFound, "checkpoint");
        await Problem.AssertAsync(await PostJson($"/jobs/{jobId}/predict", """{"inputs":[[1,2],[1,2,3]]}"""), HttpStatusCode.BadRequest, "inputs[1]");
        await Problem.AssertAsync(await PostJson($"/jobs/{jobId}/predict", """{"inputs":[]}"""), HttpStatusCode.BadRequest, "inputs");
        await Problem.AssertAsync(await PostJson($"/jobs/{jobId}/predict", """{"inputs":[[1,"x"]]}"""), HttpStatusCode.BadRequest, "inputs[0][1]");
        await Problem.AssertAsync(await _client.PostAsync($"/jobs/{jobId}/resume", null), HttpStatusCode.Conflict, "status");
        await Problem.AssertAsync(await _client.PostAsync($"/jobs/{jobId}/cancel", null), HttpStatusCode.Conflict, "status");
        await Problem.AssertAsync(await _client.DeleteAsync($"/datasets/{datasetId + 1000}"), HttpStatusCode.NotFound, "id");

        Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteAsync($"/jobs/{jobId}")).StatusCode);
        await Problem.AssertAsync(await _client.GetAsync($"/jobs/{jobId}"), HttpStatusCode.NotFound, "id");
    }
}
