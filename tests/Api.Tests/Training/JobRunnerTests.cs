using Api.Training;
using Hangfire;
using HangfireJob = Hangfire.Common.Job;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Storage.Entities;

namespace Api.Tests.Training;

/// <summary>Two trainings at once, so a second run of one job has a free worker to race the first.</summary>
public sealed class TwoWorkersFactory : ServiceFactory
{
    protected override IEnumerable<(string Key, string Value)> Settings => [("Training:Concurrency", "2")];
}

/// <summary>
/// How Hangfire runs the training jobs, on the real host with its real Hangfire server: Training:Concurrency trainings at
/// once, one trainer per job whatever runs Hangfire starts, and no retry by Hangfire.
/// </summary>
public sealed class JobRunnerTests(TwoWorkersFactory factory) : IClassFixture<TwoWorkersFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task ConcurrencyTwoTrainsTwoJobsAtOnceAndTheThirdAfterOneOfThemEnds()
    {
        long[] ids = [await _client.StartSlowJobAsync(epochs: 20), await _client.StartSlowJobAsync(epochs: 20),
            await _client.StartSlowJobAsync(epochs: 20)];
        var jobs = new List<Job>();
        foreach (var id in ids) Assert.Equal("succeeded", (await _client.WaitForStatusAsync(id, TimeSpan.FromMinutes(3), "succeeded", "failed")).GetProperty("status").GetString());
        await using (var db = factory.OpenDatabase())
            jobs = await db.Jobs.AsNoTracking().Where(j => ids.Contains(j.Id)).OrderBy(j => j.Id).ToListAsync();

        // From the times the service recorded: the first two overlapped, and the third started only once one had finished.
        Assert.True(jobs[1].StartedAt < jobs[0].FinishedAt && jobs[0].StartedAt < jobs[1].FinishedAt, Times(jobs));
        Assert.True(jobs[2].StartedAt >= new[] { jobs[0].FinishedAt!.Value, jobs[1].FinishedAt!.Value }.Min(), Times(jobs));
    }

    [Fact]
    public async Task ASecondRunOfATrainingJobWaitsAndTrainsNothing()
    {
        const int epochs = 20;
        var id = await _client.StartSlowJobAsync(epochs, checkpointEvery: 1);
        await _client.WaitForEpochAsync(id, 2, TimeSpan.FromMinutes(1));
        // What an at-least-once runner may do: deliver the same job again while it trains, with a worker free to take it.
        factory.Services.GetRequiredService<TrainingQueue>().Enqueue(id);

        var job = await _client.WaitForStatusAsync(id, TimeSpan.FromMinutes(3), "succeeded", "failed");
        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        Assert.Equal(1, job.GetProperty("attempts").GetInt32());
        Assert.Equal(Enumerable.Range(1, epochs), await _client.MetricEpochsAsync(id));
    }

    [Fact]
    public async Task AJobWhoseLeaseAnotherNodeHoldsIsLeftToThatNode()
    {
        var busy = await _client.StartSlowJobAsync(epochs: 200);
        var busy2 = await _client.StartSlowJobAsync(epochs: 200);
        await _client.WaitForEpochAsync(busy, 1, TimeSpan.FromMinutes(1));
        await _client.WaitForEpochAsync(busy2, 1, TimeSpan.FromMinutes(1));
        // Both workers are busy: this job waits in Hangfire's queue while another node's live run holds its lease.
        var held = await _client.StartSlowJobAsync(epochs: 5);
        await using (var db = factory.OpenDatabase())
        {
            db.JobLeases.Add(new JobLease { JobId = held, NodeId = "another-node", RunId = "elsewhere", ExpiresAt = DateTime.UtcNow.AddHours(1) });
            await db.SaveChangesAsync();
        }
        var after = await _client.StartSlowJobAsync(epochs: 2);
        await _client.PostAsync($"/jobs/{busy}/cancel", null);
        // Hangfire's queue is first-in first-out: once the job queued after it runs, this one's run has come and gone.
        await _client.WaitForStatusAsync(after, TimeSpan.FromMinutes(1), "running", "succeeded");
        await _client.PostAsync($"/jobs/{busy2}/cancel", null);

        var job = await _client.GetJobAsync(held);
        Assert.Equal("queued", job.GetProperty("status").GetString());
        Assert.Equal(0, job.GetProperty("attempts").GetInt32());
        Assert.Empty(await _client.MetricEpochsAsync(held));
        await _client.PostAsync($"/jobs/{held}/cancel", null);
    }

    [Fact]
    public async Task AJobResumedRightAfterItsCancelTrainsToTheEnd()
    {
        const int epochs = 30;
        var id = await _client.StartSlowJobAsync(epochs, checkpointEvery: 1);
        await _client.WaitForEpochAsync(id, 2, TimeSpan.FromMinutes(1));
        // No wait between the two: the second run starts on the free worker while the first is still stopping.
        await (await _client.PostAsync($"/jobs/{id}/cancel", null)).ReadJsonAsync();
        await (await _client.PostAsync($"/jobs/{id}/resume", null)).ReadJsonAsync();

        var job = await _client.WaitForStatusAsync(id, TimeSpan.FromMinutes(3), "succeeded", "failed");
        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        Assert.Equal(2, job.GetProperty("attempts").GetInt32());
        Assert.Equal(Enumerable.Range(1, epochs), await _client.MetricEpochsAsync(id));
    }

    [Fact]
    public void HangfireNeverRetriesATrainingRun()
    {
        // The filters Hangfire itself resolves for the job (its global AutomaticRetry retries 10 times): the method's wins.
        _ = factory.Services;
        var job = HangfireJob.FromExpression<TrainingJob>(j => j.RunAsync(1, CancellationToken.None));
        var retries = Hangfire.Common.JobFilterProviders.Providers.GetFilters(job).Select(f => f.Instance).OfType<AutomaticRetryAttribute>().ToList();
        Assert.Equal(0, Assert.Single(retries).Attempts);
    }

    private static string Times(List<Job> jobs) => string.Join("; ", jobs.Select(j => $"job {j.Id} {j.StartedAt:O} - {j.FinishedAt:O}"));
}
