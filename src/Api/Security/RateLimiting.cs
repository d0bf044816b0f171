using System.Globalization;
using System.Threading.RateLimiting;
using Api.Infrastructure;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Api.Security;

/// <summary>
/// One token bucket per API key (anonymous requests share one per client address), so a noisy key empties only
/// its own bucket. The same buckets serve HTTP requests (the framework's rate limiter) and SignalR hub invocations
/// (<see cref="HubLimitsFilter"/>), so a key cannot get around its limit by calling the hub. /health is never
/// limited: probes hold no key and must not share, or empty, the anonymous bucket.
/// </summary>
public sealed class KeyRateLimiter : IDisposable
{
    public KeyRateLimiter(IOptions<SecurityOptions> options)
    {
        var limits = options.Value.RateLimit;
        Limiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
        {
            if (context.Request.Path.StartsWithSegments("/health")) return RateLimitPartition.GetNoLimiter("health");
            var key = context.User.FindFirst(ApiKeyAuthenticationHandler.KeyIdClaim)?.Value is { } id
                ? "key:" + id
                : "anonymous:" + context.Connection.RemoteIpAddress;
            return RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = Math.Max(1, limits.TokenLimit),
                TokensPerPeriod = Math.Max(1, limits.TokensPerPeriod),
                ReplenishmentPeriod = Period(limits),
                QueueLimit = 0,
                AutoReplenishment = true,
            });
        });
    }

    public PartitionedRateLimiter<HttpContext> Limiter { get; }

    public static TimeSpan Period(RateLimitOptions limits) => TimeSpan.FromSeconds(Math.Max(0.001, limits.PeriodSeconds));

    /// <summary>Whole seconds to wait before the next token, at least 1.</summary>
    public static int RetryAfterSeconds(RateLimitLease lease, RateLimitOptions limits)
    {
        var wait = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : Period(limits);
        return Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
    }

    public void Dispose() => Limiter.Dispose();
}

internal static class RateLimiting
{
    public static IServiceCollection AddKeyRateLimiter(this IServiceCollection services)
    {
        services.AddSingleton<KeyRateLimiter>();
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<KeyRateLimiter>((o, keys) =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.GlobalLimiter = keys.Limiter;
            o.OnRejected = async (context, ct) =>
            {
                var limits = context.HttpContext.RequestServices.GetRequiredService<IOptions<SecurityOptions>>().Value.RateLimit;
                var seconds = KeyRateLimiter.RetryAfterSeconds(context.Lease, limits);
                context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await Problems.Field("", $"too many requests for this API key; retry after {seconds} s (Security:RateLimit)",
                    StatusCodes.Status429TooManyRequests).ExecuteAsync(context.HttpContext);
            };
        });
        return services;
    }
}
