using System.Net.Http.Json;
using TrainingService.Client;
using TrainingService.Contracts;
using Xunit.Abstractions;

namespace Reliability.Tests;

/// <summary>
/// Fair share between owners on the real process, with one training slot and a one-second time slice: a long job yields
/// to another owner's waiting job, is queued again and continues exactly where it stopped; one owner's jobs run first in,
/// first out without yielding. Ordering is asserted from what the service recorded, never from wall-clock durations.
/// </summary>
public sealed class FairShareTests(ITestOutputHelper output)
{
    private const int SliceSeconds = 1;
    private const int LongEpochs = 60;

    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Training:TimeSliceSeconds"] = SliceSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Training:Concurrency"] = "1",
    };

    [Fact]
    public async Task AnotherOwnersJobRunsWhileALongJobYieldsAndTheLongJobEndsBitIdentical()
    {
        using var folder = new DataFolder();
        await using var service = await ServiceProcess.StartAsync(folder.Path, Settings);
        using var ownerA = await OwnerClientAsync(service, "owner-a");
        using var ownerB = await OwnerClientAsync(service, "owner-b");

        long a = await ownerA.SubmitStandardJobAsync(epochs: LongEpochs);
        var statuses = WatchStatusesAsync(ownerA, a);
        await ownerA.WaitForEpochAsync(a, 1, TimeSpan.FromMinutes(2));
        long b = await ownerB.SubmitStandardJobAsync(epochs: 2);

        var jobB = await ownerB.WaitForStatusAsync(b, TimeSpan.FromMinutes(5), "succeeded", "failed", "cancelled");
        var jobA = await ownerA.WaitForStatusAsync(a, TimeSpan.FromMinutes(5), "succeeded", "failed", "cancelled");
        output.WriteLine($"A: {jobA}\nB: {jobB}");
        Assert.True(jobA.Status() == "succeeded" && jobB.Status() == "succeeded", service.Log);

        // B ran while A still had epochs to train, and A made way for it at least once.
        Assert.True(Time(jobB, "finishedAt") < Time(jobA, "finishedAt"), $"B finished after A\nA: {jobA}\nB: {jobB}");
        Assert.True(jobA.GetProperty("yields").GetInt32() >= 1, $"A never yielded\n{service.Log}");
        Assert.Contains($"Job {a} yielded its slot", service.Log, StringComparison.Ordinal);
        // Watchers saw A paused (queued again) and resumed before it succeeded.
        var seen = await statuses;
        output.WriteLine(string.Join(" ", seen));
        int paused = seen.IndexOf(JobStatus.Queued, seen.IndexOf(JobStatus.Running));
        Assert.True(paused > 0 && seen.IndexOf(JobStatus.Running, paused) > paused, string.Join(" ", seen));
        Assert.Equal(JobStatus.Succeeded, seen[^1]);

        // Every epoch once, and the weights of the same job trained by A alone, never interrupted.
        Assert.Equal(Enumerable.Range(1, LongEpochs), await ownerA.MetricEpochsAsync(a));
        long alone = await ownerA.SubmitStandardJobAsync(epochs: LongEpochs);
        var jobAlone = await ownerA.WaitForStatusAsync(alone, TimeSpan.FromMinutes(5), "succeeded", "failed", "cancelled");
        Assert.Equal("succeeded", jobAlone.Status());
        Assert.Equal(0, jobAlone.GetProperty("yields").GetInt32());
        Assert.Equal(1, jobAlone.GetProperty("attempts").GetInt32());
        Assert.Equal(Api.TensorData(await ownerA.WeightsAsync(alone)), Api.TensorData(await ownerA.WeightsAsync(a)));
        await service.StopAsync();
    }

    [Fact]
    public async Task OneOwnersJobsRunFirstInFirstOutWithoutYielding()
    {
        using var folder = new DataFolder();
        await using var service = await ServiceProcess.StartAsync(folder.Path, Settings);
        using var owner = await OwnerClientAsync(service, "owner-a");

        long first = await owner.SubmitStandardJobAsync(epochs: 40);
        long second = await owner.SubmitStandardJobAsync(epochs: 2);
        var jobSecond = await owner.WaitForStatusAsync(second, TimeSpan.FromMinutes(5), "succeeded", "failed", "cancelled");
        var jobFirst = await owner.WaitForStatusAsync(first, TimeSpan.FromMinutes(5), "succeeded", "failed", "cancelled");
        output.WriteLine($"first: {jobFirst}\nsecond: {jobSecond}");
        Assert.True(jobFirst.Status() == "succeeded" && jobSecond.Status() == "succeeded", service.Log);

        // The first job trained longer than a slice with the second waiting, so it would have yielded to another owner's.
        using var api = owner.Typed();
        double trained = (await api.GetMetricsAsync(first)).Sum(m => m.Seconds);
        Assert.True(trained > SliceSeconds, $"the first job trained only {trained:0.00} s: the test shows nothing");
        Assert.Equal(0, jobFirst.GetProperty("yields").GetInt32());
        Assert.Equal(1, jobFirst.GetProperty("attempts").GetInt32());
        Assert.Equal(0, jobSecond.GetProperty("yields").GetInt32());
        Assert.True(Time(jobSecond, "startedAt") >= Time(jobFirst, "finishedAt"), $"not first in, first out\n{jobFirst}\n{jobSecond}");
        Assert.DoesNotContain("yielded its slot", service.Log, StringComparison.Ordinal);
        await service.StopAsync();
    }

    /// <summary>An HTTP client with a new owner's key, created with the admin key.</summary>
    private static async Task<HttpClient> OwnerClientAsync(ServiceProcess service, string owner)
    {
        var created = await (await service.Client.PostAsJsonAsync("/keys", new { owner, admin = false })).ReadJsonAsync();
        var client = new HttpClient { BaseAddress = service.Address };
        client.DefaultRequestHeaders.Add(TrainingServiceClient.ApiKeyHeader, created.GetProperty("key").GetString());
        return client;
    }

    /// <summary>The job's status changes as a hub watcher receives them, until its final status.</summary>
    private static async Task<List<JobStatus>> WatchStatusesAsync(HttpClient client, long id)
    {
        using var api = client.Typed();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        var seen = new List<JobStatus>();
        await foreach (var e in api.WatchAsync(id, timeout.Token))
            if (e is JobStatusChangedEvent s) seen.Add(s.Status);
        return seen;
    }

    private static DateTime Time(System.Text.Json.JsonElement job, string property) => job.GetProperty(property).GetDateTime();
}
