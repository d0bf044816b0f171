using Api.Cluster;

namespace Api.Security;

/// <summary>
/// Other nodes' revocations: a node that revokes a key publishes its id (<see cref="KeysApi"/>), and every node that hears
/// it clears its <see cref="ApiKeyCache"/> and closes the key's hub connections, so the key fails everywhere from the
/// next request on. A lost message (Redis down) still takes effect when the cache entry expires (ApiKeyCache.Lifetime).
/// </summary>
internal sealed class KeyRevocations(ClusterBus cluster, ApiKeyCache cache, KeyConnections connections, ILogger<KeyRevocations> logger) : IHostedService
{
    public const string Channel = "keys-revoked";

    public Task StartAsync(CancellationToken cancellationToken)
    {
        cluster.Subscribe(Channel, keyId =>
        {
            cache.Clear();
            int closed = connections.Close(keyId);
            logger.LogInformation("Key {KeyId} was revoked on another node; cleared the key cache and closed {Count} hub connections", keyId, closed);
            return Task.CompletedTask;
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
