using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Client.Tests;

/// <summary>What a user does from C#, through <see cref="TrainingServiceClient"/> against the real service on a loopback port.</summary>
public sealed class FlowTests(RunningService service) : IClassFixture<RunningService>
{
    private TrainingServiceClient Client => service.Client;

    [Fact]
    public async Task UploadTrainWatchDownloadAndPredictFromCSharp()
    {
        // Upload: once from a file, once from a stream; both are the same table.
        using var folder = new DataFolder();
        var csvPath = Path.Combine(folder.Path, "sums.csv");
        await File.WriteAllTextAsync(csvPath, Flow.Csv(400));
        var upload = DatasetUpload.Csv("sums", csvPath);
        upload.LabelColumn = "label";
        upload.HasHeader = true;
        upload.Normalization = NormalizationKind.Standardize;
        var fromFile = await Client.UploadDatasetAsync(upload);
        Assert.Equal(NormalizationKind.Standardize, fromFile.Normalization);
        Assert.Equal("label", fromFile.Source?.LabelColumn);
        using var table = new MemoryStream(Encoding.UTF8.GetBytes(Flow.Csv(400)));
        var fromStream = await Client.UploadDatasetAsync(DatasetUpload.Csv("sums-stream", table));
        foreach (var data in new[] { fromFile, fromStream })
        {
            Assert.Equal(400, data.SampleCount);
            Assert.Equal([2], data.Shape);
            Assert.Equal(2, data.Classes);
        }
        Assert.Contains(await Client.ListDatasetsAsync(), d => d.Id == fromStream.Id);
        Assert.Equal(fromFile.Name, (await Client.GetDatasetAsync(fromFile.Id)).Name);

        // Model: the dry run reports what creating it stores.
        var spec = Flow.Mlp();
        var report = await Client.ValidateModelAsync(spec, batchSize: 32);
        var model = await Client.CreateModelAsync("sums-mlp", spec);
        Assert.Equal(2 * 16 + 16 + 16 * 2 + 2, model.ParameterCount);
        Assert.True(report.Valid);
        Assert.Equal(model.ParameterCount, report.TotalParameters);
        Assert.Contains(await Client.ListModelsAsync(), m => m.Id == model.Id);

        // Train and watch: every epoch once and in order, then the final status, which ends the stream.
        const int epochs = 8;
        var job = await Client.SubmitJobAsync(new CreateJobRequest(
            ModelId: model.Id, DatasetId: fromFile.Id, ValidationSplit: 0.25f, Epochs: epochs, BatchSize: 32, Seed: 5,
            Optimizer: new OptimizerSpec(OptimizerKind.Adam, 0.02f)));
        Assert.Equal(JobStatus.Queued, job.Status);
        var events = await Client.CollectAsync(job.Id);
        Assert.Equal(Enumerable.Range(1, epochs), events.Epochs());
        Assert.Equal(JobStatus.Succeeded, events.FinalStatus().Status);
        Assert.All(events, e => Assert.Equal(job.Id, e.JobId));
        Assert.All(events.OfType<EpochCompletedEvent>(), e => Assert.NotNull(e.ValLoss));

        var done = await Client.GetJobAsync(job.Id);
        Assert.Equal(JobStatus.Succeeded, done.Status);
        Assert.Equal(epochs, done.Epoch);
        Assert.Equal(Enumerable.Range(1, epochs), (await Client.GetMetricsAsync(job.Id)).Select(m => m.Epoch));
        Assert.NotEmpty(await Client.GetCheckpointsAsync(job.Id));
        var succeeded = await Client.ListJobsAsync(JobStatus.Succeeded, pageSize: 100);
        Assert.Contains(succeeded.Items, j => j.Id == job.Id);
        Assert.All(succeeded.Items, j => Assert.Equal(JobStatus.Succeeded, j.Status));

        // Weights in each format, to a stream and to a file: the same bytes, each a well-formed file of its kind.
        foreach (var format in Enum.GetValues<WeightsFormat>())
        {
            using var stream = new MemoryStream();
            await Client.DownloadWeightsAsync(job.Id, stream, format);
            var file = Path.Combine(folder.Path, $"weights.{format}");
            await Client.DownloadWeightsAsync(job.Id, file, format, checkpoint: "best");
            var bytes = stream.ToArray();
            Assert.Equal(await Client.GetWeightsAsync(job.Id, format), bytes);
            Assert.True(new FileInfo(file).Length > 0);
            switch (format)
            {
                case WeightsFormat.SafeTensors:
                    var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
                    using (var header = JsonDocument.Parse(bytes.AsMemory(8, headerLength)))
                        Assert.Contains(header.RootElement.EnumerateObject(), p => p.Name != "__metadata__");
                    break;
                case WeightsFormat.Json:
                    using (JsonDocument.Parse(bytes)) { }
                    break;
                case WeightsFormat.Onnx:
                    // ModelProto's first field is ir_version (field 1, varint): tag byte 0x08.
                    Assert.Equal(0x08, bytes[0]);
                    break;
            }
        }

        // Predict on raw rows: one output row and class per input.
        var prediction = await Client.PredictAsync(job.Id, [[0.9f, 0.8f], [-0.7f, -0.9f], [0.5f, -0.1f]]);
        Assert.Equal(epochs, prediction.Epoch);
        Assert.Equal(3, prediction.Outputs.Length);
        Assert.All(prediction.Outputs, row => Assert.Equal(2, row.Length));
        Assert.Equal(3, prediction.Argmax!.Length);
    }

    [Fact]
    public async Task GradientChecksOfAStoredModelAndOfAnInlineSpecPass()
    {
        var data = await Client.CreateSyntheticDatasetAsync(new CreateSyntheticDatasetRequest(Kind: SyntheticKind.Spirals, Size: 200));
        var model = await Client.CreateModelAsync("checked", Flow.Mlp(hidden: 8, outputs: 3));
        var stored = await Client.GradientCheckModelAsync(model.Id, new GradientCheckRequest(data.Id, BatchSize: 8, Seed: 1));
        var inline = await Client.GradientCheckSpecAsync(new InlineGradientCheckRequest(Flow.Mlp(hidden: 8, outputs: 3), data.Id, BatchSize: 8, Seed: 1));
        foreach (var check in new[] { stored, inline })
        {
            Assert.True(check.Passed, string.Join("; ", check.Results.Select(r => $"{r.Layer}.{r.Parameter}: {r.MaxRelError}")));
            Assert.NotEmpty(check.Results);
        }
    }

    [Fact]
    public async Task AnExperimentRunsOneJobPerVariationAndIsListed()
    {
        var data = await Client.CreateSyntheticDatasetAsync(new CreateSyntheticDatasetRequest(Kind: SyntheticKind.Moons, Size: 300));
        var model = await Client.CreateModelAsync("compared", Flow.Mlp());
        var experiment = await Client.CreateExperimentAsync(new CreateExperimentRequest("learning rates",
            new CreateJobRequest(ModelId: model.Id, DatasetId: data.Id, ValidationSplit: 0.2f, Epochs: 3, BatchSize: 32),
            [new ExperimentVariation("fast", LearningRate: 0.05f), new ExperimentVariation("slow", Optimizer: OptimizerKind.Sgd, LearningRate: 0.01f)]));
        Assert.Equal(["fast", "slow"], experiment.Jobs.Select(j => j.Variation));

        foreach (var job in experiment.Jobs) Assert.Equal(JobStatus.Succeeded, (await Client.WaitForJobAsync(job.JobId)).Status);
        var finished = await Client.GetExperimentAsync(experiment.Id);
        Assert.All(finished.Jobs, j =>
        {
            Assert.Equal(JobStatus.Succeeded, j.Status);
            Assert.Equal(3, j.Final!.Epoch);
        });
        Assert.Contains(await Client.ListExperimentsAsync(), e => e.Id == experiment.Id && e.JobCount == 2);
    }

    [Fact]
    public async Task ACancelledJobResumesWhereItStoppedAndItsWatchesSeeEachEpochOnce()
    {
        var data = await Client.CreateSyntheticDatasetAsync(new CreateSyntheticDatasetRequest(Kind: SyntheticKind.Spirals, Size: 3000));
        // Far more epochs than the test lets run: it cancels as soon as it has seen some.
        var job = await Client.SubmitJobAsync(new CreateJobRequest(Spec: Flow.Mlp(hidden: 64, outputs: 3, depth: 2), DatasetId: data.Id,
            Epochs: 500, BatchSize: 16, CheckpointEvery: 1));

        var first = await WatchThenCancelAsync(job.Id, afterEpoch: 2);
        int stoppedAt = first.Epochs()[^1];
        Assert.Equal(Enumerable.Range(1, stoppedAt), first.Epochs());
        Assert.Equal(JobStatus.Cancelled, first.FinalStatus().Status);
        Assert.Contains((await Client.ListJobsAsync(JobStatus.Cancelled)).Items, j => j.Id == job.Id);

        var resumed = await Client.ResumeJobAsync(job.Id);
        Assert.Equal(JobStatus.Queued, resumed.Status);
        // The second watch replays the stored epochs, then trains on from the checkpoint.
        var second = await WatchThenCancelAsync(job.Id, afterEpoch: stoppedAt + 2);
        int stoppedAgain = second.Epochs()[^1];
        Assert.Equal(Enumerable.Range(1, stoppedAgain), second.Epochs());
        Assert.True(stoppedAgain >= stoppedAt + 2);
        Assert.Equal(JobStatus.Cancelled, second.FinalStatus().Status);
        Assert.Equal(Enumerable.Range(1, stoppedAgain), (await Client.GetMetricsAsync(job.Id)).Select(m => m.Epoch));

        await Client.DeleteJobAsync(job.Id);
        var missing = await Assert.ThrowsAsync<TrainingServiceException>(() => Client.GetJobAsync(job.Id));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.Status);
    }

    /// <summary>Watches until <paramref name="afterEpoch"/> has been seen, cancels, and keeps watching to the end.</summary>
    private async Task<List<IJobEvent>> WatchThenCancelAsync(long jobId, int afterEpoch)
    {
        var events = new List<IJobEvent>();
        bool cancelled = false;
        await foreach (var e in Client.WatchAsync(jobId))
        {
            events.Add(e);
            if (!cancelled && e is EpochCompletedEvent { Epoch: var epoch } && epoch >= afterEpoch)
            {
                cancelled = true;
                Assert.Equal(jobId, (await Client.CancelJobAsync(jobId)).Id);
            }
        }
        Assert.True(cancelled, $"the watch ended before epoch {afterEpoch}: {string.Join(", ", events)}");
        return events;
    }
}
