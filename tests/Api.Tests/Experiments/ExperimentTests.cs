using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Engine;
using Engine.Data;
using Engine.Specs;
using Engine.Tensors;
using Engine.Training;

namespace Api.Tests.Experiments;

public sealed class ExperimentTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task FourVariationsQueueFourJobsWithTheSameFirstEpochDataOrder()
    {
        var datasetId = await _client.CreateSyntheticAsync(size: 300);
        var response = await _client.PostAsJsonAsync("/experiments", new
        {
            name = "optimizers",
            baseJob = new
            {
                spec = ServiceClient.Mlp(hidden: 16), datasetId, epochs = 3, batchSize = 32, seed = 11, validationSplit = 0.2,
                optimizer = new { type = "adam", learningRate = 0.01 },
            },
            variations = new object[]
            {
                new { name = "sgd", optimizer = "sgd", learningRate = 0.1 },
                new { name = "momentum", optimizer = "momentum", learningRate = 0.1, init = "xavier_uniform", dropout = 0.2 },
                new { name = "adam" },
                new { name = "adam, decay 0", weightDecay = 0.0 }, // the same math as "adam"
            },
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var created = await response.ReadJsonAsync();
        long id = created.GetProperty("id").GetInt64();
        var jobIds = created.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("jobId").GetInt64()).ToList();
        Assert.Equal(4, jobIds.Count);

        var list = (await (await _client.GetAsync("/experiments")).ReadJsonAsync()).EnumerateArray().ToList();
        var listed = Assert.Single(list, e => e.GetProperty("id").GetInt64() == id);
        Assert.Equal("optimizers", listed.GetProperty("name").GetString());
        Assert.Equal(4, listed.GetProperty("jobCount").GetInt32());
        var listedIds = list.Select(e => e.GetProperty("id").GetInt64()).ToList();
        Assert.Equal(listedIds.OrderDescending(), listedIds);

        var orders = new List<int[]>();
        foreach (var jobId in jobIds)
        {
            var job = await _client.WaitForStatusAsync(jobId, TimeSpan.FromSeconds(60), "succeeded", "failed");
            Assert.Equal("succeeded", job.GetProperty("status").GetString());
            var options = job.GetProperty("options");
            Assert.Equal(11UL, options.GetProperty("seed").GetUInt64());
            // Replay the job in the engine on the same data and record the order its first epoch visits.
            var spec = JsonSerializer.Deserialize<ModelSpec>(job.GetProperty("spec").GetRawText(), ServiceClient.Json)!;
            var trainingOptions = JsonSerializer.Deserialize<TrainingOptions>(options.GetRawText(), ServiceClient.Json)!;
            var session = TrainingSession.Create(spec, trainingOptions, SyntheticData.Generate(SyntheticKind.Spirals, 300, 3, seed: 42, noise: 0.2f));
            session.RunEpoch();
            var order = session.EpochOrder.ToArray();
            orders.Add(order);
        }
        Assert.All(orders, o => Assert.Equal(orders[0], o));

        var summary = await (await _client.GetAsync($"/experiments/{id}")).ReadJsonAsync();
        var jobs = summary.GetProperty("jobs").EnumerateArray().ToList();
        Assert.Equal(["sgd", "momentum", "adam", "adam, decay 0"], jobs.Select(j => j.GetProperty("variation").GetString()));
        Assert.All(jobs, j =>
        {
            Assert.Equal(3, j.GetProperty("final").GetProperty("epoch").GetInt32());
            Assert.True(j.GetProperty("best").GetProperty("valLoss").GetSingle() <= j.GetProperty("final").GetProperty("valLoss").GetSingle());
            Assert.True(j.GetProperty("trainingSeconds").GetDouble() > 0);
        });
        // Same seed, same data order, same math: bit-identical curves end to end.
        static async Task<string[]> Curve(HttpClient client, long jobId) =>
            [.. (await (await client.GetAsync($"/jobs/{jobId}/metrics")).ReadJsonAsync()).EnumerateArray().Select(m =>
                $"{m.GetProperty("trainLoss")} {m.GetProperty("trainAccuracy")} {m.GetProperty("valLoss")} {m.GetProperty("valAccuracy")}")];
        Assert.Equal(await Curve(_client, jobIds[2]), await Curve(_client, jobIds[3]));
        Assert.NotEqual(jobs[0].GetProperty("final").GetProperty("trainLoss").GetSingle(), jobs[2].GetProperty("final").GetProperty("trainLoss").GetSingle());
    }

    [Fact]
    public async Task VariationsRewriteTheSpecAndBadOnesAreProblemJson()
    {
        var datasetId = await _client.CreateSyntheticAsync(size: 100);
        var baseJob = new { spec = ServiceClient.Mlp(hidden: 8, depth: 2), datasetId, epochs = 1 };
        var response = await _client.PostAsJsonAsync("/experiments", new
        {
            baseJob,
            variations = new object[] { new { name = "bn+dropout", batchNorm = true, dropout = 0.5, init = "normal", initStd = 0.01 } },
        });
        var created = await response.ReadJsonAsync();
        var job = await _client.GetJobAsync(created.GetProperty("jobs")[0].GetProperty("jobId").GetInt64());
        var types = job.GetProperty("spec").GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("type").GetString());
        Assert.Equal(["dense", "batchnorm", "relu", "dropout", "dense", "batchnorm", "relu", "dropout", "dense"], types);
        Assert.All(job.GetProperty("spec").GetProperty("layers").EnumerateArray().Where(l => l.GetProperty("type").GetString() == "dense"),
            l => Assert.Equal(0.01f, l.GetProperty("std").GetSingle()));

        await Problem.AssertAsync(await _client.PostAsJsonAsync("/experiments", new { baseJob, variations = Array.Empty<object>() }),
            HttpStatusCode.BadRequest, "variations");
        await Problem.AssertAsync(await _client.PostAsJsonAsync("/experiments", new { baseJob, variations = new[] { new { name = "a" }, new { name = "a" } } }),
            HttpStatusCode.BadRequest, "variations[1].name");
        await Problem.AssertAsync(await _client.PostAsJsonAsync("/experiments", new { baseJob, variations = new object[] { new { name = "x", dropout = 1.5 } } }),
            HttpStatusCode.BadRequest, "variations[0].spec.layers[2].rate");
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync("/experiments/9999")).StatusCode);
    }

    [Fact]
    public async Task VariationsSetTheFiltersAndKernelOfEveryConvLayer()
    {
        var (pixels, labels) = ImageData.Stripes(32, 8, seed: 6);
        var datasetId = (await _client.UploadIdxAsync(pixels, labels, 8, 8)).GetProperty("id").GetInt64();
        var spec = new
        {
            input = new[] { 1, 8, 8 },
            layers = new object[]
            {
                new { type = "conv2d", filters = 4, kernel = 3, padding = "same" }, new { type = "relu" }, new { type = "maxpool2d", size = 2 },
                new { type = "conv2d", filters = 4, kernel = 3 }, new { type = "relu" }, new { type = "flatten" }, new { type = "dense", units = 2 },
            },
            loss = "softmax_cross_entropy",
        };
        var baseJob = new { spec, datasetId, epochs = 1, batchSize = 16 };
        var created = await (await _client.PostAsJsonAsync("/experiments", new
        {
            baseJob,
            variations = new object[] { new { name = "8 filters 1x1", filters = 8, kernel = 1 }, new { name = "bn", batchNorm = true } },
        })).ReadJsonAsync();
        var wide = await _client.GetJobAsync(created.GetProperty("jobs")[0].GetProperty("jobId").GetInt64());
        var convs = wide.GetProperty("spec").GetProperty("layers").EnumerateArray().Where(l => l.GetProperty("type").GetString() == "conv2d").ToArray();
        Assert.Equal([(8, 1), (8, 1)], convs.Select(c => (c.GetProperty("filters").GetInt32(), c.GetProperty("kernel").GetInt32())));
        var bn = await _client.GetJobAsync(created.GetProperty("jobs")[1].GetProperty("jobId").GetInt64());
        Assert.Equal(["conv2d", "batchnorm", "relu", "maxpool2d", "conv2d", "batchnorm", "relu", "flatten", "dense"],
            bn.GetProperty("spec").GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("type").GetString()));

        // A kernel larger than the pooled 4x4 image (unpadded in the second conv) cannot fit: 400 keyed by the variation's layer.
        var messages = await Problem.AssertAsync(await _client.PostAsJsonAsync("/experiments", new { baseJob, variations = new object[] { new { name = "k5", kernel = 5 } } }),
            HttpStatusCode.BadRequest, "variations[0].spec.layers[3].kernel");
        Assert.Contains("kernel 5 is larger", messages[0]);
    }
}
