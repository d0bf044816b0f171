using System.Text.Json;
using Microsoft.Data.Sqlite;
using TrainingService.Client;
using TrainingService.Contracts;

namespace Reliability.Tests;

/// <summary>The requests the tests repeat (through <see cref="TrainingServiceClient"/> where they need no raw JSON), plus the standard job they train.</summary>
public static class Api
{
    /// <summary>
    /// The job every recovery test trains: spirals, an MLP with dropout (so a resumed run is only identical if
    /// the RNG state was restored), a checkpoint every epoch. Sized so there is time to
    /// kill the process inside one: 150 batches of 16, a few tenths of a second an epoch.
    /// </summary>
    public const int Epochs = 12;

    public static ModelSpec StandardSpec(int hidden = 192) => new([2],
        [new DenseSpec(hidden), new ReluSpec(), new DropoutSpec(0.2f), new DenseSpec(hidden), new ReluSpec(), new DenseSpec(3)],
        LossKind.SoftmaxCrossEntropy);

    public static async Task<long> SubmitStandardJobAsync(this HttpClient client, int epochs = Epochs, double learningRate = 0.01,
        int size = 3000, int hidden = 192, string optimizer = "adam")
    {
        using var api = client.Typed();
        var dataset = await api.CreateSyntheticDatasetAsync(new CreateSyntheticDatasetRequest("spirals", SyntheticKind.Spirals, size, Classes: 3, Seed: 42, Noise: 0.2f));
        var job = await api.SubmitJobAsync(new CreateJobRequest(Spec: StandardSpec(hidden), DatasetId: dataset.Id, ValidationSplit: 0.2f,
            Epochs: epochs, BatchSize: 16, CheckpointEvery: 1, Seed: 7,
            Optimizer: new OptimizerSpec(Enum.Parse<OptimizerKind>(optimizer, ignoreCase: true), (float)learningRate)));
        return job.Id;
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

    /// <summary>Polls (tightly, so a kill can land right after an epoch is recorded) until <paramref name="epoch"/> epochs are done.</summary>
    public static async Task WaitForEpochAsync(this HttpClient client, long id, int epoch, TimeSpan timeout)
    {
        using var api = client.Typed();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var job = await api.GetJobAsync(id);
            if (job.Epoch >= epoch) return;
            if (job.Status is not (JobStatus.Queued or JobStatus.Running)) Assert.Fail($"job {id} stopped before epoch {epoch}: {job}");
            if (DateTime.UtcNow > deadline) Assert.Fail($"job {id} did not reach epoch {epoch}: {job}");
            await Task.Delay(10);
        }
    }

    /// <summary>
    /// Waits until <paramref name="afterEpoch"/> epochs are stored, then a random fraction (up to
    /// <paramref name="maxEpochFraction"/>) of the last epoch's duration: a kill point. Returns the extra delay in ms.
    /// </summary>
    public static async Task<int> WaitForKillPointAsync(this HttpClient client, long id, int afterEpoch, double maxEpochFraction)
    {
        await client.WaitForEpochAsync(id, afterEpoch, TimeSpan.FromMinutes(2));
        if (maxEpochFraction <= 0) return 0;
        double epochSeconds = (await client.GetJobAsync(id)).GetProperty("latestMetrics").GetProperty("seconds").GetDouble();
        int delay = (int)(Random.Shared.NextDouble() * maxEpochFraction * epochSeconds * 1000);
        await Task.Delay(delay);
        return delay;
    }

    public static async Task<int[]> MetricEpochsAsync(this HttpClient client, long id)
    {
        using var api = client.Typed();
        return [.. (await api.GetMetricsAsync(id)).Select(m => m.Epoch)];
    }

    public static async Task<byte[]> WeightsAsync(this HttpClient client, long id)
    {
        using var api = client.Typed();
        return await api.GetWeightsAsync(id, WeightsFormat.SafeTensors, "latest");
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
