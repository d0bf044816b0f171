namespace Client.Tests;

/// <summary>
/// Watches that the hub alone cannot complete: the server is killed (kill -9) mid-job and restarted on the same
/// address, and its replay holds only the last <see cref="ReplayEpochs"/> epochs, so the client reads the rest.
/// </summary>
public sealed class RestartTests
{
    private const int Epochs = 16;
    private const int ReplayEpochs = 2;

    private static readonly Dictionary<string, string> ShortReplay = new() { ["Training:HubReplayEpochs"] = $"{ReplayEpochs}" };

    [Fact]
    public async Task AWatchOfAJobLongerThanTheReplayYieldsEveryEpochOnce()
    {
        using var folder = new DataFolder();
        await using var service = await ServiceProcess.StartAsync(folder.Path, ShortReplay);
        await using var client = service.CreateClient();
        var data = await client.CreateSyntheticDatasetAsync(new CreateSyntheticDatasetRequest(Kind: SyntheticKind.Moons, Size: 200));
        var job = await client.SubmitJobAsync(new CreateJobRequest(Spec: Flow.Mlp(), DatasetId: data.Id, Epochs: 3 * ReplayEpochs));
        await client.WaitForJobAsync(job.Id);

        // Subscribed after the end: the hub replays the last epochs after a HistoryTruncated event.
        var events = await client.CollectAsync(job.Id);
        Assert.Equal(Enumerable.Range(1, 3 * ReplayEpochs), events.Epochs());
        Assert.Equal(JobStatus.Succeeded, events.FinalStatus().Status);
        var metrics = await client.GetMetricsAsync(job.Id);
        Assert.Equal(metrics.Select(m => m.TrainLoss), events.OfType<EpochCompletedEvent>().Select(e => e.TrainLoss));
        await service.StopAsync();
    }

    [Fact]
    public async Task AWatchOutlivesAServerRestartAndYieldsEveryEpochOnceUntilTheFinalStatus()
    {
        using var folder = new DataFolder();
        var first = await ServiceProcess.StartAsync(folder.Path, ShortReplay);
        int port = first.Address.Port;
        await using var client = first.CreateClient();
        // Sized like the reliability suite's standard job: a few tenths of a second an epoch, checkpointed each one.
        var data = await client.CreateSyntheticDatasetAsync(new CreateSyntheticDatasetRequest(Kind: SyntheticKind.Spirals, Size: 3000, Seed: 42));
        var job = await client.SubmitJobAsync(new CreateJobRequest(Spec: Flow.Mlp(hidden: 192, outputs: 3, depth: 2), DatasetId: data.Id,
            ValidationSplit: 0.2f, Epochs: Epochs, BatchSize: 16, CheckpointEvery: 1, Seed: 7));

        var events = new List<IJobEvent>();
        ServiceProcess? second = null;
        try
        {
            await foreach (var e in client.WatchAsync(job.Id))
            {
                events.Add(e);
                if (second is null && e is EpochCompletedEvent { Epoch: >= 3 })
                {
                    await first.KillAsync();
                    second = await ServiceProcess.StartAsync(folder.Path, ShortReplay, port);
                }
            }

            Assert.NotNull(second);
            Assert.Equal(Enumerable.Range(1, Epochs), events.Epochs());
            Assert.Equal(JobStatus.Succeeded, events.FinalStatus().Status);
            // The kill landed mid-job: the restarted service trained it a second time from its checkpoint.
            Assert.Equal(2, (await client.GetJobAsync(job.Id)).Attempts);
            await second.StopAsync();
        }
        finally
        {
            await first.DisposeAsync();
            if (second is not null) await second.DisposeAsync();
        }
    }
}
