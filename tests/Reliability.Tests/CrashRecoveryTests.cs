using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Reliability.Tests;

/// <summary>
/// kill -9 of the real process during training, then a restart on the same folder. Quartz must re-fire the job
/// (it requested recovery) and the job must continue from its last checkpoint, recording every epoch once and
/// ending with exactly the weights of a run that was never interrupted.
/// </summary>
[Collection(ReferenceCollection.Name)]
public sealed partial class CrashRecoveryTests(ReferenceRun reference, ITestOutputHelper output)
{
    [Theory]
    // Right after an epoch (and its checkpoint) is recorded: the next epoch has just started.
    [InlineData(2, 0.0)]
    // A random moment inside the next epoch (a random fraction of the last epoch's duration).
    [InlineData(4, 1.0)]
    // As soon as the last epoch is recorded: while the job is being marked finished, or just after.
    [InlineData(Api.Epochs, 0.0)]
    public async Task KilledProcessResumesFromItsLastCheckpointAndEndsBitIdentical(int afterEpoch, double maxEpochFraction)
    {
        using var folder = new DataFolder();
        long id;
        int delay;
        await using (var first = await ServiceProcess.StartAsync(folder.Path))
        {
            id = await first.Client.SubmitStandardJobAfterWarmUpAsync();
            await first.Client.WaitForEpochAsync(id, afterEpoch, TimeSpan.FromMinutes(2));
            if (maxEpochFraction > 0)
            {
                double epochSeconds = (await first.Client.GetJobAsync(id)).GetProperty("latestMetrics").GetProperty("seconds").GetDouble();
                delay = (int)(Random.Shared.NextDouble() * maxEpochFraction * epochSeconds * 1000);
                await Task.Delay(delay);
            }
            else
            {
                delay = 0;
            }
            await first.KillAsync();
        }
        output.WriteLine($"killed {delay} ms after epoch {afterEpoch} was recorded");
        bool? requestsRecovery = FiredTriggerRequestsRecovery(folder.Path, id);
        // A kill mid-training leaves Quartz's fired-trigger row, flagged for recovery; it is what re-fires the job.
        if (afterEpoch < Api.Epochs) Assert.True(requestsRecovery, $"fired trigger of job {id}: {requestsRecovery?.ToString() ?? "none"}");

        await using var second = await ServiceProcess.StartAsync(folder.Path);
        var job = await second.Client.WaitForStatusAsync(id, TimeSpan.FromMinutes(3), "succeeded", "failed", "cancelled");
        Assert.True(job.Status() == "succeeded", $"killed {delay} ms after epoch {afterEpoch}: {job}\n{second.Log}");
        Assert.Equal(Enumerable.Range(1, Api.Epochs), await second.Client.MetricEpochsAsync(id));
        Assert.Equal(Api.TensorData(reference.Weights), Api.TensorData(await second.Client.WeightsAsync(id)));

        int attempts = job.GetProperty("attempts").GetInt32();
        var resumedFrom = ResumedFrom().Matches(second.Log).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        if (resumedFrom.Count == 0)
        {
            // Killed after it was marked Succeeded: nothing to recover, and it must not train again.
            Assert.Equal(Api.Epochs, afterEpoch);
            Assert.Equal(1, attempts);
        }
        else
        {
            // Trained exactly once more, from a checkpoint at or after the epoch seen before the kill (never from scratch).
            Assert.Equal(2, attempts);
            // Re-fired by Quartz's own recovery, not by the start-up fallback for jobs without a trigger.
            Assert.DoesNotContain("Re-queueing job", second.Log, StringComparison.Ordinal);
            Assert.Single(resumedFrom);
            Assert.InRange(resumedFrom[0], afterEpoch, Api.Epochs);
        }
        await second.StopAsync();
    }

    /// <summary>REQUESTS_RECOVERY of the job's row in QRTZ_FIRED_TRIGGERS, or null without one.</summary>
    private static bool? FiredTriggerRequestsRecovery(string dataDirectory, long jobId)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dataDirectory, "scheduler.db")};Pooling=False");
        connection.Open();
        return connection.Scalar($"SELECT REQUESTS_RECOVERY FROM QRTZ_FIRED_TRIGGERS WHERE JOB_NAME = 'job-{jobId}'") switch
        {
            null or DBNull => null,
            long flag => flag != 0,
            string flag => flag is "1" || flag.Equals("true", StringComparison.OrdinalIgnoreCase),
            var other => throw new InvalidOperationException($"unexpected REQUESTS_RECOVERY {other}"),
        };
    }

    [GeneratedRegex(@"Job \d+ training from epoch (\d+) of")]
    private static partial Regex ResumedFrom();
}
