using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Api.Tests.Training;

/// <summary>The service on a real loopback Kestrel port, for clients that are not .NET.</summary>
public sealed class KestrelServiceFactory : ServiceFactory
{
    public KestrelServiceFactory()
    {
        UseKestrel(0);
        StartServer();
    }

    public string BaseAddress => Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
}

/// <summary>The training stream as the official JavaScript client sees it (tests/signalr-check/stream-check.mjs).</summary>
public sealed class SignalRStreamTests(KestrelServiceFactory factory) : IClassFixture<KestrelServiceFactory>
{
    private const int Epochs = 20;

    [Fact]
    public async Task EarlyAndLateSubscribersEachGetEveryEpochInOrderAndTheFinalStatus()
    {
        var client = factory.CreateClient();
        // Large enough that 20 epochs outlast the second connection's start-up even on a quiet machine,
        // so it really joins mid-training (at 2,000 samples it sometimes joined after the job had finished).
        var datasetId = await client.CreateSyntheticAsync(size: 12000);
        var modelId = await client.CreateModelAsync(ServiceClient.Mlp(hidden: 128, depth: 2));

        var output = await RunNodeAsync("stream-check.mjs", factory.BaseAddress, modelId.ToString(), datasetId.ToString(), Epochs.ToString(), "3");
        var result = JsonDocument.Parse(output).RootElement;
        Assert.Equal("done", result.GetProperty("outcome").GetString());
        // The second connection joined mid-training, not after the job had finished.
        Assert.False(result.GetProperty("firstFinishedBeforeSecondJoined").GetBoolean(), output);
        Assert.True(result.GetProperty("batchProgress").GetInt32() > 0, output);

        foreach (var name in new[] { "first", "second" })
        {
            var events = result.GetProperty(name).EnumerateArray().ToList();
            var epochs = events.Where(e => e.GetProperty("kind").GetString() == "EpochCompleted").Select(e => e.GetProperty("epoch").GetInt32());
            Assert.Equal(Enumerable.Range(1, Epochs), epochs);
            var last = events[^1];
            Assert.Equal("JobStatusChanged", last.GetProperty("kind").GetString());
            Assert.Equal("succeeded", last.GetProperty("status").GetString());
            Assert.Equal(Epochs, last.GetProperty("epoch").GetInt32());
        }
    }

    private async Task<string> RunNodeAsync(string script, params string[] args)
    {
        var folder = Path.Combine(Shared.Repository.Root, "tests", "signalr-check");
        if (!Directory.Exists(Path.Combine(folder, "node_modules", "@microsoft", "signalr")))
            Assert.Fail("tests/signalr-check/node_modules is missing: building tests/Shared restores it (npm ci).");
        var (exitCode, stdout, stderr) = await ExternalProcess.RunAsync(folder, TimeSpan.FromMinutes(3), factory.AdminKey, "node", [script, .. args]);
        Assert.True(exitCode == 0, $"node {script} exited with {exitCode}: {stdout} {stderr}");
        return stdout;
    }
}
