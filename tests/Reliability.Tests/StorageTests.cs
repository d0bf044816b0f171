using System.Globalization;
using Xunit.Abstractions;

namespace Reliability.Tests;

/// <summary>SQLite under concurrent API load and over a long run: no busy errors, bounded growth.</summary>
public sealed class StorageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task EightClientsWhileTwoJobsKeepTrainingGetNo5xxAndEveryJobTrainsEachEpochOnceToTheSameWeights()
    {
        using var folder = new DataFolder();
        await using var service = await ServiceProcess.StartAsync(folder.Path,
            new Dictionary<string, string>(LoadSoak.Settings) { ["Training:Concurrency"] = "2" });
        using var keep = service.KeepLogOnExit("soak-load");
        await new LoadSoak([service], output).RunAsync("database is locked", "SQLITE_BUSY", "SQLite Error");
    }

    [Fact]
    public async Task PruningKeepsLastThreePlusBestAndOnlyTheirStateFilesStay()
    {
        const int epochs = 40;
        using var folder = new DataFolder();
        long id;
        long stateBytes;
        await using (var service = await ServiceProcess.StartAsync(folder.Path))
        {
            // About 0.8 MB of training state per checkpoint (weights plus Adam's two moments), one every epoch.
            id = await service.Client.SubmitStandardJobAsync(epochs: epochs, size: 400, hidden: 256);
            var job = await service.Client.WaitForStatusAsync(id, TimeSpan.FromMinutes(3), "succeeded", "failed");
            Assert.Equal("succeeded", job.Status());
            var checkpoints = (await (await service.Client.GetAsync($"/jobs/{id}/checkpoints")).ReadJsonAsync()).EnumerateArray().ToList();
            var kept = checkpoints.Select(c => c.GetProperty("epoch").GetInt32()).Order().ToList();
            int best = job.GetProperty("bestEpoch").GetInt32();
            Assert.Equal(new[] { epochs - 2, epochs - 1, epochs }.Union([best]).Order(), kept);
            stateBytes = checkpoints[0].GetProperty("sizeBytes").GetInt64();
            await service.StopAsync();
        }

        using var db = Api.OpenDatabase(folder.Path);
        var rows = new List<string>();
        using (var command = db.CreateCommand())
        {
            command.CommandText = $"SELECT FileName FROM Checkpoints WHERE JobId = {id} ORDER BY Epoch";
            using var reader = command.ExecuteReader();
            while (reader.Read()) rows.Add(reader.GetString(0));
        }
        // The kept checkpoints' files and nothing else: the 36 pruned ones were deleted, not left behind.
        var files = Directory.GetFiles(Path.Combine(folder.Path, "checkpoints", id.ToString(CultureInfo.InvariantCulture)));
        Assert.Equal(rows.Order(), files.Select(f => Path.GetRelativePath(folder.Path, f)).Order());
        Assert.All(files, f => Assert.Equal(stateBytes, new FileInfo(f).Length));
        // The states are not in the database: 40 epochs of metrics and diagnostics take less room than one state.
        long database = new FileInfo(Path.Combine(folder.Path, "service.db")).Length;
        output.WriteLine($"state {stateBytes} B, database {database} B");
        Assert.True(database < stateBytes, $"{database} database bytes for {stateBytes}-byte states");
    }
}
