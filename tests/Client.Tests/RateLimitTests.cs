using System.Net;

namespace Client.Tests;

/// <summary>
/// A service whose bucket holds <see cref="Burst"/> requests per key, refilled by one every <c>period</c>: the client
/// meets real 429s with a real Retry-After.
/// </summary>
public sealed class RateLimitTests
{
    private const int Burst = 3;

    private static Task<ServiceProcess> StartAsync(DataFolder folder, int periodSeconds) => ServiceProcess.StartAsync(folder.Path,
        new Dictionary<string, string>
        {
            ["Security:RateLimit:TokenLimit"] = Burst.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Security:RateLimit:TokensPerPeriod"] = "1",
            ["Security:RateLimit:PeriodSeconds"] = periodSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

    [Fact]
    public async Task A429IsSentAgainAfterItsRetryAfterWithinTheCallersLimit()
    {
        using var folder = new DataFolder();
        await using var service = await StartAsync(folder, periodSeconds: 1);
        var statuses = new StatusRecorder();
        using var http = new HttpClient(statuses) { BaseAddress = service.Address };
        await using var client = new TrainingServiceClient(http, service.ApiKey, new TrainingServiceClientOptions { MaxRateLimitRetries = 20 });

        // Twice the bucket in a row: the later calls are refused at first and succeed after waiting.
        for (int i = 0; i < 2 * Burst; i++) Assert.NotNull(await client.ListJobsAsync());
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses.Seen);
        Assert.Equal(2 * Burst, statuses.Seen.Count(s => s == HttpStatusCode.OK));
        Assert.All(statuses.RetryAfter, r => Assert.InRange(r, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task A429BeyondTheCallersLimitIsThrownWithItsRetryAfter()
    {
        using var folder = new DataFolder();
        await using var service = await StartAsync(folder, periodSeconds: 60);
        var statuses = new StatusRecorder();
        using var http = new HttpClient(statuses) { BaseAddress = service.Address };
        await using var patient = new TrainingServiceClient(http, service.ApiKey,
            new TrainingServiceClientOptions { MaxRateLimitRetries = 5, MaxRetryAfter = TimeSpan.FromSeconds(5) });
        await using var impatient = new TrainingServiceClient(http, service.ApiKey, new TrainingServiceClientOptions { MaxRateLimitRetries = 0 });

        for (int i = 0; i < Burst; i++) await patient.ListJobsAsync();
        // Retry-After is about a minute, longer than this caller waits: thrown at once, not retried.
        var e = await Assert.ThrowsAsync<TrainingServiceException>(() => patient.ListJobsAsync());
        Assert.Equal(HttpStatusCode.TooManyRequests, e.Status);
        Assert.True(e.RetryAfter > TimeSpan.FromSeconds(5), $"Retry-After {e.RetryAfter}");
        Assert.Contains("Security:RateLimit", e.Detail);
        // A caller that never retries gets the 429 on its first answer.
        var never = await Assert.ThrowsAsync<TrainingServiceException>(() => impatient.ListModelsAsync());
        Assert.Equal(HttpStatusCode.TooManyRequests, never.Status);
        Assert.Equal(Burst + 2, statuses.Seen.Length);
    }

    /// <summary>Every status the service answered (retries included) and every Retry-After it sent.</summary>
    private sealed class StatusRecorder() : DelegatingHandler(new SocketsHttpHandler())
    {
        private readonly List<HttpStatusCode> _seen = [];
        private readonly List<TimeSpan> _retryAfter = [];

        public HttpStatusCode[] Seen
        {
            get { lock (_seen) return [.. _seen]; }
        }

        public TimeSpan[] RetryAfter
        {
            get { lock (_seen) return [.. _retryAfter]; }
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            lock (_seen)
            {
                _seen.Add(response.StatusCode);
                if (response.Headers.RetryAfter?.Delta is { } delta) _retryAfter.Add(delta);
            }
            return response;
        }
    }
}
