using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace Api.Security;

/// <summary>
/// The open SignalR connections of each API key, so revoking a key also closes the connections it opened
/// (authentication happens once per connection, at connect).
/// </summary>
/// <remarks>
/// SignalR answers the handshake before it runs OnConnected, so a connection can be registered just after its key
/// was revoked; revoked key ids are remembered and a connection registering under one is closed at once.
/// </remarks>
public sealed class KeyConnections
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, HubCallerContext>> _byKey = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _revoked = new(StringComparer.Ordinal);

    public static string? KeyOf(HubCallerContext context) => context.User?.FindFirst(ApiKeyAuthenticationHandler.KeyIdClaim)?.Value;

    public void Add(HubCallerContext context)
    {
        if (KeyOf(context) is not { } key) return;
        _byKey.GetOrAdd(key, _ => new(StringComparer.Ordinal))[context.ConnectionId] = context;
        // After the add: a Close that removed the list before this add marked the key first, so this sees it.
        if (_revoked.ContainsKey(key)) context.Abort();
    }

    public void Remove(HubCallerContext context)
    {
        if (KeyOf(context) is { } key && _byKey.TryGetValue(key, out var connections)) connections.TryRemove(context.ConnectionId, out _);
    }

    /// <summary>Aborts every connection of <paramref name="keyId"/>, now and any that registers later; returns how many there were.</summary>
    public int Close(string keyId)
    {
        _revoked[keyId] = true;
        if (!_byKey.TryRemove(keyId, out var connections)) return 0;
        foreach (var context in connections.Values) context.Abort();
        return connections.Count;
    }
}

/// <summary>
/// Every hub invocation takes a token from its key's bucket (<see cref="KeyRateLimiter"/>), as an HTTP request
/// would; tracks connections for <see cref="KeyConnections"/>; and logs failed invocations itself: a refused
/// one (HubException: unknown job, rate limit) at Debug without a stack trace, so a flood of them cannot fill
/// the log, anything else at Error. SignalR's own per-failure error log is turned off in <see cref="SecurityExtensions"/>.
/// </summary>
internal sealed class HubLimitsFilter(KeyRateLimiter keys, KeyConnections connections, IOptions<SecurityOptions> options,
    ILogger<HubLimitsFilter> logger) : IHubFilter
{
    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocation, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        try
        {
            if (invocation.Context.GetHttpContext() is { } http)
            {
                using var lease = keys.Limiter.AttemptAcquire(http);
                if (!lease.IsAcquired)
                    throw new HubException($"too many requests for this API key; retry after " +
                        $"{KeyRateLimiter.RetryAfterSeconds(lease, options.Value.RateLimit)} s (Security:RateLimit)");
            }
            return await next(invocation);
        }
        catch (HubException e)
        {
            logger.LogDebug("Hub call {Method} refused: {Reason}", invocation.HubMethodName, e.Message);
            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogError(e, "Hub call {Method} failed", invocation.HubMethodName);
            throw;
        }
    }

    public async Task OnConnectedAsync(HubLifetimeContext context, Func<HubLifetimeContext, Task> next)
    {
        connections.Add(context.Context);
        await next(context);
    }

    public async Task OnDisconnectedAsync(HubLifetimeContext context, Exception? exception, Func<HubLifetimeContext, Exception?, Task> next)
    {
        connections.Remove(context.Context);
        await next(context, exception);
    }
}
