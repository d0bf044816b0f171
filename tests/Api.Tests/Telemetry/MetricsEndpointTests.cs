using System.Net;

namespace Api.Tests.Telemetry;

public sealed class PrometheusFactory : ServiceFactory
{
    protected override IEnumerable<(string Key, string Value)> Settings => [("Telemetry:Prometheus", "true"), ("Training:NodeId", "node-7")];
}

/// <summary>GET /metrics in Prometheus's format when Telemetry:Prometheus is on: the training instruments, admin keys only.</summary>
public sealed class MetricsEndpointTests(PrometheusFactory factory) : IClassFixture<PrometheusFactory>
{
    [Fact]
    public async Task MetricsShowJobsByStatusAndEpochDurationsToAdminsOnly()
    {
        var client = factory.CreateClient();
        long dataset = await client.CreateSyntheticAsync();
        long model = await client.CreateModelAsync();
        long job = await client.CreateJobAsync(model, dataset, epochs: 2);
        await client.WaitForStatusAsync(job, TimeSpan.FromMinutes(2), "succeeded");

        var text = await client.GetStringAsync("/metrics");
        Assert.Contains("training_jobs{", text, StringComparison.Ordinal);
        Assert.Contains("status=\"Succeeded\"", text, StringComparison.Ordinal);
        Assert.Contains("training_epoch_duration_seconds_count", text, StringComparison.Ordinal);
        Assert.Contains("training_node_running_jobs", text, StringComparison.Ordinal);
        Assert.Contains("node-7", text, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.Unauthorized, (await factory.CreateClient(null).GetAsync("/metrics")).StatusCode);
        var owner = factory.CreateClient(await factory.CreateOwnerKeyAsync("dana"));
        Assert.Equal(HttpStatusCode.Forbidden, (await owner.GetAsync("/metrics")).StatusCode);
    }
}
