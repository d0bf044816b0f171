using StackExchange.Redis;

namespace Api.Cluster;

public static class ClusterExtensions
{
    /// <summary>ConnectionStrings:Redis (StackExchange.Redis form, e.g. <c>redis:6379</c>): set on every node of a cluster.</summary>
    public const string RedisConnectionName = "Redis";

    /// <summary>
    /// What several nodes share besides the database: with ConnectionStrings:Redis, the SignalR Redis backplane (a hub
    /// send on one node reaches connections on every node) and the <see cref="ClusterBus"/> the features publish their
    /// cross-node hints on; Redis's state joins /health. Without it the node runs alone and both are local.
    /// </summary>
    public static WebApplicationBuilder AddCluster(this WebApplicationBuilder builder)
    {
        var redis = builder.Configuration.GetConnectionString(RedisConnectionName);
        builder.Services.AddSingleton(sp => new ClusterBus(redis, sp.GetRequiredService<ILogger<ClusterBus>>()));
        builder.Services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis");
        if (!string.IsNullOrWhiteSpace(redis))
        {
            builder.Services.AddSignalR().AddStackExchangeRedis(redis, o =>
            {
                o.Configuration.ChannelPrefix = RedisChannel.Literal(ClusterBus.ChannelPrefix + "signalr");
                o.Configuration.AbortOnConnectFail = false;
            });
        }
        return builder;
    }
}
