using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;

namespace Api.Tests.Searches;

public sealed class SearchTests(ServiceFactory factory, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    /// <summary>Learning rate over three decades and the hidden width: the rate decides most of the 9-epoch loss.</summary>
    private static Dictionary<string, object> Space() => new()
    {
        ["optimizer.learningRate"] = new { type = "loguniform", min = 0.0003, max = 0.3 },
        ["layers[0].units"] = new { type = "choice", values = new[] { 8, 16, 32 } },
    };

    private static object Search(long datasetId, string algorithm, ulong seed = 5) => new
    {
        name = $"{algorithm} search",
        baseJob = new { spec = ServiceClient.Mlp(hidden: 16), datasetId, batchSize = 32, seed = 3, validationSplit = 0.25, optimizer = new { type = "adam" } },
        space = Space(), metric = "valLoss", mode = "min", maxTrials = 9, maxEpochs = 9, algorithm, eta = algorithm == "asha" ? 3 : (int?)null, seed,
    };

    [Fact]
    public async Task AshaTrainsLessThanHalfTheEpochsOfTheFullRunsAndKeepsTheirBestTrialIdentically()
    {
        var datasetId = await _client.CreateSyntheticAsync(size: 240);
        var asha = await RunAsync(Search(datasetId, "asha"));
        var again = await RunAsync(Search(datasetId, "asha"));
        var full = await RunAsync(Search(datasetId, "random"));

        Assert.Equal("succeeded", asha.GetProperty("status").GetString());
        Assert.Equal([1, 3, 9], asha.GetProperty("rungs").EnumerateArray().Select(r => r.GetInt32()));
        // Same seed: the same trials (parameters) and the same decisions; the random search samples the very same trials.
        Assert.Equal(Params(asha), Params(again));
        Assert.Equal(Params(asha), Params(full));
        Assert.Equal(Statuses(asha), Statuses(again));
        Assert.Equal(81, full.GetProperty("epochsTrained").GetInt32());
        Assert.True(asha.GetProperty("epochsTrained").GetInt32() * 2 < 81, $"asha trained {asha.GetProperty("epochsTrained")} epochs: {asha}");
        Assert.Contains("pruned", Statuses(asha));

        // Every rung-0 result of ASHA equals epoch 1 of the same trial's uninterrupted run.
        var fullTrials = full.GetProperty("trials").EnumerateArray().ToList();
        var finals = fullTrials.Select(t => t.GetProperty("results").EnumerateArray().Last().GetProperty("value").GetDouble()).ToList();
        int bestFull = finals.IndexOf(finals.Min());
        output.WriteLine($"asha {asha.GetProperty("epochsTrained")} epochs, full {full.GetProperty("epochsTrained")}; statuses {string.Join(" ", Statuses(asha))}; " +
                         $"final valLoss {string.Join(" ", finals.Select(v => v.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)))}");
        Assert.True(finals.Count(v => v < finals[bestFull] * 1.02) == 1, $"the best full run is not clear for this seed: {string.Join(", ", finals)}");
        Assert.Equal(bestFull, asha.GetProperty("bestTrial").GetInt32());
        Assert.Equal(finals[bestFull], asha.GetProperty("bestValue").GetDouble());

        // The best ASHA trial paused at epochs 1 and 3 and was continued from those checkpoints: its final training state is
        // byte-identical to the uninterrupted run of the same parameters.
        var bestJob = asha.GetProperty("bestJobId").GetInt64();
        var fullJob = fullTrials[bestFull].GetProperty("jobId").GetInt64();
        Assert.Equal(2, (await _client.GetJobAsync(bestJob)).GetProperty("attempts").GetInt32() - 1);
        Assert.Equal(await LastStateAsync(fullJob), await LastStateAsync(bestJob));
        Assert.Equal(await CurveAsync(fullJob), await CurveAsync(bestJob));
        // And it is an ordinary job: its weights download.
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync($"/jobs/{bestJob}/weights?format=safetensors")).StatusCode);

        var listed = (await (await _client.GetAsync("/searches")).ReadJsonAsync()).EnumerateArray().Select(s => s.GetProperty("id").GetInt64()).ToList();
        Assert.Equal(listed.OrderDescending(), listed);
        Assert.Contains(asha.GetProperty("id").GetInt64(), listed);
    }

    [Fact]
    public async Task SubscribersOfTheSearchGetItsDecisionsLiveAndOtherOwnersCannotSubscribe()
    {
        // The one worker trains a slow job first, so the search's trials wait until the subscription is in place.
        var blocker = await _client.StartSlowJobAsync(epochs: 1000);
        await _client.WaitForStatusAsync(blocker, Timeout, "running");
        var datasetId = await _client.CreateSyntheticAsync(size: 120);
        var created = await (await _client.PostAsJsonAsync("/searches", new
        {
            baseJob = new { spec = ServiceClient.Mlp(hidden: 8), datasetId, validationSplit = 0.25 },
            space = Space(), maxTrials = 3, maxEpochs = 3, algorithm = "asha", eta = 3,
        })).ReadJsonAsync();
        long id = created.GetProperty("id").GetInt64();

        await using var owner = await ConnectAsync(factory.AdminKey);
        var events = new List<JsonElement>();
        var finished = new TaskCompletionSource();
        owner.On<JsonElement>("SearchProgress", e =>
        {
            lock (events) events.Add(e);
            if (e.GetProperty("kind").GetString() == "finished") finished.TrySetResult();
        });
        await owner.InvokeAsync("SubscribeSearch", id);
        await using var other = await ConnectAsync(await factory.CreateOwnerKeyAsync("search-mallory"));
        await Assert.ThrowsAsync<HubException>(() => other.InvokeAsync("SubscribeSearch", id));

        await _client.PostAsync($"/jobs/{blocker}/cancel", null);
        await finished.Task.WaitAsync(Timeout);
        var kinds = events.Select(e => e.GetProperty("kind").GetString()).ToList();
        // Three trials at rung 1: the best is promoted to 3 epochs, the other two are pruned; the later trials start as slots free.
        Assert.Equal(2, kinds.Count(k => k == "trialStarted"));
        Assert.Equal(4, kinds.Count(k => k == "rungReached"));
        Assert.Equal(1, kinds.Count(k => k == "promoted"));
        Assert.Equal(2, kinds.Count(k => k == "pruned"));
        Assert.Contains("bestChanged", kinds);
        Assert.Equal("finished", kinds[^1]);
        var search = await WaitAsync(_client, id);
        Assert.Equal(search.GetProperty("bestJobId").GetInt64(), events.Last(e => e.GetProperty("kind").GetString() == "bestChanged").GetProperty("jobId").GetInt64());
    }

    private Task<HubConnection> ConnectAsync(string key) => factory.ConnectHubAsync(key);

    [Fact]
    public async Task CancelStopsEveryTrialAndStartsNoMore()
    {
        var datasetId = await _client.CreateSyntheticAsync(size: 2000);
        var created = await (await _client.PostAsJsonAsync("/searches", new
        {
            baseJob = new { spec = ServiceClient.Mlp(hidden: 128, depth: 2), datasetId, batchSize = 16, validationSplit = 0.2 },
            space = Space(), maxTrials = 6, maxEpochs = 50, algorithm = "asha", maxConcurrentTrials = 2,
        })).ReadJsonAsync();
        long id = created.GetProperty("id").GetInt64();
        var started = created.GetProperty("trials").EnumerateArray().Where(t => t.GetProperty("jobId").ValueKind == JsonValueKind.Number).ToList();
        Assert.Equal(2, started.Count);
        await _client.WaitForEpochAsync(started[0].GetProperty("jobId").GetInt64(), 1, Timeout);

        var before = await _client.GetFromJsonAsync<JsonElement>($"/searches/{id}");
        if (before.GetProperty("status").GetString() != "running")
        {
            // Nothing here should end the search this early: say how its trials ended.
            var jobs = new List<string>();
            foreach (var t in before.GetProperty("trials").EnumerateArray().Where(t => t.GetProperty("jobId").ValueKind == JsonValueKind.Number))
                jobs.Add((await _client.GetFromJsonAsync<JsonElement>($"/jobs/{t.GetProperty("jobId").GetInt64()}")).ToString());
            Assert.Fail($"search {id} ended before its cancel: {before}\n{string.Join("\n", jobs)}");
        }
        var cancelled = await (await _client.PostAsync($"/searches/{id}/cancel", null)).ReadJsonAsync();
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        await Problem.AssertAsync(await _client.PostAsync($"/searches/{id}/cancel", null), HttpStatusCode.Conflict, "status");
        var search = await _client.GetFromJsonAsync<JsonElement>($"/searches/{id}");
        foreach (var trial in search.GetProperty("trials").EnumerateArray().Where(t => t.GetProperty("jobId").ValueKind == JsonValueKind.Number))
        {
            // Final, not queued, running or paused; a trial that had already paused was cancelled too.
            var job = await _client.WaitForStatusAsync(trial.GetProperty("jobId").GetInt64(), Timeout, "cancelled", "pruned", "succeeded", "failed");
            Assert.NotEqual("failed", job.GetProperty("status").GetString());
        }
        var after = await _client.GetFromJsonAsync<JsonElement>($"/searches/{id}");
        Assert.Equal(
            search.GetProperty("trials").EnumerateArray().Count(t => t.GetProperty("status").GetString() != "pending"),
            after.GetProperty("trials").EnumerateArray().Count(t => t.GetProperty("status").GetString() != "pending"));
        Assert.DoesNotContain(after.GetProperty("trials").EnumerateArray(), t => t.GetProperty("status").GetString() is "queued" or "running" or "paused");
    }

    [Fact]
    public async Task BadSearchesAreProblemJsonNamingTheFieldAndRule()
    {
        var datasetId = await _client.CreateSyntheticAsync(size: 100);
        var spec = new
        {
            input = new[] { 2 }, loss = "softmax_cross_entropy",
            layers = new object[] { new { type = "dense", units = 8 }, new { type = "relu" }, new { type = "dropout", rate = 0.1 }, new { type = "dense", units = 3 } },
        };
        async Task<string[]> Bad(object space, string field, string algorithm = "random", int maxTrials = 4, object? extra = null,
            HttpStatusCode status = HttpStatusCode.BadRequest)
        {
            var body = JsonSerializer.SerializeToNode(new
            {
                baseJob = new { spec, datasetId, validationSplit = 0.2 }, space, algorithm, maxTrials, maxEpochs = 2,
            })!.AsObject();
            if (extra is not null)
                foreach (var (k, v) in JsonSerializer.SerializeToNode(extra)!.AsObject()) body[k] = v?.DeepClone();
            return await Problem.AssertAsync(await _client.PostAsJsonAsync("/searches", body), status, field);
        }
        var lr = new Dictionary<string, object> { ["optimizer.learningRate"] = new { type = "loguniform", min = 0.001, max = 0.1 } };

        Assert.Contains("unknown path", (await Bad(new Dictionary<string, object> { ["optimizer.speed"] = new { type = "uniform", min = 0, max = 1 } },
            "space[optimizer.speed]"))[0]);
        Assert.Contains("layer 1 is relu", (await Bad(new Dictionary<string, object> { ["layers[1].units"] = new { type = "int", min = 1, max = 4 } },
            "space[layers[1].units]"))[0]);
        Assert.Contains("greater than 0", (await Bad(new Dictionary<string, object> { ["optimizer.learningRate"] = new { type = "loguniform", min = 0, max = 1 } },
            "space[optimizer.learningRate].min"))[0]);
        await Bad(new Dictionary<string, object> { ["weightDecay"] = new { type = "uniform", min = 0.1, max = 0.01 } }, "space[weightDecay].max");
        await Bad(new Dictionary<string, object> { ["batchSize"] = new { type = "normal", min = 1, max = 2 } }, "space[batchSize].type");
        await Bad(lr, "maxTrials", maxTrials: 1000);
        await Bad(new Dictionary<string, object>(), "space");
        // Grid enumerates choices and whole ranges; a continuous dimension needs its values listed.
        Assert.Contains("choice", (await Bad(lr, "space[optimizer.learningRate].type", algorithm: "grid"))[0]);
        Assert.Contains("combinations", (await Bad(new Dictionary<string, object> { ["layers[0].units"] = new { type = "int", min = 1, max = 50 } },
            "maxTrials", algorithm: "grid", maxTrials: 10))[0]);
        // Sampled values go through the job's own validation: a dropout rate of 1 or more, a width that is not whole.
        Assert.Contains("must be in [0, 1)", (await Bad(new Dictionary<string, object> { ["layers[2].rate"] = new { type = "choice", values = new[] { 0.5, 1.5 } } },
            "space[layers[2].rate]", algorithm: "grid"))[0]);
        Assert.Contains("whole numbers", (await Bad(new Dictionary<string, object> { ["layers[0].units"] = new { type = "uniform", min = 4, max = 9 } },
            "space[layers[0].units]"))[0]);
        await Bad(lr, "minEpochs", algorithm: "asha", extra: new { minEpochs = 2 });
        await Bad(lr, "rungs", algorithm: "asha", extra: new { rungs = new[] { 1, 1 } });
        await Bad(lr, "eta", extra: new { eta = 3 });
        await Bad(lr, "metric", extra: new { baseJob = new { spec, datasetId } });
        await Bad(lr, "baseJob.earlyStopping", algorithm: "asha", extra: new { baseJob = new { spec, datasetId, validationSplit = 0.2, earlyStopping = new { patience = 2 } } });
        await Bad(lr, "datasetId", extra: new { baseJob = new { spec, datasetId = 99999, validationSplit = 0.2 } }, status: HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync("/searches/99999")).StatusCode);
    }

    [Fact]
    public async Task AnotherOwnerSeesNoneOfASearch()
    {
        var alice = factory.CreateClient(await factory.CreateOwnerKeyAsync("search-alice"));
        var bob = factory.CreateClient(await factory.CreateOwnerKeyAsync("search-bob"));
        var datasetId = await alice.CreateSyntheticAsync(size: 100);
        var created = await (await alice.PostAsJsonAsync("/searches", new
        {
            name = "alice's", baseJob = new { spec = ServiceClient.Mlp(hidden: 4), datasetId, validationSplit = 0.2 }, maxTrials = 2, maxEpochs = 1,
            space = new Dictionary<string, object> { ["batchSize"] = new { type = "choice", values = new[] { 16, 32 } } }, algorithm = "grid",
        })).ReadJsonAsync();
        long id = created.GetProperty("id").GetInt64();
        Assert.Equal(HttpStatusCode.NotFound, (await bob.GetAsync($"/searches/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await bob.PostAsync($"/searches/{id}/cancel", null)).StatusCode);
        Assert.DoesNotContain("alice's", await bob.GetStringAsync("/searches"));
        // Bob cannot search over Alice's data either.
        await Problem.AssertAsync(await bob.PostAsJsonAsync("/searches", new
        {
            baseJob = new { spec = ServiceClient.Mlp(hidden: 4), datasetId, validationSplit = 0.2 }, maxTrials = 1, maxEpochs = 1,
            space = new Dictionary<string, object> { ["batchSize"] = new { type = "choice", values = new[] { 16 } } },
        }), HttpStatusCode.NotFound, "datasetId");
        var trialJob = created.GetProperty("trials")[0].GetProperty("jobId").GetInt64();
        Assert.Equal(HttpStatusCode.NotFound, (await bob.GetAsync($"/jobs/{trialJob}")).StatusCode);
        var done = await WaitAsync(alice, id);
        Assert.Equal("succeeded", done.GetProperty("status").GetString());
        Assert.Equal([16, 32], done.GetProperty("trials").EnumerateArray().Select(t => t.GetProperty("params").GetProperty("batchSize").GetInt32()));
    }

    private async Task<JsonElement> RunAsync(object request)
    {
        var created = await (await _client.PostAsJsonAsync("/searches", request)).ReadJsonAsync();
        return await WaitAsync(_client, created.GetProperty("id").GetInt64());
    }

    private static async Task<JsonElement> WaitAsync(HttpClient client, long id)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var search = await client.GetFromJsonAsync<JsonElement>($"/searches/{id}");
            if (search.GetProperty("status").GetString() != "running") return search;
            if (DateTime.UtcNow > deadline) Assert.Fail($"search {id} did not finish: {search}");
            await Task.Delay(100);
        }
    }

    private static string[] Params(JsonElement search) =>
        [.. search.GetProperty("trials").EnumerateArray().Select(t => t.GetProperty("params").GetRawText())];

    private static string[] Statuses(JsonElement search) =>
        [.. search.GetProperty("trials").EnumerateArray().Select(t => t.GetProperty("status").GetString()!)];

    private async Task<string> LastStateAsync(long jobId)
    {
        var checkpoints = (await (await _client.GetAsync($"/jobs/{jobId}/checkpoints")).ReadJsonAsync()).EnumerateArray().ToList();
        var last = checkpoints.MaxBy(c => c.GetProperty("epoch").GetInt32());
        Assert.Equal(9, last.GetProperty("epoch").GetInt32());
        return last.GetProperty("sha256").GetString()!;
    }

    private async Task<string[]> CurveAsync(long jobId) =>
        [.. (await (await _client.GetAsync($"/jobs/{jobId}/metrics")).ReadJsonAsync()).EnumerateArray().Select(m =>
            $"{m.GetProperty("epoch")} {m.GetProperty("trainLoss")} {m.GetProperty("valLoss")} {m.GetProperty("valAccuracy")}")];
}
