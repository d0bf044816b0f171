using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using TrainingService.Contracts;

namespace TrainingService.Client;

public sealed partial class TrainingServiceClient
{
    /// <summary>The SignalR hub of training events.</summary>
    public const string HubPath = "hubs/training";

    /// <summary>
    /// A job's events as they happen: the epochs already finished first (in order), then the current status, then
    /// live epochs, batch progress and layer statistics, ending after the job's final status (succeeded, failed or
    /// cancelled). When the connection drops (a server restart, say) it reconnects and subscribes again within
    /// <see cref="TrainingServiceClientOptions.ReconnectWindow"/>; the replayed history is skipped, so each epoch
    /// is yielded once and in order. Epochs the hub leaves out of a long replay (Training:HubReplayEpochs) are read
    /// from <c>GET /jobs/{id}/metrics</c> instead, so none is missing.
    /// </summary>
    /// <exception cref="TrainingServiceException">The job does not exist (404) or the key may not read it.</exception>
    /// <exception cref="TimeoutException">The service stayed unreachable for the whole reconnect window.</exception>
    public async IAsyncEnumerable<IJobEvent> WatchAsync(long jobId, [EnumeratorCancellation] CancellationToken ct = default)
    {
        // A missing job is the REST API's 404 problem, not the hub's bare error.
        await GetJobAsync(jobId, ct);
        // Handlers only queue; the reader filters, so a gap it fills from the metrics is ordered before the replay.
        var events = Channel.CreateUnbounded<IJobEvent>(new UnboundedChannelOptions { SingleReader = true });
        var filter = new WatchFilter(jobId);
        await using var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(BaseAddress, HubPath), o => o.AccessTokenProvider = () => Task.FromResult<string?>(_apiKey))
            .AddJsonProtocol(o => ServiceJson.Configure(o.PayloadSerializerOptions))
            .Build();
        void Forward(IJobEvent e) => events.Writer.TryWrite(e);
        connection.On<EpochCompletedEvent>(nameof(ITrainingClient.EpochCompleted), Forward);
        connection.On<JobStatusChangedEvent>(nameof(ITrainingClient.JobStatusChanged), Forward);
        connection.On<BatchProgressEvent>(nameof(ITrainingClient.BatchProgress), Forward);
        connection.On<LayerStatsEvent>(nameof(ITrainingClient.LayerStats), Forward);
        connection.On<HistoryTruncatedEvent>(nameof(ITrainingClient.HistoryTruncated), t => Forward(new Truncated(t)));
        // Reconnection is done here rather than by SignalR's automatic reconnect, which gives up when the first
        // start fails and does not retry a connection the server closed on its way down.
        connection.Closed += _ =>
        {
            events.Writer.TryWrite(Disconnected.Instance);
            return Task.CompletedTask;
        };

        await ConnectAsync(connection, jobId, ct);
        await foreach (var e in events.Reader.ReadAllAsync(ct))
        {
            if (e is Disconnected)
            {
                await ConnectAsync(connection, jobId, ct);
                continue;
            }
            if (e is Truncated { Event: var truncated })
            {
                foreach (var metric in await GetMetricsAsync(jobId, ct))
                {
                    var epoch = new EpochCompletedEvent(jobId, metric.Epoch, metric.TrainLoss, metric.TrainAccuracy, metric.ValLoss,
                        metric.ValAccuracy, metric.LearningRate, metric.Seconds, metric.IsBest, metric.StoredAt);
                    if (metric.Epoch < truncated.FirstReplayedEpoch && filter.Admit(epoch)) yield return epoch;
                }
                continue;
            }
            if (!filter.Admit(e)) continue;
            yield return e;
            if (e is JobStatusChangedEvent { Status: JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled or JobStatus.Pruned }) yield break;
        }
    }

    /// <summary>Starts the connection and subscribes, retrying until the reconnect window has passed.</summary>
    private async Task ConnectAsync(HubConnection connection, long jobId, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + Options.ReconnectWindow;
        while (true)
        {
            try
            {
                if (connection.State == HubConnectionState.Disconnected) await connection.StartAsync(ct);
                await connection.InvokeAsync("Subscribe", jobId, ct);
                return;
            }
            catch (HubException)
            {
                // The hub refused the job (deleted meanwhile): the REST API says why.
                await GetJobAsync(jobId, ct);
                throw;
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                if (DateTime.UtcNow > deadline)
                    throw new TimeoutException($"{new Uri(BaseAddress, HubPath)} was unreachable for {Options.ReconnectWindow}", e);
                if (connection.State != HubConnectionState.Disconnected) await connection.StopAsync(ct);
                await Task.Delay(Options.ReconnectDelay, ct);
            }
        }
    }

    /// <summary>
    /// Drops what a subscriber has already seen: a subscription replays the stored epochs, and a second one (after a
    /// reconnect) replays those the first delivered. Used by the single reader only.
    /// </summary>
    private sealed class WatchFilter(long jobId)
    {
        private int _epoch;
        private int _layerEpoch;
        private JobStatusChangedEvent? _status;

        public bool Admit(IJobEvent e)
        {
            if (e.JobId != jobId) return false;
            switch (e)
            {
                case EpochCompletedEvent epoch when epoch.Epoch > _epoch:
                    _epoch = epoch.Epoch;
                    return true;
                case JobStatusChangedEvent status when status != _status:
                    _status = status;
                    return true;
                case BatchProgressEvent batch:
                    return batch.Epoch > _epoch;
                case LayerStatsEvent layers when layers.Epoch > _layerEpoch:
                    _layerEpoch = layers.Epoch;
                    return true;
                default:
                    return false;
            }
        }
    }

    /// <summary>The hub replays only the last epochs; the reader reads the ones before from the metrics.</summary>
    private sealed record Truncated(HistoryTruncatedEvent Event) : IJobEvent
    {
        public long JobId => Event.JobId;
    }

    /// <summary>The connection closed; the reader reconnects.</summary>
    private sealed class Disconnected : IJobEvent
    {
        public static readonly Disconnected Instance = new();
        public long JobId => 0;
    }
}
