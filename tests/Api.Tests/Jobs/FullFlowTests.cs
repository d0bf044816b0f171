using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Engine;
using Engine.Data;
using Engine.Serialization;
using Engine.Specs;
using Engine.Tensors;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Api.Tests.Jobs;

public sealed class FullFlowTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task ATrainedJobLeavesNoWriteOpenSoItsRowCanBeKeptForPolling()
    {
        var jobId = await _client.CreateJobAsync(await _client.CreateModelAsync(), await _client.CreateSyntheticAsync(), epochs: 3);
        await _client.WaitForStatusAsync(jobId, TimeSpan.FromSeconds(60), "succeeded", "failed");
        // A write whose end EF never reported would leave the service without a stamp for good, every GET a query.
        var writes = factory.Services.GetRequiredService<global::Storage.WriteGeneration>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (writes.Stamp() is null && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.NotNull(writes.Stamp());
    }

    [Fact]
    public async Task SyntheticDataToTrainedModelToDownloadedWeightsAndPredictions()
    {
        // Standardized, so the downloaded weights only reproduce /predict with the stored input transform.
        var datasetId = await _client.CreateSyntheticAsync(normalization: "standardize");
        var modelId = await _client.CreateModelAsync();
        var jobId = await _client.CreateJobAsync(modelId, datasetId, epochs: 8, checkpointEvery: 3);

        var job = await _client.WaitForStatusAsync(jobId, TimeSpan.FromSeconds(60), "succeeded", "failed");
        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        Assert.Equal(8, job.GetProperty("epoch").GetInt32());
        Assert.Equal(100, job.GetProperty("progress").GetDouble());
        Assert.Equal(8, job.GetProperty("latestMetrics").GetProperty("epoch").GetInt32());

        var metrics = (await (await _client.GetAsync($"/jobs/{jobId}/metrics")).ReadJsonAsync()).EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(1, 8), metrics.Select(m => m.GetProperty("epoch").GetInt32()));
        foreach (var m in metrics)
        {
            Assert.True(m.GetProperty("trainLoss").GetSingle() > 0);
            Assert.Equal(JsonValueKind.Number, m.GetProperty("valLoss").ValueKind);
            Assert.Equal(JsonValueKind.Number, m.GetProperty("trainAccuracy").ValueKind);
            Assert.Equal(0.01f, m.GetProperty("learningRate").GetSingle());
            Assert.True(m.GetProperty("seconds").GetDouble() >= 0);
        }
        Assert.True(metrics[^1].GetProperty("trainLoss").GetSingle() < metrics[0].GetProperty("trainLoss").GetSingle());

        var checkpoints = (await (await _client.GetAsync($"/jobs/{jobId}/checkpoints")).ReadJsonAsync()).EnumerateArray().ToList();
        Assert.Contains(checkpoints, c => c.GetProperty("epoch").GetInt32() == 8);
        Assert.All(checkpoints, c => Assert.Equal(64, c.GetProperty("sha256").GetString()!.Length));

        var download = await _client.GetAsync($"/jobs/{jobId}/weights?format=safetensors&checkpoint=latest");
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("application/octet-stream", download.Content.Headers.ContentType!.MediaType);
        Assert.Equal($"job-{jobId}-epoch-8.safetensors", download.Content.Headers.ContentDisposition!.FileName);
        var tensors = SafeTensors.Read(await download.Content.ReadAsByteArrayAsync(), out var metadata, out var counters);
        Assert.Equal(Network.StateDictNaming, metadata["naming"]);

        var spec = JsonSerializer.Deserialize<ModelSpec>(metadata["spec"], ServiceClient.Json)!;
        var network = Network.Create(spec, new Rng(123));
        network.ImportTensors(tensors, counters);
        network.Transform = JsonSerializer.Deserialize<InputTransform>(metadata["input_transform"], ServiceClient.Json);
        Assert.Equal(NormalizationKind.Standardize, network.Transform!.Kind);

        float[][] inputs = [[0.1f, 0.2f], [-0.5f, 0.3f], [1.5f, -1.25f]];
        var predict = await _client.PostAsJsonAsync($"/jobs/{jobId}/predict", new { inputs });
        var body = await predict.ReadJsonAsync();
        Assert.Equal(8, body.GetProperty("epoch").GetInt32());
        var served = body.GetProperty("outputs").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
        var local = network.Predict([.. inputs.SelectMany(r => r)], inputs.Length);
        for (int i = 0; i < inputs.Length; i++)
        {
            Assert.Equal(3, served[i].Length);
            Assert.Equal(1f, served[i].Sum(), 4);
            for (int k = 0; k < 3; k++) Assert.Equal(local[i * 3 + k], served[i][k]);
            var argmax = body.GetProperty("argmax")[i].GetInt32();
            Assert.Equal(Array.IndexOf(served[i], served[i].Max()), argmax);
        }
    }

    [Fact]
    public async Task WeightsDownloadAsJsonAndOnnxAndFromTheBestCheckpoint()
    {
        var jobId = await TrainXorAsync(epochs: 4, checkpointEvery: 2);

        var json = await _client.GetAsync($"/jobs/{jobId}/weights?format=json&checkpoint=4");
        Assert.Equal("application/json", json.Content.Headers.ContentType!.MediaType);
        Assert.Equal($"job-{jobId}-epoch-4.json", json.Content.Headers.ContentDisposition!.FileName);
        Assert.Contains(JsonWeights.Read(await json.Content.ReadAsByteArrayAsync()), t => t.Name == "0.weight");

        var onnx = await _client.GetAsync($"/jobs/{jobId}/weights?format=onnx");
        Assert.Equal(HttpStatusCode.OK, onnx.StatusCode);
        Assert.Equal($"job-{jobId}-epoch-4.onnx", onnx.Content.Headers.ContentDisposition!.FileName);
        Assert.NotEmpty(await onnx.Content.ReadAsByteArrayAsync());

        var best = await _client.GetAsync($"/jobs/{jobId}/weights?checkpoint=best");
        Assert.Equal(HttpStatusCode.OK, best.StatusCode);
        var bestEpoch = (await _client.GetJobAsync(jobId)).GetProperty("bestEpoch").GetInt32();
        Assert.Equal($"job-{jobId}-epoch-{bestEpoch}.safetensors", best.Content.Headers.ContentDisposition!.FileName);
    }

    [Fact]
    public async Task CheckpointStatesAreFilesThatPruningAndDeletingTheJobRemove()
    {
        var jobId = await TrainXorAsync(epochs: 9, checkpointEvery: 1);

        // Nine written, the last three and the best kept: on disk exactly the files the kept rows name.
        await using (var db = factory.OpenDatabase())
        {
            var rows = await db.Checkpoints.Where(c => c.JobId == jobId).Select(c => c.FileName).ToArrayAsync();
            Assert.InRange(rows.Length, 3, 4);
            Assert.Equal(rows.Order(StringComparer.Ordinal), factory.CheckpointFiles(jobId));
        }
        var weights = await _client.GetAsync($"/jobs/{jobId}/weights?checkpoint=latest");
        Assert.Equal(HttpStatusCode.OK, weights.StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteAsync($"/jobs/{jobId}")).StatusCode);
        Assert.Empty(factory.CheckpointFiles(jobId));
        Assert.False(Directory.Exists(Path.Combine(factory.DataDirectory, "checkpoints", jobId.ToString(CultureInfo.InvariantCulture))));
    }

    /// <summary>A small xor classifier trained to the end; returns the job's id.</summary>
    private async Task<long> TrainXorAsync(int epochs, int checkpointEvery)
    {
        var datasetId = await _client.CreateSyntheticAsync("xor", size: 200, classes: 2);
        var modelId = await _client.CreateModelAsync(ServiceClient.Mlp(outputs: 2));
        var jobId = await _client.CreateJobAsync(modelId, datasetId, epochs, checkpointEvery: checkpointEvery);
        await _client.WaitForStatusAsync(jobId, TimeSpan.FromSeconds(60), "succeeded");
        return jobId;
    }

    [Fact]
    public async Task HealthReportsDatabaseAndScheduler()
    {
        var health = await (await _client.GetAsync("/health")).ReadJsonAsync();
        Assert.Equal("Healthy", health.GetProperty("status").GetString());
        Assert.Equal("Healthy", health.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
        Assert.Equal("Healthy", health.GetProperty("checks").GetProperty("scheduler").GetProperty("status").GetString());
    }
}
