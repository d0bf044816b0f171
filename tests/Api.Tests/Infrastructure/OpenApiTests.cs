using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Api.Tests.Infrastructure;

public sealed class OpenApiTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    private async Task<JsonElement> DocumentAsync() => await (await _client.GetAsync("/swagger/v1/swagger.json")).ReadJsonAsync();

    [Fact]
    public async Task DocumentListsEveryRouteWithASummary()
    {
        var paths = (await DocumentAsync()).GetProperty("paths");
        var routes = factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<HttpMethodMetadata>() is not null)
            .Select(e => (Path: Normalize(e.RoutePattern.RawText!), Method: e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods[0]))
            .Where(r => !r.Path.StartsWith("/hubs/", StringComparison.Ordinal) && r.Path != "/health")
            .ToList();
        Assert.True(routes.Count >= 20, $"only {routes.Count} routes found");
        foreach (var (path, method) in routes)
        {
            Assert.True(paths.TryGetProperty(path, out var item), $"{path} is not in the document");
            Assert.True(item.TryGetProperty(method.ToLowerInvariant(), out var operation), $"{method} {path} is not in the document");
            Assert.False(string.IsNullOrWhiteSpace(operation.GetProperty("summary").GetString()), $"{method} {path} has no summary");
        }
    }

    private static string Normalize(string pattern)
    {
        var path = "/" + pattern.Trim('/');
        return System.Text.RegularExpressions.Regex.Replace(path, @"\{(\w+):\w+\}", "{$1}");
    }

    [Fact]
    public async Task LayerSpecsAreOneOfWithTheTypeDiscriminatorAndErrorsAreProblemDetails()
    {
        var document = await DocumentAsync();
        var schemas = document.GetProperty("components").GetProperty("schemas");
        var layers = schemas.GetProperty("ModelSpec").GetProperty("properties").GetProperty("layers").GetProperty("items");
        Assert.Equal(12, layers.GetProperty("oneOf").GetArrayLength());
        var discriminator = schemas.GetProperty("LayerSpec").GetProperty("discriminator");
        Assert.Equal("type", discriminator.GetProperty("propertyName").GetString());
        Assert.Equal("#/components/schemas/DropoutSpec", discriminator.GetProperty("mapping").GetProperty("dropout").GetString());

        var createModel = document.GetProperty("paths").GetProperty("/models").GetProperty("post");
        Assert.True(createModel.GetProperty("responses").GetProperty("400").GetProperty("content").TryGetProperty("application/problem+json", out _));
        var upload = document.GetProperty("paths").GetProperty("/datasets").GetProperty("post").GetProperty("requestBody");
        Assert.True(upload.GetProperty("content").TryGetProperty("multipart/form-data", out _));
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/swagger/index.html")).StatusCode);
    }

    [Fact]
    public async Task RequestExamplesWorkWhenPastedInOrder()
    {
        var paths = (await DocumentAsync()).GetProperty("paths");
        string Example(string path, string method) =>
            paths.GetProperty(path).GetProperty(method).GetProperty("requestBody").GetProperty("content")
                .GetProperty("application/json").GetProperty("example").GetRawText();
        Task<HttpResponseMessage> Post(string url, string json) => _client.PostAsync(url, new StringContent(json, Encoding.UTF8, "application/json"));

        // This class's service is fresh, so the ids the examples use (1) are the ones created here.
        Assert.Equal(1, (await (await Post("/datasets/synthetic", Example("/datasets/synthetic", "post"))).ReadJsonAsync()).GetProperty("id").GetInt64());
        Assert.Equal(1, (await (await Post("/models", Example("/models", "post"))).ReadJsonAsync()).GetProperty("id").GetInt64());
        await (await Post("/models/validate", Example("/models/validate", "post"))).ReadJsonAsync();
        var job = await (await Post("/jobs", Example("/jobs", "post"))).ReadJsonAsync();
        var id = job.GetProperty("id").GetInt64();
        await _client.WaitForStatusAsync(id, TimeSpan.FromSeconds(90), "succeeded");
        var prediction = await (await Post($"/jobs/{id}/predict", Example("/jobs/{id}/predict", "post"))).ReadJsonAsync();
        Assert.Equal(2, prediction.GetProperty("argmax").GetArrayLength());
    }
}
