using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Api.Tests.Service;

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

        var folder = Directory.CreateTempSubdirectory("onnx-").FullName;
        try
        {
            var modelPath = Path.Combine(folder, "model.onnx");
            await File.WriteAllBytesAsync(modelPath, await onnx.Content.ReadAsByteArrayAsync());
            var inputPath = Path.Combine(folder, "inputs.json");
            await File.WriteAllTextAsync(inputPath, JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["input"] = new { dims = new[] { inputs.Length, 2 }, data = inputs.SelectMany(r => r).ToArray() },
            }));
            var result = JsonDocument.Parse(await RunOnnxRuntimeAsync(modelPath, inputPath)).RootElement.GetProperty("output");
            Assert.Equal([inputs.Length, 3], result.GetProperty("dims").EnumerateArray().Select(d => d.GetInt32()));
            var runtime = result.GetProperty("data").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            Assert.Equal(served.Length, runtime.Length);
            double maxDiff = served.Zip(runtime, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(maxDiff <= 1e-5, $"ONNX Runtime and /predict differ by {maxDiff}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
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
            { new ByteArrayContent(Npy("<f4", [n, 2], MemoryMarshalBytes(features))), "features", "x.npy" },
            { new ByteArrayContent(Npy("<i8", [n], MemoryMarshalBytes(labels))), "labels", "y.npy" },
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

    private static byte[] MemoryMarshalBytes<T>(T[] values) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    /// <summary>An NPY v1.0 file: magic, header length, a Python dict padded to 64 bytes, the raw data.</summary>
    private static byte[] Npy(string dtype, int[] shape, byte[] data)
    {
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string header = $"{{'descr': '{dtype}', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        using var file = new MemoryStream();
        file.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        file.Write(BitConverter.GetBytes((ushort)header.Length));
        file.Write(Encoding.ASCII.GetBytes(header));
        file.Write(data);
        return file.ToArray();
    }

    private static async Task<string> RunOnnxRuntimeAsync(string modelPath, string inputPath)
    {
        var folder = Path.Combine(Shared.Repository.Root, "tests", "onnx-check");
        if (!Directory.Exists(Path.Combine(folder, "node_modules", "onnxruntime-node")))
            Assert.Fail("tests/onnx-check/node_modules is missing: run `ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix tests/onnx-check` (.ci/run does).");
        var (exitCode, stdout, stderr) = await ExternalProcess.RunAsync(folder, TimeSpan.FromMinutes(2), null, "node", "run-onnx.mjs", modelPath, inputPath);
        Assert.True(exitCode == 0, $"run-onnx.mjs exited with {exitCode}: {stderr}");
        return stdout;
    }
}
