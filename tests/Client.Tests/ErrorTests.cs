using System.Net;
using System.Text;

namespace Client.Tests;

/// <summary>The service's problem+json answers as <see cref="TrainingServiceException"/>s.</summary>
public sealed class ErrorTests(RunningService service) : IClassFixture<RunningService>
{
    private TrainingServiceClient Client => service.Client;

    [Fact]
    public async Task ABadJobRequestThrowsWithStatusAndTheErrorsByField()
    {
        var data = await Client.CreateSyntheticDatasetAsync(new CreateSyntheticDatasetRequest(Kind: SyntheticKind.Xor, Size: 100));
        var e = await Assert.ThrowsAsync<TrainingServiceException>(() =>
            Client.SubmitJobAsync(new CreateJobRequest(Spec: Flow.Mlp(), DatasetId: data.Id, Epochs: 0)));
        Assert.Equal(HttpStatusCode.BadRequest, e.Status);
        Assert.Contains("epochs", e.Errors.Keys);
        Assert.All(e.Errors["epochs"], m => Assert.False(string.IsNullOrWhiteSpace(m)));
        Assert.NotNull(e.Title);
        Assert.Contains("epochs", e.Detail);
        Assert.Contains("POST", e.RequestUri);
    }

    [Fact]
    public async Task AnInvalidSpecNamesTheLayerAndItsField()
    {
        var spec = new ModelSpec([2], [new DenseSpec(8), new DropoutSpec(1.5f), new DenseSpec(0)], LossKind.SoftmaxCrossEntropy);
        var e = await Assert.ThrowsAsync<TrainingServiceException>(() => Client.ValidateModelAsync(spec));
        Assert.Equal(HttpStatusCode.BadRequest, e.Status);
        Assert.Contains(e.Errors.Keys, k => k.EndsWith("layers[1].rate", StringComparison.Ordinal));
        Assert.Contains(e.Errors.Keys, k => k.EndsWith("layers[2].units", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AMalformedUploadIsRefusedWithItsProblem()
    {
        using var table = new MemoryStream(Encoding.UTF8.GetBytes("x1,x2,label\n1,2\n"));
        var e = await Assert.ThrowsAsync<TrainingServiceException>(() => Client.UploadDatasetAsync(DatasetUpload.Csv("ragged", table)));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, e.Status);
        Assert.NotEmpty(e.Errors);
    }

    [Fact]
    public async Task AMissingJobIsNotFoundForReadsAndForWatching()
    {
        var read = await Assert.ThrowsAsync<TrainingServiceException>(() => Client.GetJobAsync(987654));
        Assert.Equal(HttpStatusCode.NotFound, read.Status);
        var watch = await Assert.ThrowsAsync<TrainingServiceException>(() => Client.CollectAsync(987654));
        Assert.Equal(HttpStatusCode.NotFound, watch.Status);
    }

    [Fact]
    public async Task AWrongKeyIsUnauthorized()
    {
        await using var stranger = service.Process.CreateClient(apiKey: "not-a-key");
        var e = await Assert.ThrowsAsync<TrainingServiceException>(() => stranger.ListJobsAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, e.Status);
    }
}
