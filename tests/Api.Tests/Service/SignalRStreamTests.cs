using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Api.Tests.Service;

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

/// <summary>The training stream as the official JavaScript client sees it (tests/signalr-client/stream-check.mjs).</summary>
public sealed class SignalRStreamTests(KestrelServiceFactory factory) : IClassFixture<KestrelServiceFactory>
{
    private const int Epochs = 20;

    [Fact]
    public async Task EarlyAndLateSubscribersEachGetEveryEpochInOrderAndTheFinalStatus()
    {
        var client = factory.CreateClient();
        var datasetId = await client.CreateSyntheticAsync(size: 2000);
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
        var folder = Path.Combine(RepositoryRoot(), "tests", "signalr-client");
        if (!Directory.Exists(Path.Combine(folder, "node_modules", "@microsoft", "signalr")))
            Assert.Fail("tests/signalr-client/node_modules is missing: run `npm ci --prefix tests/signalr-client` first (.ci/run does).");
        var start = new ProcessStartInfo("node") { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        // An environment variable, not an argument: arguments are visible to every user in ps.
        start.Environment["API_KEY"] = factory.AdminKey;
        foreach (var a in args) start.ArgumentList.Add(a);
        using var node = Process.Start(start)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await node.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            node.Kill(entireProcessTree: true);
            Assert.Fail($"node {script} did not finish: {await stdout} {await stderr}");
        }
        Assert.True(node.ExitCode == 0, $"node {script} exited with {node.ExitCode}: {await stdout} {await stderr}");
        return await stdout;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Service.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("Service.sln not found above " + AppContext.BaseDirectory);
    }
}
