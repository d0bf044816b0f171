using System.Net;

namespace Api.Tests.Jobs;

public sealed class CancelResumeTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task CancelledJobStopsWithinOneEpoch()
    {
        var jobId = await _client.StartSlowJobAsync(epochs: 60);
        await _client.WaitForEpochAsync(jobId, 3, TimeSpan.FromSeconds(60));
        await Problem.AssertAsync(await _client.DeleteAsync($"/jobs/{jobId}"), HttpStatusCode.Conflict, "status");

        var cancel = await _client.PostAsync($"/jobs/{jobId}/cancel", null);
        var cancelled = await cancel.ReadJsonAsync();
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        int epochAtCancel = cancelled.GetProperty("epoch").GetInt32();

        // The engine checks the token after every batch: at most the epoch in flight may still be recorded.
        await Task.Delay(1500);
        var job = await _client.GetJobAsync(jobId);
        Assert.Equal("cancelled", job.GetProperty("status").GetString());
        var epochs = await _client.MetricEpochsAsync(jobId);
        Assert.True(epochs.Length <= epochAtCancel + 1, $"{epochs.Length} epochs recorded after cancelling at {epochAtCancel}");
        Assert.True(epochs.Length < 60);
        Assert.Equal(Enumerable.Range(1, epochs.Length), epochs);
    }

    [Fact]
    public async Task ResumedJobContinuesFromItsLastCheckpointToSucceeded()
    {
        const int epochs = 30;
        var jobId = await _client.StartSlowJobAsync(epochs);
        await _client.WaitForEpochAsync(jobId, 3, TimeSpan.FromSeconds(60));
        await _client.PostAsync($"/jobs/{jobId}/cancel", null);
        await Task.Delay(300);
        var checkpoints = (await (await _client.GetAsync($"/jobs/{jobId}/checkpoints")).ReadJsonAsync()).EnumerateArray()
            .Select(c => c.GetProperty("epoch").GetInt32()).ToList();
        Assert.NotEmpty(checkpoints);
        Assert.True(checkpoints.Max() < epochs);

        var resume = await _client.PostAsync($"/jobs/{jobId}/resume", null);
        Assert.Equal(HttpStatusCode.Accepted, resume.StatusCode);
        var job = await _client.WaitForStatusAsync(jobId, TimeSpan.FromSeconds(120), "succeeded", "failed");
        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        Assert.Equal(2, job.GetProperty("attempts").GetInt32());
        Assert.Equal(Enumerable.Range(1, epochs), await _client.MetricEpochsAsync(jobId));
    }

    [Fact]
    public async Task QueuedJobCanBeCancelledBeforeItStarts()
    {
        // Concurrency is 1: the second job waits behind the first.
        var first = await _client.StartSlowJobAsync(epochs: 30);
        var second = await _client.StartSlowJobAsync(epochs: 30);
        Assert.Equal("queued", (await _client.GetJobAsync(second)).GetProperty("status").GetString());
        var cancelled = await (await _client.PostAsync($"/jobs/{second}/cancel", null)).ReadJsonAsync();
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        await _client.PostAsync($"/jobs/{first}/cancel", null);
        await Task.Delay(300);
        Assert.Empty(await _client.MetricEpochsAsync(second));
        Assert.Equal(0, (await _client.GetJobAsync(second)).GetProperty("attempts").GetInt32());
    }
}
