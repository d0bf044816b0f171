using Hangfire;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Api.Training;

/// <summary>
/// Healthy while this process's own Hangfire server is registered with its storage and sending heartbeats. On PostgreSQL
/// the storage lists every node's servers, so only those named after this process count (ServerName, AddTraining).
/// </summary>
internal sealed class SchedulerHealthCheck(JobStorage storage, IOptions<WorkerOptions> options) : IHealthCheck
{
    /// <summary>The name AddTraining gives this process's Hangfire server; Hangfire lower-cases it and appends ":" and a GUID.</summary>
    public static string ServerName(WorkerOptions worker) => $"{worker.NodeId}:{Environment.ProcessId}";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var prefix = ServerName(options.Value) + ":";
        var servers = storage.GetMonitoringApi().Servers().Where(s => s.Name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)).ToList();
        return Task.FromResult(servers.Count > 0
            ? HealthCheckResult.Healthy($"{servers.Count} Hangfire server(s) in this process, {servers.Sum(s => s.WorkersCount)} worker(s)")
            : HealthCheckResult.Unhealthy("This process's Hangfire server is not running."));
    }
}
