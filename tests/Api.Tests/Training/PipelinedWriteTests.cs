using Api.Training;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Storage.Entities;

namespace Api.Tests.Training;

/// <summary>
/// An epoch is stored while the next one trains. These tests hold an epoch's write back (by holding the job's
/// event lock, which every write takes) while the next epoch trains, and change the job meanwhile.
/// </summary>
public sealed class PipelinedWriteTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task JobCancelledBehindTheWorkersBackStoresNothingMoreAndStops()
    {
        // A checkpoint every epoch, so the held write has a state file to take back.
        var jobId = await _client.StartSlowJobAsync(epochs: 60, checkpointEvery: 1);
        await _client.WaitForEpochAsync(jobId, 2, Patience);

        var (running, stored) = await WithWriteHeldAsync(jobId, async db =>
        {
            // As another process (or a cancel this worker's registry never hears of) would: only the write can notice.
            await db.Jobs.Where(j => j.Id == jobId).ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, JobStatus.Cancelled));
        });
        await WaitUntilStoppedAsync(jobId);

        // The held epoch's write found the job cancelled: nothing after `stored`, and the epoch trained
        // meanwhile was the last one started.
        Assert.Equal(Enumerable.Range(1, stored), await _client.MetricEpochsAsync(jobId));
        await using var check = factory.OpenDatabase();
        Assert.Equal(0, await check.LayerStats.CountAsync(s => s.JobId == jobId && s.Epoch > stored));
        Assert.Equal(0, await check.Checkpoints.CountAsync(c => c.JobId == jobId && c.Epoch > stored));
        // The held write had put its state on disk before it found the job cancelled; that file went again.
        var rows = await check.Checkpoints.Where(c => c.JobId == jobId).Select(c => c.FileName).ToArrayAsync();
        Assert.Equal(rows.Order(StringComparer.Ordinal), factory.CheckpointFiles(jobId));
        Assert.Equal(JobStatus.Cancelled, (await check.Jobs.SingleAsync(j => j.Id == jobId)).Status);
        Assert.Equal(stored + 2, running.Progress?.Epoch);
    }

    [Fact]
    public async Task CancelWhileAnEpochWaitsToBeStoredStoresNothingAfterCancelled()
    {
        var jobId = await _client.StartSlowJobAsync(epochs: 60);
        await _client.WaitForEpochAsync(jobId, 2, Patience);

        Task<HttpResponseMessage>? cancel = null;
        await WithWriteHeldAsync(jobId, _ =>
        {
            // The cancel queues behind the held write (it takes the same lock); either may commit first.
            cancel = _client.PostAsync($"/jobs/{jobId}/cancel", null);
            return Task.CompletedTask;
        });
        var cancelled = await (await cancel!).ReadJsonAsync();
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        int epochAtCancel = cancelled.GetProperty("epoch").GetInt32();
        await WaitUntilStoppedAsync(jobId);

        Assert.Equal(Enumerable.Range(1, epochAtCancel), await _client.MetricEpochsAsync(jobId));
        await using var check = factory.OpenDatabase();
        Assert.Equal(0, await check.LayerStats.CountAsync(s => s.JobId == jobId && s.Epoch > epochAtCancel));
        Assert.Equal(JobStatus.Cancelled, (await check.Jobs.SingleAsync(j => j.Id == jobId)).Status);
    }

    /// <summary>
    /// Holds the job's event lock until the epoch after the next stored one trains (so that one's write is
    /// waiting), runs <paramref name="meanwhile"/>, then lets go. Returns the job's registry entry and the
    /// epochs stored when the lock was taken.
    /// </summary>
    private async Task<(RunningJob Running, int Stored)> WithWriteHeldAsync(long jobId, Func<global::Storage.TrainingDbContext, Task> meanwhile)
    {
        var events = factory.Services.GetRequiredService<JobEvents>();
        var registry = factory.Services.GetRequiredService<TrainingRegistry>();
        var held = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var holder = events.ExclusiveAsync(jobId, async () =>
        {
            held.SetResult();
            await release.Task;
        });
        await held.Task;
        try
        {
            await using var db = factory.OpenDatabase();
            int stored = (await db.Jobs.AsNoTracking().SingleAsync(j => j.Id == jobId)).CurrentEpoch;
            Assert.True(registry.TryGet(jobId, out var running), "the job is not training");
            var deadline = DateTime.UtcNow + Patience;
            while (running.Progress is not { } p || p.Epoch < stored + 2)
            {
                if (DateTime.UtcNow > deadline) Assert.Fail($"epoch {stored + 2} did not start while epoch {stored + 1} waited to be stored");
                await Task.Delay(10);
            }
            await meanwhile(db);
            return (running, stored);
        }
        finally
        {
            release.SetResult();
            await holder;
        }
    }

    private async Task WaitUntilStoppedAsync(long jobId)
    {
        var registry = factory.Services.GetRequiredService<TrainingRegistry>();
        var deadline = DateTime.UtcNow + Patience;
        while (registry.IsRunning(jobId))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"job {jobId} still trains");
            await Task.Delay(20);
        }
    }
}
