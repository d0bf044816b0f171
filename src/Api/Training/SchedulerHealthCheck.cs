using Hangfire;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Api.Training;

/// <summary>Healthy while this process's Hangfire server is registered with its storage and sending heartbeats.</summary>
internal sealed class SchedulerHealthCheck(JobStorage storage) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var servers = storage.GetMonitoringApi().Servers();
        return Task.FromResult(servers.Count > 0
            ? HealthCheckResult.Healthy($"{servers.Count} Hangfire server(s), {servers.Sum(s => s.WorkersCount)} worker(s)")
            : HealthCheckResult.Unhealthy("No Hangfire server is running."));
    }
}
