using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;

namespace Api.Tests.Security;

/// <summary>
/// Owner B, holding A's ids, reaches nothing of A's through any operation in the OpenAPI document or
/// the hub. New operations are walked automatically; one with an unknown path makes the test say so.
/// </summary>
public sealed class OwnerIsolationTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private const string Secret = "alice-secret";

    [Fact]
    public async Task EveryOperationAnswers404ForAnotherOwnersIdsAndChangesNothing()
    {
        var alice = factory.CreateClient(await factory.CreateOwnerKeyAsync("alice"));
        var bob = factory.CreateClient(await factory.CreateOwnerKeyAsync("bob"));
        var (datasetId, modelId, jobId) = await TrainedJobAsync(alice);
        var experiment = await (await alice.PostAsJsonAsync("/experiments", new
        {
            name = Secret, baseJob = new { modelId, datasetId, epochs = 1 }, variations = new[] { new { name = "a" } },
        })).ReadJsonAsync();
        var experimentId = experiment.GetProperty("id").GetInt64();
        foreach (var j in experiment.GetProperty("jobs").EnumerateArray())
            await alice.WaitForStatusAsync(j.GetProperty("jobId").GetInt64(), TimeSpan.FromSeconds(60), "succeeded");
        var search = await (await alice.PostAsJsonAsync("/searches", new
        {
            name = Secret, baseJob = new { modelId, datasetId, epochs = 1, validationSplit = 0.2 }, maxTrials = 1,
            space = new Dictionary<string, object> { ["optimizer.learningRate"] = new { type = "loguniform", min = 0.001, max = 0.1 } },
        })).ReadJsonAsync();
        var searchId = search.GetProperty("id").GetInt64();
        await alice.WaitForStatusAsync(search.GetProperty("trials")[0].GetProperty("jobId").GetInt64(), TimeSpan.FromSeconds(60), "succeeded");
        var ids = new Dictionary<string, long>
        {
            ["/datasets/"] = datasetId, ["/models/"] = modelId, ["/jobs/"] = jobId, ["/keys/"] = 1, ["/experiments/"] = experimentId,
            ["/searches/"] = searchId,
        };

        using var doc = JsonDocument.Parse(await factory.CreateClient(null).GetStringAsync("/swagger/v1/swagger.json"));
        var walked = new List<string>();
        foreach (var path in doc.RootElement.GetProperty("paths").EnumerateObject())
        foreach (var operation in path.Value.EnumerateObject())
        {
            var method = new HttpMethod(operation.Name.ToUpperInvariant());
            var operationId = operation.Value.TryGetProperty("operationId", out var oid) ? oid.GetString()! : $"{method} {path.Name}";
            var url = path.Name;
            if (url.Contains('{'))
            {
                var prefix = ids.Keys.FirstOrDefault(p => url.StartsWith(p, StringComparison.Ordinal));
                Assert.True(prefix is not null, $"{operationId} {url}: no id of owner A for this path; add it to the test's table");
                url = System.Text.RegularExpressions.Regex.Replace(url, "\\{[^}]+\\}", ids[prefix!].ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            using var request = new HttpRequestMessage(method, url) { Content = Body(operationId, operation.Value, datasetId, modelId) };
            var response = await bob.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            walked.Add($"{operationId} {(int)response.StatusCode}");
            Assert.DoesNotContain(Secret, text);
            if (path.Name.StartsWith("/keys", StringComparison.Ordinal))
                Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{operationId} {url}: {(int)response.StatusCode} {text}");
            else if (path.Name.Contains('{') || ReferencesOwnerA.Contains(operationId))
                Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{operationId} {url}: {(int)response.StatusCode} {text}");
        }
        Assert.True(walked.Count >= 20, string.Join(", ", walked));

        // Nothing of A's was changed by B's deletes, cancels and resumes.
        Assert.Equal("succeeded", (await alice.GetJobAsync(jobId)).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await alice.GetAsync($"/datasets/{datasetId}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await alice.GetAsync($"/models/{modelId}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await alice.GetAsync($"/jobs/{jobId}/weights")).StatusCode);
        Assert.Equal(2, (await alice.MetricEpochsAsync(jobId)).Length);
        Assert.Equal(HttpStatusCode.OK, (await alice.GetAsync($"/experiments/{experimentId}")).StatusCode);
        // B's walk of GET /experiments saw no secret; A's own list does show it, so that check could fail.
        Assert.Contains(Secret, await alice.GetStringAsync("/experiments"));
        Assert.Equal(HttpStatusCode.OK, (await alice.GetAsync($"/searches/{searchId}")).StatusCode);
        Assert.Contains(Secret, await alice.GetStringAsync("/searches"));
    }

    /// <summary>Operations without a path id whose body below names A's model or data set.</summary>
    private static readonly string[] ReferencesOwnerA = ["CreateJob", "CreateExperiment", "CreateSearch", "GradientCheckSpec"];

    [Fact]
    public async Task HubSubscribeToAnotherOwnersJobSendsNothing()
    {
        var aliceKey = await factory.CreateOwnerKeyAsync("alice2");
        var (_, _, jobId) = await TrainedJobAsync(factory.CreateClient(aliceKey));

        await using var bob = await ConnectAsync(await factory.CreateOwnerKeyAsync("bob2"));
        var bobEvents = 0;
        bob.On<JsonElement>("EpochCompleted", _ => Interlocked.Increment(ref bobEvents));
        bob.On<JsonElement>("JobStatusChanged", _ => Interlocked.Increment(ref bobEvents));
        var error = await Assert.ThrowsAsync<HubException>(() => bob.InvokeAsync("Subscribe", jobId));
        var missing = await Assert.ThrowsAsync<HubException>(() => bob.InvokeAsync("Subscribe", 987654L));
        // Someone else's job reads exactly like one that does not exist.
        Assert.Equal(missing.Message.Replace("987654", "ID"), error.Message.Replace(jobId.ToString(System.Globalization.CultureInfo.InvariantCulture), "ID"));

        // The owner, on the same hub, gets the history: the check is not simply refusing everyone.
        await using var alice = await ConnectAsync(aliceKey);
        var status = new TaskCompletionSource<string>();
        alice.On<JsonElement>("JobStatusChanged", e => status.TrySetResult(e.GetProperty("status").GetString()!));
        await alice.InvokeAsync("Subscribe", jobId);
        Assert.Equal("succeeded", await status.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await Task.Delay(300);
        Assert.Equal(0, bobEvents);
    }

    private Task<HubConnection> ConnectAsync(string key) => factory.ConnectHubAsync(key);

    private static async Task<(long Dataset, long Model, long Job)> TrainedJobAsync(HttpClient client)
    {
        var dataset = await (await client.PostAsJsonAsync("/datasets/synthetic",
            new { name = Secret, kind = "spirals", size = 200, classes = 3, seed = 1 })).ReadJsonAsync();
        var model = await (await client.PostAsJsonAsync("/models", new { name = Secret, spec = ServiceClient.Mlp(hidden: 8) })).ReadJsonAsync();
        long datasetId = dataset.GetProperty("id").GetInt64(), modelId = model.GetProperty("id").GetInt64();
        var job = await client.CreateJobAsync(modelId, datasetId, epochs: 2);
        await client.WaitForStatusAsync(job, TimeSpan.FromSeconds(60), "succeeded");
        return (datasetId, modelId, job);
    }

    /// <summary>Bodies valid in everything but ownership, so a 404 cannot come from an earlier 400.</summary>
    private static HttpContent? Body(string operationId, JsonElement operation, long datasetId, long modelId)
    {
        if (!operation.TryGetProperty("requestBody", out var body)) return null;
        if (body.GetProperty("content").TryGetProperty("multipart/form-data", out _))
        {
            var form = new MultipartFormDataContent { { new StringContent("b"), "name" }, { new StringContent("csv"), "format" } };
            form.Add(new ByteArrayContent("x,label\n1,0\n2,1\n"u8.ToArray()), "file", "b.csv");
            return form;
        }
        var json = operationId switch
        {
            "CreateJob" => $$"""{"modelId":{{modelId}},"datasetId":{{datasetId}},"epochs":1}""",
            "CreateExperiment" => $$"""{"baseJob":{"modelId":{{modelId}},"datasetId":{{datasetId}},"epochs":1},"variations":[{"name":"v"}]}""",
            "CreateSearch" => $$$$"""{"baseJob":{"modelId":{{{{modelId}}}},"datasetId":{{{{datasetId}}}},"epochs":1,"validationSplit":0.2},"maxTrials":1,"space":{"optimizer.learningRate":{"type":"loguniform","min":0.001,"max":0.1}}}""",
            "GradientCheckModel" => $$"""{"datasetId":{{datasetId}}}""",
            "GradientCheckSpec" => $$"""{"spec":{"input":[2],"layers":[{"type":"dense","units":3}],"loss":"softmax_cross_entropy"},"datasetId":{{datasetId}}}""",
            "Predict" => """{"inputs":[[0.1,0.2]]}""",
            "CreateKey" => """{"owner":"mallory","admin":true}""",
            "CreateModel" => """{"name":"b","spec":{"input":[2],"layers":[{"type":"dense","units":2}],"loss":"mse"}}""",
            "ValidateModel" => """{"spec":{"input":[2],"layers":[{"type":"dense","units":2}],"loss":"mse"}}""",
            "CreateSyntheticDataset" => """{"kind":"xor","size":10}""",
            _ => "{}",
        };
        return new StringContent(json, Encoding.UTF8, "application/json");
    }
}
