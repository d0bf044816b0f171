using System.Threading.RateLimiting;
using Api.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Api.Security;

/// <summary>
/// A count of heavy operations running at once with a short queue (the framework's ConcurrencyLimiter): memory-
/// and CPU-heavy requests wait their turn, and past the queue are answered 429 naming <see cref="Setting"/>.
/// </summary>
public sealed class WorkLimiter(string setting, int permits, int queue) : IDisposable
{
    private readonly ConcurrencyLimiter _limiter = new(new ConcurrencyLimiterOptions
    {
        PermitLimit = Math.Max(1, permits), QueueLimit = Math.Max(0, queue), QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
    });

    public string Setting { get; } = setting;

    /// <summary>A lease to dispose when the work is done, or the 429 to answer with.</summary>
    public async Task<(RateLimitLease? Lease, ProblemHttpResult? Problem)> AcquireAsync(HttpContext context, CancellationToken ct)
    {
        var lease = await _limiter.AcquireAsync(1, ct);
        if (lease.IsAcquired) return (lease, null);
        lease.Dispose();
        context.Response.Headers.RetryAfter = "1";
        return (null, Problems.Field("", $"the service is busy with other requests of this kind; retry after 1 s ({Setting})",
            StatusCodes.Status429TooManyRequests));
    }

    public void Dispose() => _limiter.Dispose();
}

/// <summary>Loading a checkpoint's network (predict, weight downloads) and gradient checks: Security:MaxConcurrentModelRequests.</summary>
/// <remarks>A waiting request holds no network, only its connection, so the queue is long: ordinary concurrent
/// clients wait their turn, and only a flood gets 429.</remarks>
public sealed class ModelWork(Microsoft.Extensions.Options.IOptions<SecurityOptions> options)
{
    public WorkLimiter Limiter { get; } = new("Security:MaxConcurrentModelRequests", options.Value.MaxConcurrentModelRequests,
        32 * options.Value.MaxConcurrentModelRequests);
}

/// <summary>Data set uploads being parsed: Storage:MaxConcurrentUploads.</summary>
public sealed class UploadWork(Microsoft.Extensions.Options.IOptions<Storage.StorageOptions> options)
{
    public WorkLimiter Limiter { get; } = new("Storage:MaxConcurrentUploads", options.Value.MaxConcurrentUploads, 0);
}
