namespace Reliability.Tests;

/// <summary>
/// SIGTERM (docker stop, systemd) during training: the host stops the worker at the next batch within the
/// configured shutdown timeout, the job stays Running for the next start (not Failed), and it then finishes
/// with the same weights as a run that was never stopped; damaged checkpoints are skipped, not fatal.
/// </summary>
[Collection(ReferenceCollection.Name)]
public sealed class GracefulStopTests(ReferenceRun reference)
{
    private const int ShutdownTimeoutSeconds = 20;

    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Training:ShutdownTimeoutSeconds"] = ShutdownTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    [Fact]
    public async Task SigtermExitsWithinTheShutdownTimeoutAndTheJobFinishesAfterRestart()
    {
        using var folder = new DataFolder();
        long id;
        await using (var first = await ServiceProcess.StartAsync(folder.Path, Settings))
        {
            id = await first.Client.SubmitStandardJobAfterWarmUpAsync();
            await first.Client.WaitForEpochAsync(id, 3, TimeSpan.FromMinutes(2));
            first.Terminate();
            // The bound is the configured timeout plus 10 s for the runtime's own exit on a loaded machine;
            // the worker itself stops within one batch.
            Assert.True(await first.WaitForExitAsync(TimeSpan.FromSeconds(ShutdownTimeoutSeconds + 10)), $"still running:\n{first.Log}");
            Assert.Equal(0, first.ExitCode);
            Assert.Contains($"Job {id} interrupted by shutdown", first.Log, StringComparison.Ordinal);
        }
        using (var db = Api.OpenDatabase(folder.Path))
        {
            // Left for the next start, not failed, and not marked finished.
            Assert.Equal("Running", db.Scalar($"SELECT Status FROM Jobs WHERE Id = {id}"));
            Assert.True(db.Scalar($"SELECT Error FROM Jobs WHERE Id = {id}") is DBNull);
        }

        await using var second = await ServiceProcess.StartAsync(folder.Path, Settings);
        var job = await second.Client.WaitForStatusAsync(id, TimeSpan.FromMinutes(3), "succeeded", "failed", "cancelled");
        Assert.True(job.Status() == "succeeded", $"{job}\n{second.Log}");
        Assert.Equal(2, job.GetProperty("attempts").GetInt32());
        Assert.Equal(Enumerable.Range(1, Api.Epochs), await second.Client.MetricEpochsAsync(id));
        Assert.Equal(Api.TensorData(reference.Weights), Api.TensorData(await second.Client.WeightsAsync(id)));
        await second.StopAsync();
    }

    [Fact]
    public async Task CorruptedLatestCheckpointFallsBackToThePreviousOneAndSaysSo()
    {
        using var folder = new DataFolder();
        long id;
        await using (var first = await ServiceProcess.StartAsync(folder.Path, Settings))
        {
            id = await first.Client.SubmitStandardJobAfterWarmUpAsync();
            await first.Client.WaitForEpochAsync(id, 4, TimeSpan.FromMinutes(2));
            await first.KillAsync();
        }
        long latest;
        using (var db = Api.OpenDatabase(folder.Path))
        {
            latest = (long)db.Scalar($"SELECT max(Epoch) FROM Checkpoints WHERE JobId = {id}")!;
            // Flip bytes in the middle of the state's file, as a bad sector would: the size stays as recorded, the hash does not.
            var file = Path.Combine(folder.Path, (string)db.Scalar($"SELECT FileName FROM Checkpoints WHERE JobId = {id} AND Epoch = {latest}")!);
            var state = File.ReadAllBytes(file);
            for (int i = state.Length / 2; i < state.Length / 2 + 16; i++) state[i] ^= 0xFF;
            File.WriteAllBytes(file, state);
        }

        await using var second = await ServiceProcess.StartAsync(folder.Path, Settings);
        var job = await second.Client.WaitForStatusAsync(id, TimeSpan.FromMinutes(3), "succeeded", "failed", "cancelled");
        Assert.True(job.Status() == "succeeded", $"{job}\n{second.Log}");
        var notice = job.GetProperty("notice").GetString();
        Assert.NotNull(notice);
        Assert.Contains($"checkpoint of epoch {latest} was missing or did not match its SHA-256", notice, StringComparison.Ordinal);
        Assert.Contains($"resumed from the checkpoint of epoch {latest - 1}", notice, StringComparison.Ordinal);
        Assert.Contains(notice, second.Log, StringComparison.Ordinal);
        Assert.Equal(Enumerable.Range(1, Api.Epochs), await second.Client.MetricEpochsAsync(id));
        // The earlier checkpoint carries its own RNG and position, so the result is still the uninterrupted one.
        Assert.Equal(Api.TensorData(reference.Weights), Api.TensorData(await second.Client.WeightsAsync(id)));
        await second.StopAsync();
    }
}
