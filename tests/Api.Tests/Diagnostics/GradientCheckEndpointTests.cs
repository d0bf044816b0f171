using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Api.Tests.Diagnostics;

public sealed class GradientCheckEndpointTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    private static object EveryLayerSpec() => new
    {
        input = new[] { 2 },
        layers = new object[]
        {
            new { type = "dense", units = 16 }, new { type = "batchnorm" }, new { type = "relu" },
            new { type = "dropout", rate = 0.3 }, new { type = "dense", units = 12 }, new { type = "leaky_relu", alpha = 0.1 },
            new { type = "dense", units = 8 }, new { type = "tanh" }, new { type = "dense", units = 6 }, new { type = "sigmoid" },
            new { type = "dense", units = 3 },
        },
        loss = "softmax_cross_entropy",
    };

    [Fact]
    public async Task StoredModelPassesWithPerParameterErrorsAndTheStatedTolerance()
    {
        var datasetId = await _client.CreateSyntheticAsync(normalization: "standardize");
        var modelId = await _client.CreateModelAsync(EveryLayerSpec());
        var response = await _client.PostAsJsonAsync($"/models/{modelId}/gradient-check", new { datasetId, batchSize = 16, seed = 3 });
        var body = await response.ReadJsonAsync();

        Assert.True(body.GetProperty("passed").GetBoolean(), body.ToString());
        Assert.Equal(16, body.GetProperty("batchSize").GetInt32());
        var tolerance = body.GetProperty("tolerance");
        Assert.True(tolerance.GetProperty("absolute").GetDouble() > 0 && tolerance.GetProperty("relative").GetDouble() > 0);
        var results = body.GetProperty("results").EnumerateArray().ToList();
        // Five dense layers (weight, bias) and one BatchNorm (weight, bias).
        Assert.Equal(12, results.Count);
        Assert.Equal(["dense", "batchnorm", "dense", "dense", "dense", "dense"],
            results.Where((_, i) => i % 2 == 0).Select(r => r.GetProperty("layer").GetString()!.ToLowerInvariant()));
        Assert.All(results, r =>
        {
            Assert.True(r.GetProperty("passed").GetBoolean());
            Assert.True(r.GetProperty("checked").GetInt32() > 0);
            Assert.True(r.GetProperty("maxAbsError").GetDouble() <= tolerance.GetProperty("absolute").GetDouble()
                        || r.GetProperty("maxRelError").GetDouble() <= tolerance.GetProperty("relative").GetDouble());
        });
        Assert.Equal("weight", results[0].GetProperty("parameter").GetString());
    }

    [Fact]
    public async Task InlineSpecIsCheckedWithoutStoringAModel()
    {
        var datasetId = await _client.CreateSyntheticAsync();
        var response = await _client.PostAsJsonAsync("/models/gradient-check", new { spec = ServiceClient.Mlp(), datasetId });
        var body = await response.ReadJsonAsync();
        Assert.True(body.GetProperty("passed").GetBoolean(), body.ToString());
        Assert.Equal(8, body.GetProperty("batchSize").GetInt32());
        Assert.Equal(4, body.GetProperty("results").GetArrayLength());
    }

    [Fact]
    public async Task BadInputIsProblemJson()
    {
        var datasetId = await _client.CreateSyntheticAsync();
        var modelId = await _client.CreateModelAsync();
        await Problem.AssertAsync(await _client.PostAsJsonAsync($"/models/{modelId}/gradient-check", new { datasetId, batchSize = 65 }),
            HttpStatusCode.BadRequest, "batchSize");
        await Problem.AssertAsync(await _client.PostAsJsonAsync($"/models/{modelId}/gradient-check", new { batchSize = 4 }),
            HttpStatusCode.BadRequest, "datasetId");
        await Problem.AssertAsync(await _client.PostAsJsonAsync($"/models/{modelId}/gradient-check", new { datasetId = 99999 }),
            HttpStatusCode.NotFound, "datasetId");
        await Problem.AssertAsync(await _client.PostAsJsonAsync("/models/99999/gradient-check", new { datasetId }),
            HttpStatusCode.NotFound, "id");
        await Problem.AssertAsync(await _client.PostAsJsonAsync("/models/gradient-check", new { datasetId, spec = ServiceClient.Mlp(inputs: 5) }),
            HttpStatusCode.UnprocessableEntity, "input");
        await Problem.AssertAsync(await _client.PostAsJsonAsync("/models/gradient-check", new { datasetId }),
            HttpStatusCode.BadRequest, "spec");
    }
}
