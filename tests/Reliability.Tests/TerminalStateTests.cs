using System.Diagnostics;
using System.Net.Http.Json;
using Xunit.Abstractions;

namespace Reliability.Tests;

/// <summary>
/// Jobs that end without succeeding (cancelled, diverged) stay that way: no further metrics, no retry loop,
/// and a kill -9 plus restart changes nothing.
/// </summary>
public sealed class TerminalStateTests(ITestOutputHelper output)
{
    [Fact]
    public async Task CancelStopsTrainingWithinOneBatchStoresNothingAfterAndStaysCancelledAfterARestart()
    {
        using var folder = new DataFolder();
        long id;
        int epochAtCancel;
        await using (var first = await ServiceProcess.StartAsync(folder.Path))
        {
            id = await first.Client.SubmitStandardJobAsync(epochs: 200);
            await first.Client.WaitForEpochAsync(id, 2, TimeSpan.FromMinutes(2));
            var clock = Stopwatch.StartNew();
            using var response = await first.Client.PostAsync($"/jobs/{id}/cancel", null);
            // The console logger writes on its own thread: give the exception's log line time to arrive.
            if (!response.IsSuccessStatusCode) await Task.Delay(1000);
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}\n{first.Log}");
            var cancelled = await response.ReadJsonAsync();
            Assert.Equal("cancelled", cancelled.Status());
            epochAtCancel = cancelled.GetProperty("epoch").GetInt32();

            // The worker logs the batch it stopped at once it has stopped and its last write has ended. The engine checks
            // the token before every batch, so at most the batch under way when the cancel came is trained after it.
            var stopped = await first.WaitForLogAsync($@"Job {id} stopped by its cancel after epoch \d+ batch \d+: (\d+) batch\(es\) trained after the cancel",
                TimeSpan.FromMinutes(1));
            output.WriteLine($"{stopped.Value} ({clock.ElapsedMilliseconds} ms after the cancel was sent)");
            Assert.InRange(int.Parse(stopped.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 0, 1);
            // Nothing stored after the cancel: the epochs it answered with, and only their checkpoints, on disk too.
            Assert.Equal(Enumerable.Range(1, epochAtCancel), await first.Client.MetricEpochsAsync(id));
            var checkpoints = (await (await first.Client.GetAsync($"/jobs/{id}/checkpoints")).ReadJsonAsync()).EnumerateArray()
                .Select(c => c.GetProperty("epoch").GetInt32()).ToList();
            Assert.All(checkpoints, e => Assert.InRange(e, 1, epochAtCancel));
            Assert.Equal(checkpoints.Count, Directory.GetFiles(Path.Combine(folder.Path, "checkpoints", id.ToString(System.Globalization.CultureInfo.InvariantCulture))).Length);
            Assert.Equal(1, (await first.Client.GetJobAsync(id)).GetProperty("attempts").GetInt32());
            await first.KillAsync();
        }

        await using var second = await ServiceProcess.StartAsync(folder.Path);
        // Long enough for a wrongly re-queued job to start and log it.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.DoesNotContain($"Re-queueing job {id} ", second.Log, StringComparison.Ordinal);
        var after = await second.Client.GetJobAsync(id);
        Assert.Equal("cancelled", after.Status());
        Assert.Equal(1, after.GetProperty("attempts").GetInt32());
        Assert.Equal(Enumerable.Range(1, epochAtCancel), await second.Client.MetricEpochsAsync(id));
        Assert.DoesNotContain("training from epoch", second.Log, StringComparison.Ordinal);
        await second.StopAsync();
    }

    [Fact]
    public async Task DivergedJobFailsNamingEpochAndBatchAndIsNotRetried()
    {
        using var folder = new DataFolder();
        long explodes, ramps;
        Dictionary<long, (string Error, int[] Metrics)> failed = [];
        await using (var first = await ServiceProcess.StartAsync(folder.Path))
        {
            // Plain SGD at 1e6: each step scales with the gradient, which grows with the weights, so the loss
            // overflows in the first epoch (Adam's steps stay near the learning rate and a ReLU net can stay finite).
            explodes = await first.Client.SubmitStandardJobAsync(learningRate: 1e6, optimizer: "sgd");
            // Linear regression whose learning rate warms up by 1 an epoch: stable for three epochs, then past
            // 2/λ it overflows (epoch 4, batch 4 with this seed), so there are metrics to keep.
            var dataset = await first.Client.PostAsJsonAsync("/datasets/synthetic", new { name = "r", kind = "regression", size = 1000, seed = 42, noise = 0.1 });
            var job = await first.Client.PostAsJsonAsync("/jobs", new
            {
                spec = new { input = new[] { 2 }, layers = new object[] { new { type = "dense", units = 1 } }, loss = "mse" },
                datasetId = (await dataset.ReadJsonAsync()).GetProperty("id").GetInt64(), epochs = 40, batchSize = 16, seed = 7,
                optimizer = new { type = "sgd", learningRate = 1e5 }, schedule = new { type = "constant", warmupEpochs = 100_000 },
            });
            ramps = (await job.ReadJsonAsync()).GetProperty("id").GetInt64();

            foreach (var id in new[] { explodes, ramps })
            {
                var done = await first.Client.WaitForStatusAsync(id, TimeSpan.FromMinutes(2), "failed", "succeeded");
                Assert.Equal("failed", done.Status());
                var error = done.GetProperty("error").GetString()!;
                Assert.Matches(@"epoch \d+, batch \d+", error);
                Assert.Contains("NaN", error, StringComparison.Ordinal);
                // Whatever was recorded before the loss blew up is kept, contiguous from epoch 1.
                var metrics = await first.Client.MetricEpochsAsync(id);
                Assert.Equal(Enumerable.Range(1, done.GetProperty("epoch").GetInt32()), metrics);
                failed[id] = (error, metrics);
            }
            Assert.Contains("epoch 4, batch", failed[ramps].Error, StringComparison.Ordinal);
            Assert.Equal([1, 2, 3], failed[ramps].Metrics);
            // Not retried by Hangfire (no automatic retry) nor recovered: still one attempt a while later.
            await Task.Delay(TimeSpan.FromSeconds(2));
            foreach (var id in failed.Keys) Assert.Equal(1, (await first.Client.GetJobAsync(id)).GetProperty("attempts").GetInt32());
            await first.KillAsync();
        }

        await using var second = await ServiceProcess.StartAsync(folder.Path);
        await Task.Delay(TimeSpan.FromSeconds(3));
        foreach (var (id, (error, metrics)) in failed)
        {
            var after = await second.Client.GetJobAsync(id);
            Assert.Equal("failed", after.Status());
            Assert.Equal(error, after.GetProperty("error").GetString());
            Assert.Equal(1, after.GetProperty("attempts").GetInt32());
            Assert.Equal(metrics, await second.Client.MetricEpochsAsync(id));
        }
        Assert.DoesNotContain("training from epoch", second.Log, StringComparison.Ordinal);
        await second.StopAsync();
    }
}
