using System.Globalization;
using System.Threading.RateLimiting;
using Api.Infrastructure;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Api.Security;

/// <summary>
/// The framework's rate limiter with one token bucket per API key (anonymous requests share one per
/// client address), so a noisy key empties only its own bucket. Rejections are 429 problem+json with
/// Retry-After rather than the middleware's default bare 503.
/// </summary>
internal static class RateLimiting
{
    public static IServiceCollection AddKeyRateLimiter(this IServiceCollection services)
    {
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                var limits = context.RequestServices.GetRequiredService<IOptions<SecurityOptions>>().Value.RateLimit;
                var key = context.User.FindFirst(ApiKeyAuthenticationHandler.KeyIdClaim)?.Value is { } id
                    ? "key:" + id
                    : "anonymous:" + context.Connection.RemoteIpAddress;
                return RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = Math.Max(1, limits.TokenLimit),
                    TokensPerPeriod = Math.Max(1, limits.TokensPerPeriod),
                    ReplenishmentPeriod = TimeSpan.FromSeconds(Math.Max(0.001, limits.PeriodSeconds)),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            o.OnRejected = async (context, ct) =>
            {
                var limits = context.HttpContext.RequestServices.GetRequiredService<IOptions<SecurityOptions>>().Value.RateLimit;
                var wait = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
                    ? retryAfter : TimeSpan.FromSeconds(limits.PeriodSeconds);
                var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
                context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await Problems.Field("", $"too many requests for this API key; retry after {seconds} s (Security:RateLimit)",
                    StatusCodes.Status429TooManyRequests).ExecuteAsync(context.HttpContext);
            };
        });
        return services;
    }
}
