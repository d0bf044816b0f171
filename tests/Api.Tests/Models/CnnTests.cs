using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Api.Tests.Models;

/// <summary>A convolutional network through the real service: uploaded images, training, /predict, the ONNX download.</summary>
public sealed class CnnTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private const int Size = 28;
    private readonly HttpClient _client = factory.CreateClient();

    /// <summary>Every conv-era layer: [1,28,28] → conv same [4,28,28] → maxpool [4,14,14] → conv /2 [6,7,7] → avgpool 2/1 [6,6,6] → global [6,1,1].</summary>
    private static object Spec(int channels = 1) => new
    {
        input = new[] { channels, Size, Size },
        layers = new object[]
        {
            new { type = "conv2d", filters = 4, kernel = 3, padding = "same" }, new { type = "batchnorm" }, new { type = "relu" },
            new { type = "maxpool2d", size = 2 },
            new { type = "conv2d", filters = 6, kernel = 3, stride = 2, padding = 1 }, new { type = "relu" }, new { type = "dropout", rate = 0.1 },
            new { type = "avgpool2d", size = 2, stride = 1 }, new { type = "globalavgpool2d" }, new { type = "flatten" },
            new { type = "dense", units = 2 },
        },
        loss = "softmax_cross_entropy",
    };

    [Fact]
    public async Task CnnTrainsOnUploadedIdxImagesAndItsOnnxDownloadRunsLikePredict()
    {
        var (pixels, labels) = ImageData.Stripes(160, Size, seed: 1);
        var dataset = await _client.UploadIdxAsync(pixels, labels, Size, Size);
        Assert.Equal([Size, Size], dataset.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()));

        var validate = await (await _client.PostAsJsonAsync("/models/validate", new { spec = Spec(), batchSize = 16 })).ReadJsonAsync();
        Assert.Equal([6, 7, 7], validate.GetProperty("layers")[4].GetProperty("outputShape").EnumerateArray().Select(d => d.GetInt32()));

        var modelId = await _client.CreateModelAsync(Spec());
        var jobId = await _client.CreateJobAsync(modelId, dataset.GetProperty("id").GetInt64(), epochs: 8, batchSize: 16);
        await _client.WaitForStatusAsync(jobId, TimeSpan.FromMinutes(3), "succeeded");
        var metrics = (await (await _client.GetAsync($"/jobs/{jobId}/metrics")).ReadJsonAsync()).EnumerateArray().ToArray();
        // Orientation is all that separates the classes, and a dense layer after global pooling sees no positions:
        // the convolutions must have learned oriented filters.
        Assert.True(metrics[^1].GetProperty("valAccuracy").GetDouble() >= 0.9, $"validation accuracy: {metrics[^1]}");

        // Raw pixels, as a client sends them: the service and the ONNX graph both apply the upload's scaling.
        var (fresh, freshLabels) = ImageData.Stripes(6, Size, seed: 2);
        float[][] inputs = [.. Enumerable.Range(0, 6).Select(i => fresh.AsSpan(i * Size * Size, Size * Size).ToArray().Select(b => (float)b).ToArray())];
        var predict = await (await _client.PostAsJsonAsync($"/jobs/{jobId}/predict", new { inputs })).ReadJsonAsync();
        Assert.Equal(freshLabels, predict.GetProperty("argmax").EnumerateArray().Select(a => a.GetInt32()));
        var served = predict.GetProperty("outputs").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => v.GetDouble())).ToArray();

        var onnx = await _client.GetAsync($"/jobs/{jobId}/weights?format=onnx");
        Assert.Equal(HttpStatusCode.OK, onnx.StatusCode);
        var runtime = await OnnxRuntimeCheck.RunAsync(await onnx.Content.ReadAsByteArrayAsync(), inputs);
        Assert.Equal(served.Length, runtime.Length);
        double maxDiff = served.Zip(runtime, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDiff <= 1e-5, $"ONNX Runtime and /predict differ by {maxDiff}");
    }

    [Fact]
    public async Task ConvModelAndImagesOfAnotherShapeAre422OnInputNamingTheChannels()
    {
        var (pixels, labels) = ImageData.Stripes(8, Size, seed: 3);
        var idx = (await _client.UploadIdxAsync(pixels, labels, Size, Size)).GetProperty("id").GetInt64();

        var threeChannels = await _client.PostAsJsonAsync("/jobs", new { datasetId = idx, spec = Spec(channels: 3), epochs = 1 });
        var messages = await Problem.AssertAsync(threeChannels, HttpStatusCode.UnprocessableEntity, "input");
        Assert.Equal("the model takes 3 channels ([3, 28, 28]), the dataset's images have 1 ([28, 28]); set input to [1, 28, 28]", Assert.Single(messages));

        // As many values per sample (4·14·14 = 28·28), but not the same image: refused too.
        var reshaped = new
        {
            input = new[] { 4, 14, 14 },
            layers = new object[] { new { type = "conv2d", filters = 2, kernel = 3 }, new { type = "flatten" }, new { type = "dense", units = 2 } },
            loss = "softmax_cross_entropy",
        };
        Assert.Contains("set input to [1, 28, 28]",
            Assert.Single(await Problem.AssertAsync(await _client.PostAsJsonAsync("/jobs", new { datasetId = idx, spec = reshaped, epochs = 1 }),
                HttpStatusCode.UnprocessableEntity, "input")));

        // NPY keeps its trailing [C, H, W]: three channels of 8×8 against a one-channel model.
        var npy = await _client.UploadNpyAsync(new float[4 * 3 * 8 * 8], [4, 3, 8, 8], [0, 1, 0, 1]);
        Assert.Equal([3, 8, 8], npy.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()));
        var small = new
        {
            input = new[] { 1, 8, 8 },
            layers = new object[] { new { type = "conv2d", filters = 2, kernel = 3 }, new { type = "flatten" }, new { type = "dense", units = 2 } },
            loss = "softmax_cross_entropy",
        };
        Assert.StartsWith("the model takes 1 channel ([1, 8, 8]), the dataset's images have 3",
            Assert.Single(await Problem.AssertAsync(await _client.PostAsJsonAsync("/jobs", new { datasetId = npy.GetProperty("id").GetInt64(), spec = small, epochs = 1 }),
                HttpStatusCode.UnprocessableEntity, "input")));
    }

    [Fact]
    public async Task SpecThatDoesNotFitItsImagesIs400ByLayerPath()
    {
        var noFlatten = new
        {
            input = new[] { 1, 8, 8 },
            layers = new object[] { new { type = "conv2d", filters = 2, kernel = 3 }, new { type = "dense", units = 2 } },
            loss = "softmax_cross_entropy",
        };
        Assert.Contains("add a flatten layer",
            Assert.Single(await Problem.AssertAsync(await _client.PostAsJsonAsync("/models/validate", new { spec = noFlatten }), HttpStatusCode.BadRequest, "layers[1]")));

        var hugeKernel = new
        {
            input = new[] { 1, 8, 8 },
            layers = new object[] { new { type = "conv2d", filters = 2, kernel = 9 }, new { type = "flatten" }, new { type = "dense", units = 2 } },
            loss = "softmax_cross_entropy",
        };
        Assert.Contains("kernel 9 is larger",
            Assert.Single(await Problem.AssertAsync(await _client.PostAsJsonAsync("/models/validate", new { spec = hugeKernel }), HttpStatusCode.BadRequest, "layers[0].kernel")));
    }

    [Fact]
    public async Task SyntheticStripesTrainTheDashboardPresetWithConvDiagnosticsEveryEpoch()
    {
        var created = await (await _client.PostAsJsonAsync("/datasets/synthetic", new { kind = "stripes", size = 240, classes = 4, seed = 3, noise = 0.2 })).ReadJsonAsync();
        Assert.Equal([1, 16, 16], created.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()));
        // The dashboard's quick-start preset for stripes (src/Api/ClientApp/src/quickstart.js).
        var preset = new
        {
            input = new[] { 1, 16, 16 },
            layers = new object[]
            {
                new { type = "conv2d", filters = 8, kernel = 3, padding = "same" }, new { type = "relu" }, new { type = "maxpool2d", size = 2 },
                new { type = "conv2d", filters = 16, kernel = 3, padding = "same" }, new { type = "relu" }, new { type = "maxpool2d", size = 2 },
                new { type = "flatten" }, new { type = "dense", units = 4 },
            },
            loss = "softmax_cross_entropy",
        };
        var jobId = await _client.CreateJobAsync(await _client.CreateModelAsync(preset), created.GetProperty("id").GetInt64(), epochs: 3);
        await _client.WaitForStatusAsync(jobId, TimeSpan.FromMinutes(3), "succeeded");

        var epochs = (await (await _client.GetAsync($"/jobs/{jobId}/diagnostics")).ReadJsonAsync()).EnumerateArray().ToArray();
        Assert.Equal([1, 2, 3], epochs.Select(e => e.GetProperty("epoch").GetInt32()));
        var layers = epochs[^1].GetProperty("layers").EnumerateArray().ToArray();
        Assert.Equal(["Conv2d", "Relu", "MaxPool2d", "Conv2d", "Relu", "MaxPool2d", "Flatten", "Dense"], layers.Select(l => l.GetProperty("type").GetString()));
        foreach (var conv in new[] { layers[0], layers[3] })
        {
            Assert.True(conv.GetProperty("weightNorm").GetDouble() > 0);
            Assert.True(conv.GetProperty("gradNorm").GetDouble() > 0);
        }
        // Per filter: 8 and 16 channels, so a dead fraction is a multiple of 1/8 or 1/16.
        Assert.Equal(0, layers[1].GetProperty("deadFraction").GetDouble() * 8 % 1, 9);
        Assert.Equal(0, layers[4].GetProperty("deadFraction").GetDouble() * 16 % 1, 9);
        Assert.Equal(JsonValueKind.Null, layers[2].GetProperty("deadFraction").ValueKind);

        await Problem.AssertAsync(await _client.PostAsJsonAsync("/datasets/synthetic", new { kind = "stripes", size = 100, classes = 5 }), HttpStatusCode.BadRequest, "classes");
        await Problem.AssertAsync(await _client.PostAsJsonAsync("/datasets/synthetic", new { kind = "stripes", size = 60_001 }), HttpStatusCode.BadRequest, "size");
    }
}
