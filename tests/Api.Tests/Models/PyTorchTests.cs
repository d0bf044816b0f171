using System.ComponentModel;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Engine;
using Engine.Serialization;
using Engine.Tensors;

namespace Api.Tests.Models;

/// <summary>
/// Weights go to and come from real PyTorch (Debian's python3-torch) through tests/torch-check/torch_check.py, which
/// builds the nn.Sequential docs/pytorch.md shows and reads and writes safetensors itself (Debian has no safetensors).
/// </summary>
public sealed class PyTorchTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private const string InstallCommand = "apt-get update && apt-get install -y python3-torch";
    private readonly HttpClient _client = factory.CreateClient();

    /// <summary>dense, batchnorm, relu, dropout, dense, tanh, dense: the network of torch_check.py.</summary>
    private static object Spec(float batchNormMomentum = 0.9f) => new
    {
        input = new[] { 2 },
        layers = new object[]
        {
            new { type = "dense", units = 16 }, new { type = "batchnorm", momentum = batchNormMomentum }, new { type = "relu" },
            new { type = "dropout", rate = 0.2 }, new { type = "dense", units = 8 }, new { type = "tanh" }, new { type = "dense", units = 3 },
        },
        loss = "softmax_cross_entropy",
    };

    private static readonly float[][] Inputs = [[0.1f, 0.2f], [-0.5f, 0.3f], [1.5f, -1.25f], [0f, 0f], [3f, -2f], [-2.5f, -0.75f]];

    [Fact]
    public async Task DownloadedSafetensorsLoadStrictIntoTheSequentialAndPredictLikeTheService()
    {
        var datasetId = await _client.CreateSyntheticAsync("spirals", size: 300, classes: 3);
        var modelId = await _client.CreateModelAsync(Spec());
        var jobId = await _client.CreateJobAsync(modelId, datasetId, epochs: 4);
        await _client.WaitForStatusAsync(jobId, TimeSpan.FromSeconds(60), "succeeded");

        var download = await _client.GetAsync($"/jobs/{jobId}/weights");
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        var served = await PredictAsync(jobId);
        using var folder = new TempFolder();
        var weights = folder.Write("weights.safetensors", await download.Content.ReadAsByteArrayAsync());
        var torch = await RunTorchAsync("predict", weights, folder.Write("inputs.json", JsonSerializer.SerializeToUtf8Bytes(Inputs)));
        AssertClose(served, torch);
    }

    /// <summary>The spec of torch_check.py's cnn() (docs/cnn.md): every conv-era layer over [1, 12, 12].</summary>
    private static readonly object CnnSpec = new
    {
        input = new[] { 1, 12, 12 },
        layers = new object[]
        {
            new { type = "conv2d", filters = 4, kernel = 3, padding = "same" }, new { type = "batchnorm" }, new { type = "relu" },
            new { type = "maxpool2d", size = 2 }, new { type = "conv2d", filters = 8, kernel = 3, stride = 2, padding = 1, bias = false },
            new { type = "relu" }, new { type = "avgpool2d", size = 2, stride = 1 }, new { type = "dropout", rate = 0.1 },
            new { type = "globalavgpool2d" }, new { type = "flatten" }, new { type = "dense", units = 2 },
        },
        loss = "softmax_cross_entropy",
    };

    [Fact]
    public async Task CnnSafetensorsLoadStrictIntoTheConvSequentialAndPredictLikeTheService()
    {
        var (pixels, labels) = ImageData.Stripes(64, 12, seed: 4);
        var dataset = await _client.UploadNpyAsync([.. pixels.Select(p => p / 255f)], [64, 1, 12, 12], [.. labels.Select(l => (long)l)]);
        var modelId = await _client.CreateModelAsync(CnnSpec);
        var jobId = await _client.CreateJobAsync(modelId, dataset.GetProperty("id").GetInt64(), epochs: 3, batchSize: 16);
        await _client.WaitForStatusAsync(jobId, TimeSpan.FromMinutes(2), "succeeded");

        var download = await _client.GetAsync($"/jobs/{jobId}/weights");
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        var (fresh, _) = ImageData.Stripes(5, 12, seed: 5);
        float[][] inputs = [.. fresh.Chunk(144).Select(image => image.Select(p => p / 255f).ToArray())];
        var served = await PredictAsync(jobId, inputs);
        using var folder = new TempFolder();
        var weights = folder.Write("weights.safetensors", await download.Content.ReadAsByteArrayAsync());
        var torch = await RunTorchAsync("predict_cnn", weights, folder.Write("inputs.json", JsonSerializer.SerializeToUtf8Bytes(inputs)));
        AssertClose(served, torch, inputs.Length * 2);
    }

    [Fact]
    public async Task StateDictSavedByPyTorchImportsAndAJobStartsFromIt()
    {
        using var folder = new TempFolder();
        var weights = Path.Combine(folder.Path, "torch.safetensors");
        var torch = await RunTorchAsync("save", weights, folder.Write("inputs.json", JsonSerializer.SerializeToUtf8Bytes(Inputs)));

        // A BatchNorm momentum of 1 - 1.2e-7 and a learning rate of 1e-10 make the job's one epoch leave PyTorch's
        // weights and running statistics as they were (to ~1e-7), so the job's /predict must be PyTorch's output: it
        // can only be if training started from the imported weights rather than from the seed.
        var import = await ImportAsync(Spec(batchNormMomentum: 0.9999999f), await File.ReadAllBytesAsync(weights));
        Assert.Equal(HttpStatusCode.Created, import.StatusCode);
        var model = await import.ReadJsonAsync();
        Assert.True(model.GetProperty("importedWeights").GetBoolean());

        var datasetId = await _client.CreateSyntheticAsync("spirals", size: 64, classes: 3);
        var job = await _client.PostAsJsonAsync("/jobs", new
        {
            modelId = model.GetProperty("id").GetInt64(), datasetId, epochs = 1, batchSize = 32, seed = 3,
            optimizer = new { type = "sgd", learningRate = 1e-10 },
        });
        var jobId = (await job.ReadJsonAsync()).GetProperty("id").GetInt64();
        await _client.WaitForStatusAsync(jobId, TimeSpan.FromSeconds(60), "succeeded");
        AssertClose(await PredictAsync(jobId), torch);
    }

    [Fact]
    public async Task ImportNamesEachWrongTensorAndRefusesBadFiles()
    {
        var spec = JsonSerializer.Deserialize<ModelSpec>(JsonSerializer.Serialize(Spec(), ServiceClient.Json), ServiceClient.Json)!;
        var network = Network.Create(spec, new Rng(1));
        var tensors = network.ExportTensors();
        var wrong = tensors.Select(t => t.Name == "0.weight" ? t with { Shape = [2, 16] } : t).Where(t => t.Name != "4.bias")
            .Append(new NamedTensor("7.weight", [1], [0f])).ToList();

        var problem = await ImportAsync(Spec(), SafeTensors.Write(wrong, null, network.ExportCounters()));
        Assert.Equal(["expected [16, 2], got [2, 16]"], await Problem.AssertAsync(problem, HttpStatusCode.UnprocessableEntity, "0.weight"));
        Assert.Equal(["is missing"], await Problem.AssertAsync(problem, HttpStatusCode.UnprocessableEntity, "4.bias"));
        Assert.Equal(["is not a tensor of this model"], await Problem.AssertAsync(problem, HttpStatusCode.UnprocessableEntity, "7.weight"));

        var nan = tensors.Select(t => t.Name == "6.bias" ? t with { Data = [float.NaN, 0f, 0f] } : t).ToList();
        Assert.Equal(["contains NaN or infinity"],
            await Problem.AssertAsync(await ImportAsync(Spec(), SafeTensors.Write(nan)), HttpStatusCode.UnprocessableEntity, "6.bias"));

        var garbage = await Problem.AssertAsync(await ImportAsync(Spec(), [1, 2, 3]), HttpStatusCode.BadRequest, "weights");
        Assert.Contains("safetensors", garbage[0]);
        var huge = await Problem.AssertAsync(await ImportAsync(Spec(), new byte[2 * 1024 * 1024]), HttpStatusCode.RequestEntityTooLarge, "body");
        Assert.Contains("Storage:MaxUploadBytes", huge[0]);
        var badSpec = new { input = new[] { 2 }, layers = new object[] { new { type = "dense", units = 0 } }, loss = "mse" };
        await Problem.AssertAsync(await ImportAsync(badSpec, SafeTensors.Write(tensors)), HttpStatusCode.BadRequest, "spec.layers[0].units");

        // Files written before the state-dict names (layers.0.weight) still import.
        var legacy = await ImportAsync(Spec(), SafeTensors.Write([.. tensors.Select(t => t with { Name = "layers." + t.Name })]));
        Assert.Equal(HttpStatusCode.Created, legacy.StatusCode);
    }

    private async Task<HttpResponseMessage> ImportAsync(object spec, byte[] weights)
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("from-torch"), "name" },
            { new StringContent(JsonSerializer.Serialize(spec, ServiceClient.Json)), "spec" },
            { new ByteArrayContent(weights), "weights", "model.safetensors" },
        };
        return await _client.PostAsync("/models/import", form);
    }

    private async Task<double[]> PredictAsync(long jobId, float[][]? inputs = null)
    {
        var predict = await (await _client.PostAsJsonAsync($"/jobs/{jobId}/predict", new { inputs = inputs ?? Inputs })).ReadJsonAsync();
        return [.. predict.GetProperty("outputs").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => v.GetDouble()))];
    }

    private static void AssertClose(double[] served, double[] torch, int values = 0)
    {
        Assert.Equal(values > 0 ? values : Inputs.Length * 3, served.Length);
        Assert.Equal(served.Length, torch.Length);
        double maxDiff = served.Zip(torch, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDiff <= 1e-5, $"PyTorch and /predict differ by {maxDiff}: {string.Join(", ", served)} vs {string.Join(", ", torch)}");
    }

    /// <summary>Runs torch_check.py with a Python that imports torch; fails (never skips) with the install command when none does.</summary>
    private static async Task<double[]> RunTorchAsync(string mode, string weights, string inputs)
    {
        var folder = Path.Combine(Shared.Repository.Root, "tests", "torch-check");
        var python = await TorchPythonAsync(folder);
        var (exitCode, stdout, stderr) = await ExternalProcess.RunAsync(folder, TimeSpan.FromMinutes(3), null, python, "torch_check.py", mode, weights, inputs);
        Assert.True(exitCode == 0, $"torch_check.py {mode} exited with {exitCode}: {stderr}");
        return [.. JsonDocument.Parse(stdout).RootElement.EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => v.GetDouble()))];
    }

    /// <summary>Debian's /usr/bin/python3 first: the python3 on PATH may be another installation without torch.</summary>
    private static async Task<string> TorchPythonAsync(string folder)
    {
        foreach (var candidate in new[] { "/usr/bin/python3", "python3" })
        {
            try
            {
                if ((await ExternalProcess.RunAsync(folder, TimeSpan.FromMinutes(2), null, candidate, "-c", "import torch")).ExitCode == 0) return candidate;
            }
            catch (Win32Exception)
            {
                // Not installed under that name.
            }
        }
        Assert.Fail($"PyTorch is not installed for /usr/bin/python3: run `{InstallCommand}` (.ci/run does).");
        return "";
    }

    private sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("torch-").FullName;

        public string Write(string name, byte[] bytes)
        {
            var file = System.IO.Path.Combine(Path, name);
            File.WriteAllBytes(file, bytes);
            return file;
        }

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
