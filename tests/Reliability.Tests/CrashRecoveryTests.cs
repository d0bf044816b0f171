using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Reliability.Tests;

/// <summary>
/// kill -9 of the real process during training, then a restart on the same folder. The job must continue from its
/// last checkpoint, recording every epoch once and ending with exactly the weights of a run that was never interrupted.
/// Hangfire's queue is in memory, so what brings it back is start-up recovery reading the database; that mechanism is
/// checked after the outcome, for every kill point.
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
        string firstLog;
        await using (var first = await ServiceProcess.StartAsync(folder.Path))
        {
            id = await first.Client.SubmitStandardJobAfterWarmUpAsync();
            delay = await first.Client.WaitForKillPointAsync(id, afterEpoch, maxEpochFraction);
            await first.KillAsync();
            firstLog = first.Log;
        }
        output.WriteLine($"killed {delay} ms after epoch {afterEpoch} was recorded");
        var (statusAtKill, epochAtKill) = StateInDatabase(folder.Path, id);

        await using var second = await ServiceProcess.StartAsync(folder.Path);
        using var keep = second.KeepLogOnExit($"crash-after-epoch-{afterEpoch}", $"killed {delay} ms after epoch {afterEpoch} was recorded ({statusAtKill} then)\n{firstLog}\n== after the restart");
        // The outcome users rely on first: succeeded, every epoch once and in order, the uninterrupted run's weights.
        var job = await second.Client.WaitForStatusAsync(id, TimeSpan.FromMinutes(3), "succeeded", "failed", "cancelled");
        Assert.True(job.Status() == "succeeded", $"killed {delay} ms after epoch {afterEpoch} ({statusAtKill} then): {job}\n{second.Log}");
        Assert.Equal(Enumerable.Range(1, Api.Epochs), await second.Client.MetricEpochsAsync(id));
        Assert.Equal(Api.TensorData(reference.Weights), Api.TensorData(await second.Client.WeightsAsync(id)));
        Assert.DoesNotContain("database is locked", second.Log, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("SQLITE_BUSY", second.Log, StringComparison.OrdinalIgnoreCase);

        // Then the mechanism, judged by what the kill actually interrupted (on a loaded machine the poll that triggers it
        // can see the epoch late, even after the job has finished): a job the database still called unfinished was
        // re-queued by start-up recovery and trained exactly once more, from the checkpoint of the last epoch stored
        // before the kill (one every epoch; never from scratch); a job already marked succeeded was left alone.
        int attempts = job.GetProperty("attempts").GetInt32();
        var resumedFrom = ResumedFrom().Matches(second.Log).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        if (statusAtKill == "Succeeded")
        {
            Assert.Empty(resumedFrom);
            Assert.DoesNotContain($"Re-queueing job {id} ", second.Log, StringComparison.Ordinal);
            Assert.Equal(1, attempts);
        }
        else
        {
            Assert.Equal("Running", statusAtKill);
            Assert.Contains($"Re-queueing job {id} ", second.Log, StringComparison.Ordinal);
            Assert.Equal(2, attempts);
            Assert.Single(resumedFrom);
            Assert.Equal(epochAtKill, resumedFrom[0]);
            Assert.InRange(resumedFrom[0], afterEpoch, Api.Epochs);
        }
        await second.StopAsync();
    }

    /// <summary>The job's status and last stored epoch as the killed process left them in the service database.</summary>
    private static (string Status, int Epoch) StateInDatabase(string dataDirectory, long jobId)
    {
        using var connection = Api.OpenDatabase(dataDirectory);
        return (connection.Scalar($"SELECT Status FROM Jobs WHERE Id = {jobId}") as string ?? "none",
            Convert.ToInt32(connection.Scalar($"SELECT CurrentEpoch FROM Jobs WHERE Id = {jobId}"), System.Globalization.CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"Job \d+ training from epoch (\d+) of")]
    private static partial Regex ResumedFrom();
}
