using System.Net;
using Xunit.Abstractions;
using static Reliability.Tests.Abuse.AbuseClient;
using static Shared.DataFiles;

namespace Reliability.Tests.Abuse;

/// <summary>
/// The issue's gzip bomb against the real process with its default limits: an IDX header declaring 250 MiB (under
/// Storage:MaxDecompressedBytes) followed by 1 GiB of gzipped zeros, about 1 MB on the wire. The process's resident
/// set, read from /proc, may grow by a constant, not by what the header declares or what the body inflates to.
/// </summary>
public sealed class UploadBombMemoryTests(ITestOutputHelper output)
{
    /// <summary>Generous: host overhead for a request (Kestrel, multipart, GC heaps, JIT of the refusal path), far below 250 MiB.</summary>
    private const long Bound = 128L << 20;

    [Fact]
    public async Task AGzipBombIdxUploadIsRefusedWithBoundedMemoryAndFourAtOnceStayBoundedAndMemoryReturns()
    {
        using var folder = new DataFolder();
        await using var service = await ServiceProcess.StartAsync(folder.Path);
        var http = service.Client;
        const int images = 256_000; // 256,000 × 32 × 32 bytes = 250 MiB declared
        var bomb = IdxBomb(images, zeroMiB: 1024);
        var labels = IdxLabels(images);
        output.WriteLine($"bomb {bomb.Length / 1024} KiB compressed");
        Assert.True(bomb.Length < 2 << 20, $"{bomb.Length} bytes");

        // A small bomb first, so the refusal path's JIT and first-use allocations are in the baseline.
        var warm = await UploadAsync(http, "idx", ("images", IdxBomb(1000, 16)), ("labels", IdxLabels(1000)));
        await AssertProblemAsync(warm, HttpStatusCode.UnprocessableEntity, "images");

        long before = ProcStatusBytes(service.Pid, "VmRSS");
        await ResetPeakAsync(service.Pid);
        var one = await UploadAsync(http, "idx", ("images", bomb), ("labels", labels));
        var body = await AssertProblemAsync(one, HttpStatusCode.UnprocessableEntity, "images");
        long peak = ProcStatusBytes(service.Pid, "VmHWM");
        long after = ProcStatusBytes(service.Pid, "VmRSS");
        output.WriteLine($"one bomb: RSS before {before >> 20} MiB, peak {peak >> 20} MiB, after {after >> 20} MiB; {body}");
        Assert.True(peak - before < Bound, $"peak RSS grew by {(peak - before) >> 20} MiB for one refused bomb");

        // Four at once: at most Storage:MaxConcurrentUploads (2) are parsed, the rest are 429; none is stored.
        before = ProcStatusBytes(service.Pid, "VmRSS");
        await ResetPeakAsync(service.Pid);
        var four = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => UploadAsync(http, "idx", ("images", bomb), ("labels", labels))));
        peak = ProcStatusBytes(service.Pid, "VmHWM");
        after = ProcStatusBytes(service.Pid, "VmRSS");
        var statuses = four.Select(r => (int)r.StatusCode).Order().ToArray();
        output.WriteLine($"four bombs: {string.Join(",", statuses)}; RSS before {before >> 20} MiB, peak {peak >> 20} MiB, after {after >> 20} MiB");
        Assert.All(statuses, s => Assert.Contains(s, new[] { 422, 429 }));
        foreach (var busy in four.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests))
            Assert.Contains("Storage:MaxConcurrentUploads", await busy.Content.ReadAsStringAsync());
        Assert.True(peak - before < 2 * Bound, $"peak RSS grew by {(peak - before) >> 20} MiB for four bombs at once");
        Assert.True(after - before < Bound, $"RSS stayed {(after - before) >> 20} MiB above its start after four bombs");

        Assert.Empty(Directory.EnumerateFiles(Path.Combine(folder.Path, "datasets")));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(folder.Path, "tmp")));
        await service.StopAsync();
    }
}
