using System.Net;

namespace Api.Tests.Diagnostics;

public sealed class DiagnosticsEndpointTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task EveryEpochHasSaneDiagnosticsForEveryLayer()
    {
        var datasetId = await _client.CreateSyntheticAsync();
        var modelId = await _client.CreateModelAsync(ServiceClient.Mlp(hidden: 16, depth: 2));
        var jobId = await _client.CreateJobAsync(modelId, datasetId, epochs: 3);
        var job = await _client.WaitForStatusAsync(jobId, TimeSpan.FromSeconds(60), "succeeded", "failed");
        Assert.Equal("succeeded", job.GetProperty("status").GetString());

        var epochs = (await (await _client.GetAsync($"/jobs/{jobId}/diagnostics")).ReadJsonAsync()).EnumerateArray().ToList();
        Assert.Equal([1, 2, 3], epochs.Select(e => e.GetProperty("epoch").GetInt32()));
        foreach (var epoch in epochs)
        {
            var layers = epoch.GetProperty("layers").EnumerateArray().ToList();
            Assert.Equal(["Dense", "Relu", "Dense", "Relu", "Dense"], layers.Select(l => l.GetProperty("type").GetString()));
            foreach (var l in layers)
            {
                var histogram = l.GetProperty("histogram").EnumerateArray().Select(b => b.GetInt32()).ToList();
                Assert.Equal(20, histogram.Count);
                int width = l.GetProperty("index").GetInt32() == 4 ? 3 : 16;
                Assert.Equal(256 * width, histogram.Sum()); // probe: the first 256 training samples
                Assert.True(l.GetProperty("std").GetDouble() >= 0);
                bool dense = l.GetProperty("type").GetString() == "Dense";
                Assert.Equal(dense, l.GetProperty("weightNorm").ValueKind == System.Text.Json.JsonValueKind.Number);
                if (dense) Assert.True(l.GetProperty("gradNorm").GetDouble() > 0 && l.GetProperty("gradToWeight").GetDouble() > 0);
                else Assert.InRange(l.GetProperty("deadFraction").GetDouble(), 0, 1);
            }
        }
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync("/jobs/99999/diagnostics")).StatusCode);
    }
}
