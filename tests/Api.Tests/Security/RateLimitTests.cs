using System.Net;

namespace Api.Tests.Security;

/// <summary>A bucket of 5 requests per key, refilled by one a minute: the 6th request in a row is refused.</summary>
public sealed class RateLimitedFactory : ServiceFactory
{
    protected override IEnumerable<(string Key, string Value)> Settings =>
    [
        ("Security:RateLimit:TokenLimit", "5"),
        ("Security:RateLimit:TokensPerPeriod", "1"),
        ("Security:RateLimit:PeriodSeconds", "60"),
    ];
}

public sealed class RateLimitTests(RateLimitedFactory factory) : IClassFixture<RateLimitedFactory>
{
    [Fact]
    public async Task ANoisyKeyGets429WithRetryAfterWhileAnotherKeyIsUnaffected()
    {
        var noisy = factory.CreateClient(await factory.CreateOwnerKeyAsync("noisy"));
        var quiet = factory.CreateClient(await factory.CreateOwnerKeyAsync("quiet"));

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? rejected = null;
        for (int i = 0; i < 12; i++)
        {
            var response = await noisy.GetAsync("/jobs");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests) rejected ??= response;
        }
        Assert.Equal(Enumerable.Repeat(HttpStatusCode.OK, 5), statuses.Take(5));
        Assert.All(statuses.Skip(5), s => Assert.Equal(HttpStatusCode.TooManyRequests, s));
        await Problem.AssertAsync(rejected!, HttpStatusCode.TooManyRequests);
        var retryAfter = rejected!.Headers.RetryAfter?.Delta;
        Assert.True(retryAfter is { } d && d > TimeSpan.Zero && d <= TimeSpan.FromSeconds(60), $"Retry-After: {rejected.Headers.RetryAfter}");

        // The same route at the same moment with a different key: that key has its own full bucket.
        for (int i = 0; i < 5; i++) Assert.Equal(HttpStatusCode.OK, (await quiet.GetAsync("/jobs")).StatusCode);
    }
}
