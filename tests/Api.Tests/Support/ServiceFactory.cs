using System.Net.Http.Json;
using System.Text.Json;
using Api.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Shared;

namespace Api.Tests;

/// <summary>
/// The real service over a real SQLite file in a temporary folder, with settings that make training
/// observable quickly. Pass a folder to start a second instance on the data of a first (restart tests).
/// </summary>
public class ServiceFactory : WebApplicationFactory<Program>
{
    public ServiceFactory() : this(Directory.CreateTempSubdirectory("api-tests-").FullName, ownsDirectory: true)
    {
    }

    private ServiceFactory(string dataDirectory, bool ownsDirectory)
    {
        DataDirectory = dataDirectory;
        OwnsDirectory = ownsDirectory;
    }

    /// <summary>A second instance on the same data, as after a restart; the folder stays with its first owner.</summary>
    public static ServiceFactory Reopen(string dataDirectory) => new(dataDirectory, ownsDirectory: false);

    public string DataDirectory { get; }
    private bool OwnsDirectory { get; }

    /// <summary>Small enough that the 413 test needs only a small body.</summary>
    public const long MaxUploadBytes = 256 * 1024;

    /// <summary>The running host, for tests that stop it as a deploy would.</summary>
    public Microsoft.Extensions.Hosting.IHost Host() => Services.GetRequiredService<Microsoft.Extensions.Hosting.IHost>();

    /// <summary>
    /// A context on this instance's database that does not depend on the host, which a stopped
    /// WebApplicationFactory host may already have disposed.
    /// </summary>
    public global::Storage.TrainingDbContext OpenDatabase() => new(
        new Microsoft.EntityFrameworkCore.DbContextOptionsBuilder<global::Storage.TrainingDbContext>()
            .UseSqlite(global::Storage.StorageServiceCollectionExtensions.ConnectionString(
                new global::Storage.StoragePaths(new global::Storage.StorageOptions { DataDirectory = DataDirectory }).Database, busyTimeoutSeconds: 30))
            .Options);

    /// <summary>The job's checkpoint files on disk, named as the rows name them (relative to the data directory), in ordinal order.</summary>
    public string[] CheckpointFiles(long jobId)
    {
        var folder = Path.Combine(DataDirectory, "checkpoints", jobId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Directory.Exists(folder) ? [.. Directory.GetFiles(folder).Select(f => Path.GetRelativePath(DataDirectory, f)).Order(StringComparer.Ordinal)] : [];
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        // UseSetting (not ConfigureAppConfiguration) so AddStorage sees the values when Program reads them.
        builder.UseSetting("Storage:DataDirectory", DataDirectory);
        builder.UseSetting("Storage:MaxUploadBytes", MaxUploadBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("Training:BatchProgressIntervalMs", "50");
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        // High enough that only the dedicated rate-limit test ever meets the limit.
        builder.UseSetting("Security:RateLimit:TokenLimit", "1000000");
        builder.UseSetting("Security:RateLimit:TokensPerPeriod", "1000000");
        foreach (var (key, value) in Settings) builder.UseSetting(key, value);
        builder.UseEnvironment("Testing");
    }

    /// <summary>Extra settings for a derived factory (limits under test), applied last.</summary>
    protected virtual IEnumerable<(string Key, string Value)> Settings => [];

    /// <summary>
    /// The admin key the service created at its first start, read from admin.key as an operator would;
    /// every client from <see cref="WebApplicationFactory{T}.CreateClient()"/> sends it.
    /// </summary>
    public string AdminKey
    {
        get
        {
            _ = Services; // starts the host, which writes the file
            return File.ReadAllText(Path.Combine(DataDirectory, "admin.key")).Trim();
        }
    }

    protected override void ConfigureClient(HttpClient client)
    {
        base.ConfigureClient(client);
        client.DefaultRequestHeaders.Add("X-Api-Key", AdminKey);
    }

    /// <summary>A client that sends <paramref name="key"/> (null: no key at all).</summary>
    public HttpClient CreateClient(string? key)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Remove("X-Api-Key");
        if (key is not null) client.DefaultRequestHeaders.Add("X-Api-Key", key);
        return client;
    }

    /// <summary>Creates a key for a new owner with the admin key and returns it.</summary>
    public async Task<string> CreateOwnerKeyAsync(string owner, bool admin = false)
    {
        var response = await CreateClient().PostAsJsonAsync("/keys", new { owner, admin });
        return (await response.ReadJsonAsync()).GetProperty("key").GetString()!;
    }

    /// <summary>A started connection to /hubs/training in process (long polling), authenticated with <paramref name="key"/>.</summary>
    public async Task<HubConnection> ConnectHubAsync(string key)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(Server.BaseAddress, "/hubs/training"), o =>
            {
                o.HttpMessageHandlerFactory = _ => Server.CreateHandler();
                o.Transports = Microsoft.AspNetCore.Http.Connections.HttpTransportType.LongPolling;
                o.AccessTokenProvider = () => Task.FromResult<string?>(key);
            })
            .Build();
        await connection.StartAsync();
        return connection;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing || !OwnsDirectory) return;
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by a finalizing connection; the OS temp folder is cleaned eventually.
        }
    }
}

/// <summary>
/// Requests the tests repeat, on top of an HttpClient to the service: through <see cref="TrainingService.Client.TrainingServiceClient"/>
/// where the arguments are typed, raw JSON where a test passes its own.
/// </summary>
public static class ServiceClient
{
    /// <summary>Epochs of tens of milliseconds: long enough to act on a job mid-training.</summary>
    public static async Task<long> StartSlowJobAsync(this HttpClient client, int epochs, int checkpointEvery = 2)
    {
        var datasetId = await client.CreateSyntheticAsync(size: 2000);
        var modelId = await client.CreateModelAsync(Mlp(hidden: 128, depth: 2));
        return await client.CreateJobAsync(modelId, datasetId, epochs, batchSize: 16, checkpointEvery: checkpointEvery);
    }

    public static readonly JsonSerializerOptions Json = ApiJson.Options;

    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static async Task<long> CreateSyntheticAsync(this HttpClient client, string kind = "spirals", int size = 600, int classes = 3,
        string normalization = "none")
    {
        using var api = client.Typed();
        var data = await api.CreateSyntheticDatasetAsync(new CreateSyntheticDatasetRequest(Kind: Enum.Parse<SyntheticKind>(kind, ignoreCase: true),
            Size: size, Classes: classes, Seed: 42, Noise: 0.2f, Normalization: Enum.Parse<NormalizationKind>(normalization, ignoreCase: true)));
        return data.Id;
    }

    public static object Mlp(int inputs = 2, int hidden = 32, int outputs = 3, int depth = 1)
    {
        var layers = new List<object>();
        for (int i = 0; i < depth; i++)
        {
            layers.Add(new { type = "dense", units = hidden });
            layers.Add(new { type = "relu" });
        }
        layers.Add(new { type = "dense", units = outputs });
        return new { input = new[] { inputs }, layers, loss = "softmax_cross_entropy" };
    }

    public static async Task<long> CreateModelAsync(this HttpClient client, object? spec = null)
    {
        var response = await client.PostAsJsonAsync("/models", new { name = "mlp", spec = spec ?? Mlp() });
        return (await response.ReadJsonAsync()).GetProperty("id").GetInt64();
    }

    public static async Task<long> CreateJobAsync(this HttpClient client, long modelId, long datasetId, int epochs,
        int batchSize = 32, int checkpointEvery = 1, float validationSplit = 0.2f)
    {
        using var api = client.Typed();
        var job = await api.SubmitJobAsync(new CreateJobRequest(ModelId: modelId, DatasetId: datasetId, ValidationSplit: validationSplit,
            Epochs: epochs, BatchSize: batchSize, CheckpointEvery: checkpointEvery, Seed: 7, Optimizer: new OptimizerSpec(OptimizerKind.Adam, 0.01f)));
        return job.Id;
    }

    public static async Task<JsonElement> GetJobAsync(this HttpClient client, long id) => await (await client.GetAsync($"/jobs/{id}")).ReadJsonAsync();

    /// <summary>Polls until the job reaches one of <paramref name="statuses"/>; fails with the job's state on timeout.</summary>
    public static async Task<JsonElement> WaitForStatusAsync(this HttpClient client, long id, TimeSpan timeout, params string[] statuses)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var job = await client.GetJobAsync(id);
            if (statuses.Contains(job.GetProperty("status").GetString())) return job;
            if (DateTime.UtcNow > deadline) Assert.Fail($"job {id} did not reach {string.Join("/", statuses)}: {job}");
            await Task.Delay(50);
        }
    }

    /// <summary>Polls until the job has completed at least <paramref name="epoch"/> epochs.</summary>
    public static async Task<JsonElement> WaitForEpochAsync(this HttpClient client, long id, int epoch, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var job = await client.GetJobAsync(id);
            if (job.GetProperty("epoch").GetInt32() >= epoch) return job;
            if (DateTime.UtcNow > deadline) Assert.Fail($"job {id} did not reach epoch {epoch}: {job}");
            await Task.Delay(20);
        }
    }

    public static async Task<int[]> MetricEpochsAsync(this HttpClient client, long id)
    {
        using var api = client.Typed();
        return [.. (await api.GetMetricsAsync(id)).Select(m => m.Epoch)];
    }
}
