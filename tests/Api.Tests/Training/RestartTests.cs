using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Storage;
using Storage.Entities;

namespace Api.Tests.Training;

public sealed class RestartTests : IDisposable
{
    private readonly ServiceFactory _first = new();

    [Fact]
    public async Task JobLeftRunningAtShutdownResumesAtTheNextStart()
    {
        const int epochs = 30;
        var client = _first.CreateClient();
        var jobId = await client.StartSlowJobAsync(epochs);
        await client.WaitForEpochAsync(jobId, 3, TimeSpan.FromSeconds(60));

        // Stop the host the way a deploy does: the worker is interrupted and the job stays Running.
        await _first.Host().StopAsync();
        var stoppedAt = DateTime.UtcNow;
        // Its own context: the stopped host may already have disposed its services.
        await using (var db = _first.OpenDatabase())
        {
            var job = await db.Jobs.AsNoTracking().SingleAsync(j => j.Id == jobId);
            Assert.Equal(JobStatus.Running, job.Status);
            Assert.True(job.CurrentEpoch < epochs);
        }

        using var second = ServiceFactory.Reopen(_first.DataDirectory);
        var restarted = second.CreateClient();
        var done = await restarted.WaitForStatusAsync(jobId, TimeSpan.FromSeconds(120), "succeeded", "failed");
        Assert.Equal("succeeded", done.GetProperty("status").GetString());
        Assert.Equal(2, done.GetProperty("attempts").GetInt32());
        Assert.Equal(Enumerable.Range(1, epochs), await restarted.MetricEpochsAsync(jobId));
        // Continued from a checkpoint rather than from scratch: the first epochs are the ones stored before the stop.
        await using (var db = await second.Services.GetRequiredService<IDbContextFactory<TrainingDbContext>>().CreateDbContextAsync())
        {
            var first = await db.EpochMetrics.AsNoTracking().SingleAsync(m => m.JobId == jobId && m.Epoch == 1);
            Assert.True(first.CreatedAt < stoppedAt);
        }
    }

    [Fact]
    public async Task JobMarkedRunningInTheDatabaseIsPickedUpAtStartup()
    {
        // A crash can leave a Running row that the scheduler knows nothing about; start-up recovery re-queues it.
        var client = _first.CreateClient();
        var datasetId = await client.CreateSyntheticAsync("xor", size: 64, classes: 2);
        var modelId = await client.CreateModelAsync(ServiceClient.Mlp(outputs: 2));
        var template = await client.CreateJobAsync(modelId, datasetId, epochs: 3);
        await client.WaitForStatusAsync(template, TimeSpan.FromSeconds(60), "succeeded");
        await _first.Host().StopAsync();

        long orphan;
        await using (var db = _first.OpenDatabase())
        {
            var copy = await db.Jobs.AsNoTracking().SingleAsync(j => j.Id == template);
            copy.Id = 0;
            copy.Status = JobStatus.Running;
            copy.CurrentEpoch = 0;
            copy.Attempts = 1;
            copy.FinishedAt = null;
            db.Jobs.Add(copy);
            await db.SaveChangesAsync();
            orphan = copy.Id;
        }

        using var second = ServiceFactory.Reopen(_first.DataDirectory);
        var done = await second.CreateClient().WaitForStatusAsync(orphan, TimeSpan.FromSeconds(60), "succeeded", "failed");
        Assert.Equal("succeeded", done.GetProperty("status").GetString());
        var recorded = await second.CreateClient().MetricEpochsAsync(orphan);
        Assert.Equal(new[] { 1, 2, 3 }, recorded);
    }

    public void Dispose() => _first.Dispose();
}
