using Api.Cluster;

namespace Api.Training;

/// <summary>Delivers the job events other nodes publish to this node's hub subscribers (<see cref="JobEvents"/>).</summary>
internal sealed class JobEventRelay(ClusterBus cluster, JobEvents events) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        cluster.Subscribe(JobEvents.ClusterChannel, events.Relay);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
