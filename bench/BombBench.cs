using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;

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
        var bomb = Bomb(images, zerosMiB);
        var labels = Labels(images);
        Console.WriteLine($"bomb: {bomb.Length / 1024} KiB gzipped, header declares {images * 1024L >> 20} MiB, inflates to {zerosMiB} MiB");

        await using var service = await ServiceHost.StartAsync();
        // The refusal path once, so its JIT and first-use allocations are in the baseline.
        await Step(service, "warm-up (16 MiB)", 1, Bomb(1000, 16), Labels(1000));
        await Step(service, "one bomb", 1, bomb, labels);
        await Step(service, $"{parallel} bombs at once", parallel, bomb, labels);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Console.WriteLine($"2 s later: RSS {Mib(Status(service.Pid, "VmRSS"))} MiB");
    }

    private static async Task Step(ServiceHost service, string name, int count, byte[] images, byte[] labels)
    {
        long before = Status(service.Pid, "VmRSS");
        await File.WriteAllTextAsync($"/proc/{service.Pid}/clear_refs", "5"); // VmHWM := VmRSS
        var clock = Stopwatch.StartNew();
        var responses = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => Upload(service.Http, images, labels)));
        clock.Stop();
        long peak = Status(service.Pid, "VmHWM"), after = Status(service.Pid, "VmRSS");
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

    private static byte[] Bomb(int images, int zerosMiB)
    {
        var header = new byte[16];
        header[2] = 8;
        header[3] = 3;
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), images);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(8), 32);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(12), 32);
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write(header);
            var zeros = new byte[1 << 20];
            for (int i = 0; i < zerosMiB; i++) gzip.Write(zeros);
        }
        return output.ToArray();
    }

    private static byte[] Labels(int count)
    {
        var labels = new byte[8 + count];
        labels[2] = 8;
        labels[3] = 1;
        BinaryPrimitives.WriteInt32BigEndian(labels.AsSpan(4), count);
        return labels;
    }

    private static long Mib(long bytes) => bytes >> 20;

    private static long Status(int pid, string key)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith(key + ":", StringComparison.Ordinal))
                return long.Parse(line[(key.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        throw new InvalidOperationException($"/proc/{pid}/status has no {key}");
    }
}
