using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Reliability.Tests;

/// <summary>The service's HTTP API as the tests use it, plus the standard job they train.</summary>
public static class Api
{
    /// <summary>
    /// The job every recovery test trains: spirals, an MLP with dropout (so a resumed run is only identical if
    /// the RNG state was restored), a checkpoint every epoch. Sized so there is time to
    /// kill the process inside one: 150 batches of 16, a few tenths of a second an epoch.
    /// </summary>
    public const int Epochs = 12;

    public static async Task<long> SubmitStandardJobAsync(this HttpClient client, int epochs = Epochs, double learningRate = 0.01,
        int size = 3000, int hidden = 192, string optimizer = "adam")
    {
        var dataset = await client.PostAsJsonAsync("/datasets/synthetic",
            new { name = "spirals", kind = "spirals", size, classes = 3, seed = 42, noise = 0.2 });
        long datasetId = (await dataset.ReadJsonAsync()).GetProperty("id").GetInt64();
        var spec = new
        {
            input = new[] { 2 },
            layers = new object[]
            {
                new { type = "dense", units = hidden }, new { type = "relu" }, new { type = "dropout", rate = 0.2 },
                new { type = "dense", units = hidden }, new { type = "relu" }, new { type = "dense", units = 3 },
            },
            loss = "softmax_cross_entropy",
        };
        var job = await client.PostAsJsonAsync("/jobs", new
        {
            spec, datasetId, validationSplit = 0.2, epochs, batchSize = 16, checkpointEvery = 1, seed = 7,
            optimizer = new { type = optimizer, learningRate },
        });
        return (await job.ReadJsonAsync()).GetProperty("id").GetInt64();
    }

    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {response.RequestMessage?.RequestUri}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static async Task<JsonElement> GetJobAsync(this HttpClient client, long id) =>
        await (await client.GetAsync($"/jobs/{id}")).ReadJsonAsync();

    public static string Status(this JsonElement job) => job.GetProperty("status").GetString()!;

    /// <summary>Polls until the job is in one of <paramref name="statuses"/>; fails with the job on timeout.</summary>
    public static async Task<JsonElement> WaitForStatusAsync(this HttpClient client, long id, TimeSpan timeout, params string[] statuses)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var job = await client.GetJobAsync(id);
            if (statuses.Contains(job.Status())) return job;
            if (DateTime.UtcNow > deadline) Assert.Fail($"job {id} did not reach {string.Join("/", statuses)}: {job}");
            await Task.Delay(50);
        }
    }

    /// <summary>Polls (tightly, so a kill can land right after an epoch is recorded) until <paramref name="epoch"/> epochs are done.</summary>
    /// <summary>
    /// The standard job, submitted after a 2-epoch one has run to the end. The standard job's epochs take ~10 ms; in a
    /// fresh process the first requests and writes of their kind compile (JIT, EF queries), and one status poll then
    /// took 0.6-0.9 s (about one run in ten), so the job was over before a test saw the epoch it was to act after.
    /// The warm-up makes the standard job job 2, so compare weights with <see cref="TensorData"/>.
    /// </summary>
    public static async Task<long> SubmitStandardJobAfterWarmUpAsync(this HttpClient client)
    {
        var warmUp = await client.SubmitStandardJobAsync(epochs: 2);
        await client.WaitForStatusAsync(warmUp, TimeSpan.FromMinutes(2), "succeeded");
        return await client.SubmitStandardJobAsync();
    }

    public static async Task WaitForEpochAsync(this HttpClient client, long id, int epoch, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var job = await client.GetJobAsync(id);
            if (job.GetProperty("epoch").GetInt32() >= epoch) return;
            if (job.Status() is not ("queued" or "running")) Assert.Fail($"job {id} stopped before epoch {epoch}: {job}");
            if (DateTime.UtcNow > deadline) Assert.Fail($"job {id} did not reach epoch {epoch}: {job}");
            await Task.Delay(10);
        }
    }

    public static async Task<int[]> MetricEpochsAsync(this HttpClient client, long id) =>
        [.. (await (await client.GetAsync($"/jobs/{id}/metrics")).ReadJsonAsync()).EnumerateArray().Select(m => m.GetProperty("epoch").GetInt32())];

    public static async Task<byte[]> WeightsAsync(this HttpClient client, long id)
    {
        var response = await client.GetAsync($"/jobs/{id}/weights?format=safetensors&checkpoint=latest");
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadAsByteArrayAsync();
    }

    /// <summary>
    /// The tensors of a safetensors file without its header, whose metadata names the job: what two jobs of the same
    /// spec, data and seed must have bit for bit, whatever their ids.
    /// </summary>
    public static byte[] TensorData(byte[] safetensors) =>
        safetensors[(8 + (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(safetensors))..];

    /// <summary>A connection to a stopped service's database, for the tests that read or damage it directly.</summary>
    public static SqliteConnection OpenDatabase(string dataDirectory)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(dataDirectory, "service.db"), Pooling = false,
        }.ToString());
        connection.Open();
        return connection;
    }

    public static object? Scalar(this SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}

/// <summary>
/// The standard job trained once without interruption in a fresh folder: the weights every interrupted run
/// must reproduce bit for bit. Shared by the test classes of the <see cref="ReferenceCollection"/>.
/// </summary>
public sealed class ReferenceRun : IAsyncLifetime
{
    public byte[] Weights { get; private set; } = [];

    public async Task InitializeAsync()
    {
        using var folder = new DataFolder();
        await using var service = await ServiceProcess.StartAsync(folder.Path);
        long id = await service.Client.SubmitStandardJobAsync();
        var job = await service.Client.WaitForStatusAsync(id, TimeSpan.FromMinutes(3), "succeeded", "failed");
        Assert.Equal("succeeded", job.Status());
        Assert.Equal(1, job.GetProperty("attempts").GetInt32());
        Weights = await service.Client.WeightsAsync(id);
        await service.StopAsync();
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

[CollectionDefinition(Name)]
public sealed class ReferenceCollection : ICollectionFixture<ReferenceRun>
{
    public const string Name = "reference run";
}
