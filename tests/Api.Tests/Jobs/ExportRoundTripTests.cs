using System.Net;
using System.Net.Http.Json;

namespace Api.Tests.Jobs;

/// <summary>Weights and data leave and enter the service in formats other runtimes read: ONNX out, NPY in.</summary>
public sealed class ExportRoundTripTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task OnnxDownloadRunsInOnnxRuntimeLikePredict()
    {
        // Standardized data and a BatchNorm layer, so the ONNX graph must carry the input transform and the
        // running statistics to agree with /predict.
        var datasetId = await _client.CreateSyntheticAsync("spirals", size: 300, classes: 3, normalization: "standardize");
        var spec = new
        {
            input = new[] { 2 },
            layers = new object[]
            {
                new { type = "dense", units = 16 }, new { type = "batchnorm" }, new { type = "tanh" },
                new { type = "dropout", rate = 0.1 }, new { type = "dense", units = 3 },
            },
            loss = "softmax_cross_entropy",
        };
        var modelId = await _client.CreateModelAsync(spec);
        var jobId = await _client.CreateJobAsync(modelId, datasetId, epochs: 4);
        await _client.WaitForStatusAsync(jobId, TimeSpan.FromSeconds(60), "succeeded");

        var onnx = await _client.GetAsync($"/jobs/{jobId}/weights?format=onnx");
        Assert.Equal(HttpStatusCode.OK, onnx.StatusCode);
        float[][] inputs = [[0.1f, 0.2f], [-0.5f, 0.3f], [1.5f, -1.25f], [0f, 0f], [3f, -2f]];
        var predict = await (await _client.PostAsJsonAsync($"/jobs/{jobId}/predict", new { inputs })).ReadJsonAsync();
        var served = predict.GetProperty("outputs").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => v.GetDouble())).ToArray();

        var runtime = await OnnxRuntimeCheck.RunAsync(await onnx.Content.ReadAsByteArrayAsync(), inputs);
        Assert.Equal(inputs.Length * 3, runtime.Length);
        Assert.Equal(served.Length, runtime.Length);
        double maxDiff = served.Zip(runtime, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDiff <= 1e-5, $"ONNX Runtime and /predict differ by {maxDiff}");
    }

    [Fact]
    public async Task NpyUploadTrainsAndPredicts()
    {
        // Two well-separated clusters as NumPy would save them: float32 features (N, 2), int64 labels (N,).
        const int n = 120;
        var features = new float[n * 2];
        var labels = new long[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % 2;
            features[2 * i] = (i % 2 == 0 ? -2f : 2f) + 0.1f * MathF.Sin(i);
            features[2 * i + 1] = 0.1f * MathF.Cos(i);
        }
        using var form = new MultipartFormDataContent
        {
            { new StringContent("clusters"), "name" },
            { new StringContent("npy"), "format" },
            { new ByteArrayContent(ImageData.Npy("<f4", [n, 2], ImageData.Bytes(features))), "features", "x.npy" },
            { new ByteArrayContent(ImageData.Npy("<i8", [n], ImageData.Bytes(labels))), "labels", "y.npy" },
        };
        var upload = await _client.PostAsync("/datasets", form);
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        var dataset = await upload.ReadJsonAsync();
        Assert.Equal(n, dataset.GetProperty("sampleCount").GetInt32());
        Assert.Equal(2, dataset.GetProperty("classes").GetInt32());
        Assert.Equal([2], dataset.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()));

        var modelId = await _client.CreateModelAsync(ServiceClient.Mlp(outputs: 2));
        var jobId = await _client.CreateJobAsync(modelId, dataset.GetProperty("id").GetInt64(), epochs: 10);
        var job = await _client.WaitForStatusAsync(jobId, TimeSpan.FromSeconds(60), "succeeded", "failed");
        Assert.Equal("succeeded", job.GetProperty("status").GetString());

        var predict = await (await _client.PostAsJsonAsync($"/jobs/{jobId}/predict", new { inputs = new[] { new[] { -2f, 0f }, new[] { 2f, 0f } } })).ReadJsonAsync();
        Assert.Equal([0, 1], predict.GetProperty("argmax").EnumerateArray().Select(a => a.GetInt32()));
    }
}
