using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using TrainingService.Contracts;

namespace TrainingService.Client;

/// <summary>
/// The training service from C#: one object per base address and API key, over an <see cref="HttpClient"/> for the
/// REST API and a SignalR connection per <see cref="WatchAsync"/>. Errors are <see cref="TrainingServiceException"/>;
/// a 429 is sent again after its <c>Retry-After</c> (<see cref="TrainingServiceClientOptions.MaxRateLimitRetries"/>).
/// </summary>
/// <example>
/// <code>
/// await using var client = new TrainingServiceClient(new Uri("http://localhost:5000"), apiKey);
/// var data = await client.CreateSyntheticDatasetAsync(new CreateSyntheticDatasetRequest(Kind: SyntheticKind.Spirals, Size: 3000));
/// var job = await client.SubmitJobAsync(new CreateJobRequest(Spec: spec, DatasetId: data.Id, Epochs: 20));
/// await foreach (var e in client.WatchAsync(job.Id))
///     if (e is EpochCompletedEvent epoch) Console.WriteLine($"{epoch.Epoch}: {epoch.TrainLoss}");
/// await client.DownloadWeightsAsync(job.Id, "model.onnx", WeightsFormat.Onnx);
/// </code>
/// </example>
public sealed partial class TrainingServiceClient : IAsyncDisposable, IDisposable
{
    /// <summary>The header the service reads the API key from.</summary>
    public const string ApiKeyHeader = "X-Api-Key";

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly string _apiKey;

    /// <param name="baseAddress">The service's root, e.g. <c>http://localhost:5000</c>.</param>
    /// <param name="apiKey">Sent as <c>X-Api-Key</c> (and as the hub's access token).</param>
    public TrainingServiceClient(Uri baseAddress, string apiKey, TrainingServiceClientOptions? options = null)
        : this(new HttpClient { BaseAddress = baseAddress }, apiKey, options, ownsHttp: true)
    {
    }

    /// <summary>Over a caller's <see cref="HttpClient"/> (its <see cref="HttpClient.BaseAddress"/> set), which the client does not dispose.</summary>
    public TrainingServiceClient(HttpClient http, string apiKey, TrainingServiceClientOptions? options = null)
        : this(http, apiKey, options, ownsHttp: false)
    {
    }

    private TrainingServiceClient(HttpClient http, string apiKey, TrainingServiceClientOptions? options, bool ownsHttp)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentException.ThrowIfNullOrWhiteSpace(apiKey);
        if (http.BaseAddress is null) throw new ArgumentException("the HttpClient needs a BaseAddress", nameof(http));
        Options = options ?? new TrainingServiceClientOptions();
        _http = http;
        _ownsHttp = ownsHttp;
        _apiKey = apiKey;
        if (ownsHttp) _http.Timeout = Options.RequestTimeout;
    }

    public Uri BaseAddress => _http.BaseAddress!;
    public TrainingServiceClientOptions Options { get; }

    // ---- Data sets ----

    /// <summary>Generates a data set on the service (xor, spirals, moons, blobs, regression).</summary>
    public Task<DatasetDto> CreateSyntheticDatasetAsync(CreateSyntheticDatasetRequest request, CancellationToken ct = default) =>
        PostAsync<DatasetDto>("datasets/synthetic", request, ct);

    /// <summary>Uploads a CSV, IDX or NPY data set, streaming its files.</summary>
    public async Task<DatasetDto> UploadDatasetAsync(DatasetUpload upload, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(upload);
        var opened = new List<Stream>();
        try
        {
            return await SendAsync<DatasetDto>(() =>
            {
                foreach (var s in opened) s.Dispose();
                opened.Clear();
                return new HttpRequestMessage(HttpMethod.Post, "datasets") { Content = upload.CreateContent(opened) };
            }, ct, upload.CanResend);
        }
        finally
        {
            foreach (var s in opened) await s.DisposeAsync();
        }
    }

    public Task<DatasetDto[]> ListDatasetsAsync(CancellationToken ct = default) => GetAsync<DatasetDto[]>("datasets", ct);
    public Task<DatasetDto> GetDatasetAsync(long id, CancellationToken ct = default) => GetAsync<DatasetDto>($"datasets/{id}", ct);
    public Task DeleteDatasetAsync(long id, CancellationToken ct = default) => DeleteAsync($"datasets/{id}", ct);

    // ---- Models ----

    public Task<ModelDto> CreateModelAsync(CreateModelRequest request, CancellationToken ct = default) => PostAsync<ModelDto>("models", request, ct);

    public Task<ModelDto> CreateModelAsync(string name, ModelSpec spec, CancellationToken ct = default) =>
        CreateModelAsync(new CreateModelRequest(name, spec), ct);

    /// <summary>Dry run of a spec: shapes, parameters and the memory training takes; a bad spec throws with the errors by field.</summary>
    public Task<SpecReportDto> ValidateModelAsync(ModelSpec spec, int? batchSize = null, CancellationToken ct = default) =>
        PostAsync<SpecReportDto>("models/validate", new ValidateModelRequest(spec, batchSize), ct);

    public Task<ModelDto[]> ListModelsAsync(CancellationToken ct = default) => GetAsync<ModelDto[]>("models", ct);
    public Task<ModelDto> GetModelAsync(long id, CancellationToken ct = default) => GetAsync<ModelDto>($"models/{id}", ct);
    public Task DeleteModelAsync(long id, CancellationToken ct = default) => DeleteAsync($"models/{id}", ct);

    /// <summary>Compares a stored model's backprop gradients with finite differences on a batch of a data set.</summary>
    public Task<GradientCheckDto> GradientCheckModelAsync(long modelId, GradientCheckRequest request, CancellationToken ct = default) =>
        PostAsync<GradientCheckDto>($"models/{modelId}/gradient-check", request, ct);

    /// <summary>The gradient check of an inline spec.</summary>
    public Task<GradientCheckDto> GradientCheckSpecAsync(InlineGradientCheckRequest request, CancellationToken ct = default) =>
        PostAsync<GradientCheckDto>("models/gradient-check", request, ct);

    // ---- Jobs ----

    /// <summary>Queues a training job; it starts when a worker is free.</summary>
    public Task<JobDto> SubmitJobAsync(CreateJobRequest request, CancellationToken ct = default) => PostAsync<JobDto>("jobs", request, ct);

    public Task<JobDto> GetJobAsync(long id, CancellationToken ct = default) => GetAsync<JobDto>($"jobs/{id}", ct);

    /// <summary>A page of jobs, newest first, optionally only those with <paramref name="status"/>.</summary>
    public Task<JobPage> ListJobsAsync(JobStatus? status = null, int page = 1, int pageSize = 20, CancellationToken ct = default) =>
        GetAsync<JobPage>(string.Create(CultureInfo.InvariantCulture,
            $"jobs?page={page}&pageSize={pageSize}{(status is { } s ? "&status=" + s.ToString().ToLowerInvariant() : "")}"), ct);

    /// <summary>Stops a queued or running job at the next batch; it keeps its checkpoints and can be resumed.</summary>
    public Task<JobDto> CancelJobAsync(long id, CancellationToken ct = default) => PostAsync<JobDto>($"jobs/{id}/cancel", null, ct);

    /// <summary>Queues a cancelled or failed job again from its last checkpoint.</summary>
    public Task<JobDto> ResumeJobAsync(long id, CancellationToken ct = default) => PostAsync<JobDto>($"jobs/{id}/resume", null, ct);

    public Task DeleteJobAsync(long id, CancellationToken ct = default) => DeleteAsync($"jobs/{id}", ct);

    /// <summary>Every finished epoch's metrics, in epoch order.</summary>
    public Task<MetricDto[]> GetMetricsAsync(long id, CancellationToken ct = default) => GetAsync<MetricDto[]>($"jobs/{id}/metrics", ct);

    public Task<CheckpointDto[]> GetCheckpointsAsync(long id, CancellationToken ct = default) =>
        GetAsync<CheckpointDto[]>($"jobs/{id}/checkpoints", ct);

    /// <summary>Per-layer weight, gradient and activation statistics of every epoch.</summary>
    public Task<EpochDiagnosticsDto[]> GetDiagnosticsAsync(long id, CancellationToken ct = default) =>
        GetAsync<EpochDiagnosticsDto[]>($"jobs/{id}/diagnostics", ct);

    /// <summary>Waits (over SignalR) until the job is succeeded, failed or cancelled, and returns it.</summary>
    public async Task<JobDto> WaitForJobAsync(long id, CancellationToken ct = default)
    {
        await foreach (var _ in WatchAsync(id, ct))
        {
            // The stream ends at the final status.
        }
        return await GetJobAsync(id, ct);
    }

    // ---- Results ----

    /// <summary>Writes a checkpoint's weights to <paramref name="destination"/> as they arrive.</summary>
    /// <param name="checkpoint">latest, best or an epoch number.</param>
    public async Task DownloadWeightsAsync(long id, Stream destination, WeightsFormat format = WeightsFormat.SafeTensors,
        string checkpoint = "latest", CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var path = $"jobs/{id}/weights?format={format.ToString().ToLowerInvariant()}&checkpoint={Uri.EscapeDataString(checkpoint)}";
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, path), ct, canResend: true,
            HttpCompletionOption.ResponseHeadersRead);
        await response.Content.CopyToAsync(destination, ct);
    }

    /// <summary>Writes a checkpoint's weights to the file <paramref name="path"/> (replaced if it exists).</summary>
    public async Task DownloadWeightsAsync(long id, string path, WeightsFormat format = WeightsFormat.SafeTensors,
        string checkpoint = "latest", CancellationToken ct = default)
    {
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        await DownloadWeightsAsync(id, file, format, checkpoint, ct);
    }

    /// <summary>A checkpoint's weights in memory.</summary>
    public async Task<byte[]> GetWeightsAsync(long id, WeightsFormat format = WeightsFormat.SafeTensors, string checkpoint = "latest",
        CancellationToken ct = default)
    {
        using var buffer = new MemoryStream();
        await DownloadWeightsAsync(id, buffer, format, checkpoint, ct);
        return buffer.ToArray();
    }

    /// <summary>Runs raw (unnormalized) input rows through a checkpoint of a trained job.</summary>
    public Task<PredictResponse> PredictAsync(long id, float[][] inputs, string checkpoint = "latest", CancellationToken ct = default) =>
        PostAsync<PredictResponse>($"jobs/{id}/predict", new PredictRequest(inputs, checkpoint), ct);

    // ---- Experiments ----

    /// <summary>Queues one job per variation of a base job.</summary>
    public Task<ExperimentDto> CreateExperimentAsync(CreateExperimentRequest request, CancellationToken ct = default) =>
        PostAsync<ExperimentDto>("experiments", request, ct);

    public Task<ExperimentDto> GetExperimentAsync(long id, CancellationToken ct = default) => GetAsync<ExperimentDto>($"experiments/{id}", ct);
    public Task<ExperimentSummaryDto[]> ListExperimentsAsync(CancellationToken ct = default) => GetAsync<ExperimentSummaryDto[]>("experiments", ct);

    // ---- Searches ----

    /// <summary>Starts a hyperparameter search (random, grid or ASHA) over a base job; trials are ordinary jobs.</summary>
    public Task<SearchDto> SubmitSearchAsync(CreateSearchRequest request, CancellationToken ct = default) =>
        PostAsync<SearchDto>("searches", request, ct);

    public Task<SearchDto> GetSearchAsync(long id, CancellationToken ct = default) => GetAsync<SearchDto>($"searches/{id}", ct);
    public Task<SearchSummaryDto[]> ListSearchesAsync(CancellationToken ct = default) => GetAsync<SearchSummaryDto[]>("searches", ct);
    public Task<SearchDto> CancelSearchAsync(long id, CancellationToken ct = default) => PostAsync<SearchDto>($"searches/{id}/cancel", null, ct);

    // ---- Keys (admin keys only) ----

    /// <summary>Creates a key for an owner; the answer is the only time the key is shown.</summary>
    public Task<CreatedKeyDto> CreateKeyAsync(string owner, bool admin = false, CancellationToken ct = default) =>
        PostAsync<CreatedKeyDto>("keys", new CreateKeyRequest(owner, admin), ct);

    public Task<KeyDto[]> ListKeysAsync(CancellationToken ct = default) => GetAsync<KeyDto[]>("keys", ct);
    public Task RevokeKeyAsync(long id, CancellationToken ct = default) => DeleteAsync($"keys/{id}", ct);

    // ---- Transport ----

    private Task<T> GetAsync<T>(string path, CancellationToken ct) => SendAsync<T>(() => new HttpRequestMessage(HttpMethod.Get, path), ct);

    private Task<T> PostAsync<T>(string path, object? body, CancellationToken ct) => SendAsync<T>(() => new HttpRequestMessage(HttpMethod.Post, path)
    {
        Content = body is null ? null : JsonContent.Create(body, body.GetType(), options: ServiceJson.Options),
    }, ct);

    private async Task DeleteAsync(string path, CancellationToken ct)
    {
        using var _ = await SendAsync(() => new HttpRequestMessage(HttpMethod.Delete, path), ct);
    }

    private async Task<T> SendAsync<T>(Func<HttpRequestMessage> create, CancellationToken ct, bool canResend = true)
    {
        using var response = await SendAsync(create, ct, canResend);
        return await response.Content.ReadFromJsonAsync<T>(ServiceJson.Options, ct)
            ?? throw new InvalidDataException($"{response.RequestMessage?.RequestUri} answered {(int)response.StatusCode} without a body");
    }

    /// <summary>
    /// Sends a fresh request per attempt; a 429 is waited out and sent again while retries are left and its
    /// Retry-After is within the limit. Returns a successful response, else throws the service's problem.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> create, CancellationToken ct, bool canResend = true,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        for (int attempt = 0; ; attempt++)
        {
            using var request = create();
            request.Headers.Add(ApiKeyHeader, _apiKey);
            var response = await _http.SendAsync(request, completion, ct);
            if (response.IsSuccessStatusCode) return response;
            if (response.StatusCode == HttpStatusCode.TooManyRequests && canResend && attempt < Options.MaxRateLimitRetries &&
                (TrainingServiceException.RetryDelay(response.Headers.RetryAfter) ?? TimeSpan.FromSeconds(1)) is var wait &&
                wait <= Options.MaxRetryAfter)
            {
                response.Dispose();
                await Task.Delay(wait, ct);
                continue;
            }
            throw await TrainingServiceException.FromResponseAsync(response, ct);
        }
    }

    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
