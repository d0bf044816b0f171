using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace Api.Cluster;

/// <summary>
/// Messages between the nodes of one cluster over Redis pub/sub (ConnectionStrings:Redis): a node publishes, every other
/// node's handlers for that channel run, one message at a time and in publish order. Without Redis there is one node, so
/// publishing does nothing and no handler ever runs.
/// </summary>
/// <remarks>Pub/sub delivers to nodes connected at publish time and keeps nothing, so a message must only ever be a hint
/// that speeds up what the database already records (a revoked key, an epoch row).</remarks>
public sealed class ClusterBus : IAsyncDisposable
{
    public const string ChannelPrefix = "training-service:";

    private readonly ConnectionMultiplexer? _redis;
    private readonly ILogger<ClusterBus> _logger;
    // Unique per process, so a node skips its own messages (a restarted node with the same NodeId is another process).
    private readonly string _instance = Guid.NewGuid().ToString("N");

    public ClusterBus(string? redisConnectionString, ILogger<ClusterBus> logger)
    {
        _logger = logger;
        if (string.IsNullOrWhiteSpace(redisConnectionString)) return;
        var options = ConfigurationOptions.Parse(redisConnectionString);
        // Start even while Redis is down; the health check reports it and the client reconnects by itself.
        options.AbortOnConnectFail = false;
        _redis = ConnectionMultiplexer.Connect(options);
    }

    /// <summary>Whether other nodes can hear this one (Redis is configured).</summary>
    public bool IsShared => _redis is not null;

    public bool IsConnected => _redis?.IsConnected ?? false;

    /// <summary>
    /// Sends <paramref name="message"/> to the other nodes without waiting for Redis (messages from one node keep their
    /// order); a failure is logged, never thrown, since the database stays the record.
    /// </summary>
    public void Publish(string channel, string message)
    {
        if (_redis is null) return;
        try
        {
            _redis.GetSubscriber().Publish(RedisChannel.Literal(ChannelPrefix + channel), $"{_instance}\n{message}", CommandFlags.FireAndForget);
        }
        catch (RedisException e)
        {
            _logger.LogWarning(e, "Publishing on {Channel} failed; other nodes learn of it from the database later", channel);
        }
    }

    /// <summary>Runs <paramref name="handler"/> for each message another node publishes on <paramref name="channel"/>, in order.</summary>
    public void Subscribe(string channel, Func<string, Task> handler)
    {
        if (_redis is null) return;
        var queue = _redis.GetSubscriber().Subscribe(RedisChannel.Literal(ChannelPrefix + channel));
        queue.OnMessage(async m =>
        {
            var text = (string?)m.Message;
            int split = text?.IndexOf('\n', StringComparison.Ordinal) ?? -1;
            if (text is null || split < 0 || text.AsSpan(0, split).SequenceEqual(_instance)) return;
            try
            {
                await handler(text[(split + 1)..]);
            }
            catch (Exception e)
            {
                _logger.LogWarning(e, "A message on {Channel} from another node was not handled", channel);
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (_redis is not null) await _redis.DisposeAsync();
    }
}

/// <summary>Healthy when Redis is not configured or this node is connected to it.</summary>
internal sealed class RedisHealthCheck(ClusterBus bus) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(!bus.IsShared ? HealthCheckResult.Healthy("not configured (one node)")
            : bus.IsConnected ? HealthCheckResult.Healthy("connected") : HealthCheckResult.Unhealthy("Redis does not answer."));
}
