using System.Diagnostics;
using System.Globalization;

namespace Bench;

/// <summary>
/// The service's resident memory around gzip-bomb uploads (issue 17): an IDX image file whose header declares
/// 250 MiB (under Storage:MaxDecompressedBytes) followed by 1 GiB of gzipped zeros, about 1 MB on the wire, sent
/// once and then <c>--parallel</c> at once. Prints RSS before, the peak (VmHWM, reset before each step) and after,
/// read from /proc/&lt;pid&gt;/status of the service process. Args: [--parallel 4] [--zeros-mib 1024].
/// </summary>
internal static class BombBench
{
    public static void Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task RunAsync(string[] args)
    {
        int parallel = ServiceBench.IntOption(args, "--parallel", 4);
        int zerosMiB = ServiceBench.IntOption(args, "--zeros-mib", 1024);
        const int images = 256_000; // × 32 × 32 bytes = 250 MiB declared
        var bomb = Shared.DataFiles.IdxBomb(images, zerosMiB);
        var labels = Shared.DataFiles.IdxLabels(images);
        Console.WriteLine($"bomb: {bomb.Length / 1024} KiB gzipped, header declares {images * 1024L >> 20} MiB, inflates to {zerosMiB} MiB");

        await using var service = await ServiceHost.StartAsync();
        // Raw multipart bodies, which the typed client does not send.
        using var http = new HttpClient { BaseAddress = service.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
        http.DefaultRequestHeaders.Add("X-Api-Key", ServiceHost.ApiKey);
        // The refusal path once, so its JIT and first-use allocations are in the baseline.
        await Step(service, http, "warm-up (16 MiB)", 1, Shared.DataFiles.IdxBomb(1000, 16), Shared.DataFiles.IdxLabels(1000));
        await Step(service, http, "one bomb", 1, bomb, labels);
        await Step(service, http, $"{parallel} bombs at once", parallel, bomb, labels);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Console.WriteLine($"2 s later: RSS {Mib(Shared.DataFiles.ProcStatusBytes(service.Pid, "VmRSS"))} MiB");
    }

    private static async Task Step(ServiceHost service, HttpClient http, string name, int count, byte[] images, byte[] labels)
    {
        long before = Shared.DataFiles.ProcStatusBytes(service.Pid, "VmRSS");
        await Shared.DataFiles.ResetPeakAsync(service.Pid);
        var clock = Stopwatch.StartNew();
        var responses = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => Upload(http, images, labels)));
        clock.Stop();
        long peak = Shared.DataFiles.ProcStatusBytes(service.Pid, "VmHWM"), after = Shared.DataFiles.ProcStatusBytes(service.Pid, "VmRSS");
        var statuses = string.Join(",", responses.Select(r => ((int)r.StatusCode).ToString(CultureInfo.InvariantCulture)).Order());
        Console.WriteLine($"{name}: {statuses} in {clock.Elapsed.TotalSeconds:F1} s; RSS before {Mib(before)} MiB, peak {Mib(peak)} MiB " +
                          $"(+{Mib(peak - before)}), after {Mib(after)} MiB");
    }

    private static Task<HttpResponseMessage> Upload(HttpClient http, byte[] images, byte[] labels)
    {
        var form = new MultipartFormDataContent
        {
            { new StringContent("bomb"), "name" }, { new StringContent("idx"), "format" },
            { new ByteArrayContent(images), "images", "images.gz" }, { new ByteArrayContent(labels), "labels", "labels" },
        };
        return http.PostAsync("/datasets", form);
    }

    private static long Mib(long bytes) => bytes >> 20;
}
