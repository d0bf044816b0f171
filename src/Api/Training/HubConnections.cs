using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;

namespace Api.Training;

/// <summary>
/// SignalR's own in-memory lifetime manager, which also keeps each live connection of the training hub by id, so
/// <see cref="JobEvents"/> can write one pre-serialized event to every subscriber: serialized once per event
/// (and protocol), not once per subscriber as a per-connection client proxy would.
/// </summary>
public sealed class HubConnections(ILogger<DefaultHubLifetimeManager<TrainingHub>> logger) : DefaultHubLifetimeManager<TrainingHub>(logger)
{
    private readonly ConcurrentDictionary<string, HubConnectionContext> _connections = new(StringComparer.Ordinal);

    public override Task OnConnectedAsync(HubConnectionContext connection)
    {
        _connections[connection.ConnectionId] = connection;
        return base.OnConnectedAsync(connection);
    }

    public override Task OnDisconnectedAsync(HubConnectionContext connection)
    {
        _connections.TryRemove(connection.ConnectionId, out _);
        return base.OnDisconnectedAsync(connection);
    }

    /// <summary>The live connection, or null once it has gone.</summary>
    public HubConnectionContext? Find(string connectionId) => _connections.GetValueOrDefault(connectionId);
}
