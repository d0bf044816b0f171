using System.Net;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using static Reliability.Tests.Abuse.AbuseClient;

namespace Reliability.Tests.Abuse;

/// <summary>
/// A real service process with a bucket of 5 requests per key (and per address for requests without a valid key),
/// refilled by one a minute, and the hub's refusals logged at Debug so the test can see how they are logged.
/// </summary>
public sealed class RateLimitedService : IAsyncLifetime
{
    private readonly DataFolder _folder = new();
    public ServiceProcess Service { get; private set; } = null!;

    public async Task InitializeAsync() => Service = await ServiceProcess.StartAsync(_folder.Path, new Dictionary<string, string>
    {
        ["Security:RateLimit:TokenLimit"] = "5",
        ["Security:RateLimit:TokensPerPeriod"] = "1",
        ["Security:RateLimit:PeriodSeconds"] = "60",
        ["Logging:LogLevel:Api.Security.HubLimitsFilter"] = "Debug",
    });

    public async Task DisposeAsync()
    {
        await Service.DisposeAsync();
        _folder.Dispose();
    }
}

public sealed class HubAndRateLimitTests(RateLimitedService fixture) : IClassFixture<RateLimitedService>
{
    private ServiceProcess Service => fixture.Service;

    private HubConnection Hub(string key) => new HubConnectionBuilder()
        .WithUrl(new Uri(Service.Address, "/hubs/training"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(key))
        .Build();

    [Fact]
    public async Task HealthIsNeverRateLimitedAfterAFloodOfRequestsWithUnknownKeys()
    {
        using var flood = new HttpClient { BaseAddress = Service.Address };
        flood.DefaultRequestHeaders.Add("X-Api-Key", "not-a-key");
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 150; i++) statuses.Add((await flood.GetAsync("/jobs")).StatusCode);
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.DoesNotContain(statuses, s => (int)s >= 500);

        using var probe = new HttpClient { BaseAddress = Service.Address };
        for (int i = 0; i < 50; i++) Assert.Equal(HttpStatusCode.OK, (await probe.GetAsync("/health")).StatusCode);
        for (int i = 0; i < 10; i++) Assert.Equal(HttpStatusCode.OK, (await flood.GetAsync("/health")).StatusCode);
    }

    [Fact]
    public async Task HubCallsTakeTheKeysRateLimitAndUnknownJobsAreLoggedWithoutAStackTrace()
    {
        var (_, key, _) = await OwnerAsync(Service, "hub-flooder");
        await using var connection = Hub(key);
        await connection.StartAsync();
        var refusals = new List<string>();
        for (int i = 0; i < 30; i++)
        {
            var e = await Assert.ThrowsAsync<HubException>(() => connection.InvokeAsync("Subscribe", 999_000_000L + i));
            refusals.Add(e.Message);
        }
        // The bucket had at most 5 tokens (negotiate and connect took some): the rest are refused by the limit.
        Assert.Contains(refusals, m => m.Contains("does not exist", StringComparison.Ordinal));
        Assert.True(refusals.Count(m => m.Contains("Security:RateLimit", StringComparison.Ordinal)) >= 25, string.Join("\n", refusals));

        await EventuallyAsync(() => Service.Log.Contains("Hub call Subscribe refused", StringComparison.Ordinal), TimeSpan.FromSeconds(10),
            () => "no refusal in the log:\n" + Service.Log);
        var log = Service.Log;
        Assert.DoesNotContain("HubException", log);
        Assert.DoesNotContain("   at ", log);
        Assert.DoesNotContain("Failed to invoke hub method", log);
    }

    [Fact]
    public async Task RevokingAKeyClosesItsOpenHubConnection()
    {
        var (_, key, keyId) = await OwnerAsync(Service, "revoked");
        await using var connection = Hub(key);
        var closed = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.Closed += e =>
        {
            closed.TrySetResult(e);
            return Task.CompletedTask;
        };
        await connection.StartAsync();
        Assert.Equal(HubConnectionState.Connected, connection.State);

        Assert.Equal(HttpStatusCode.NoContent, (await Service.Client.DeleteAsync($"/keys/{keyId}")).StatusCode);
        // Within seconds; the minute is only the test's give-up point on a loaded machine.
        Assert.Same(closed.Task, await Task.WhenAny(closed.Task, Task.Delay(TimeSpan.FromMinutes(1))));
        Assert.Equal(HubConnectionState.Disconnected, connection.State);

        // And it cannot come back: 401, or 429 once its anonymous requests have emptied the address's bucket.
        await using var again = Hub(key);
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => again.StartAsync());
        Assert.Contains(refused.StatusCode, new HttpStatusCode?[] { HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests });
    }
}
