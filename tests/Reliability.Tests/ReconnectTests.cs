using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;

namespace Reliability.Tests;

/// <summary>
/// A SignalR subscriber whose server is killed (kill -9) and restarted on the same address mid-training:
/// it reconnects, subscribes again and ends with epochs 1..N, each subscription contiguous and duplicate-free.
/// </summary>
public sealed class ReconnectTests
{
    /// <summary>Retries every half second for up to two minutes: the restart takes a few seconds on a loaded machine.</summary>
    private sealed class SteadyRetry : IRetryPolicy
    {
        public TimeSpan? NextRetryDelay(RetryContext context) =>
            context.ElapsedTime < TimeSpan.FromMinutes(2) ? TimeSpan.FromMilliseconds(500) : null;
    }

    [Fact]
    public async Task SubscriberThatLosesTheServerForEpochsEndsWithEveryEpochOnce()
    {
        using var folder = new DataFolder();
        await using var first = await ServiceProcess.StartAsync(folder.Path);
        int port = first.Address.Port;
        var key = first.ApiKey;
        long id = await first.Client.SubmitStandardJobAsync(epochs: 16);

        // One list per subscription: the server promises order and uniqueness within a subscription.
        var subscriptions = new List<List<int>>();
        string? finalStatus = null;
        var gate = new object();
        await using var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(first.Address, "/hubs/training"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(key))
            .WithAutomaticReconnect(new SteadyRetry())
            .Build();
        connection.On<JsonElement>("EpochCompleted", e =>
        {
            lock (gate) subscriptions[^1].Add(e.GetProperty("epoch").GetInt32());
        });
        connection.On<JsonElement>("JobStatusChanged", e =>
        {
            lock (gate) finalStatus = e.GetProperty("status").GetString();
        });
        async Task SubscribeAsync()
        {
            lock (gate) subscriptions.Add([]);
            await connection.InvokeAsync("Subscribe", id);
        }
        connection.Reconnected += _ => SubscribeAsync();
        await connection.StartAsync();
        await SubscribeAsync();

        await first.Client.WaitForEpochAsync(id, 3, TimeSpan.FromMinutes(2));
        await first.KillAsync();
        // Down for a few seconds: the subscriber misses whatever it would have seen meanwhile.
        await Task.Delay(TimeSpan.FromSeconds(2));
        await using var second = await ServiceProcess.StartAsync(folder.Path, port: port);
        await second.Client.WaitForStatusAsync(id, TimeSpan.FromMinutes(3), "succeeded", "failed");

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            lock (gate)
            {
                if (finalStatus == "succeeded" && subscriptions.Count >= 2 && subscriptions[^1].LastOrDefault() == 16) break;
            }
            Assert.True(DateTime.UtcNow < deadline, $"subscriber ended with {Describe()} and status {finalStatus}");
            await Task.Delay(50);
        }
        lock (gate)
        {
            Assert.True(subscriptions.Count >= 2, Describe());
            // History from 1 and then live, in order, each epoch once: a contiguous run from 1 per subscription.
            foreach (var epochs in subscriptions.Where(s => s.Count > 0))
                Assert.Equal(Enumerable.Range(1, epochs.Count), epochs);
            Assert.Equal(Enumerable.Range(1, 16), subscriptions.SelectMany(s => s).Distinct().Order());
        }
        await connection.StopAsync();
        await second.StopAsync();

        string Describe()
        {
            lock (gate) return string.Join(" | ", subscriptions.Select(s => string.Join(",", s)));
        }
    }
}
