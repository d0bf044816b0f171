using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Xunit.Abstractions;

namespace Reliability.Tests;

/// <summary>
/// A 200 MB upload must not be held in the service's memory: its peak resident set may grow by the parsed
/// data set plus a constant, never by the size of the request.
/// </summary>
public sealed class UploadMemoryTests(ITestOutputHelper output)
{
    private const long TargetBytes = 200L << 20;
    private const int Features = 4;

    /// <summary>Headroom for the host itself (GC heaps, Kestrel and multipart buffers, SQLite, JIT), independent of the upload.</summary>
    private const long ConstantBytes = 96L << 20;

    [Fact]
    public async Task A200MegabyteCsvUploadGrowsMemoryByTheParsedDataNotTheUpload()
    {
        using var folder = new DataFolder();
        var csv = Path.Combine(Path.GetTempPath(), $"upload-memory-{Guid.NewGuid():N}.csv");
        try
        {
            int rows = WriteCsv(csv);
            long uploadBytes = new FileInfo(csv).Length;
            // float32 features and int32 labels: what the Dataset holds once parsed.
            long parsedBytes = (long)rows * (Features + 1) * sizeof(float);
            await using var service = await ServiceProcess.StartAsync(folder.Path);
            using var http = new HttpClient { BaseAddress = service.Address, Timeout = TimeSpan.FromMinutes(5) };
            http.DefaultRequestHeaders.Add("X-Api-Key", service.ApiKey);

            // Warm up the upload path so its JIT and first-use allocations are in the baseline.
            var small = Path.Combine(Path.GetTempPath(), $"upload-memory-{Guid.NewGuid():N}.csv");
            await File.WriteAllTextAsync(small, "1,2,3,4,0\n5,6,7,8,1\n");
            try
            {
                using var warm = await UploadAsync(http, small, "warm-up");
                Assert.Equal(HttpStatusCode.Created, warm.StatusCode);
            }
            finally
            {
                File.Delete(small);
            }

            var (accepted, acceptedGrowth) = await MeasureAsync(service, http, csv, "accepted");
            Assert.Equal(HttpStatusCode.Created, accepted.Status);
            Assert.Contains($"\"sampleCount\":{rows}", accepted.Body, StringComparison.Ordinal);
            output.WriteLine($"upload {uploadBytes >> 20} MiB, {rows} rows, parsed {parsedBytes >> 20} MiB");
            Assert.True(acceptedGrowth < parsedBytes + ConstantBytes,
                $"peak RSS grew by {acceptedGrowth >> 20} MiB for {parsedBytes >> 20} MiB of parsed data ({uploadBytes >> 20} MiB uploaded)");

            // The same file with a bad value on its last line: the whole body is streamed and parsed, then refused.
            await File.AppendAllTextAsync(csv, "1,2,3,x,0\n");
            var (rejected, rejectedGrowth) = await MeasureAsync(service, http, csv, "rejected");
            Assert.Equal(HttpStatusCode.UnprocessableEntity, rejected.Status);
            Assert.Contains($"line {rows + 1}", rejected.Body, StringComparison.Ordinal);
            Assert.True(rejectedGrowth < parsedBytes + ConstantBytes,
                $"peak RSS grew by {rejectedGrowth >> 20} MiB for a refused upload of {uploadBytes >> 20} MiB");

            Assert.Empty(Directory.EnumerateFiles(Path.Combine(folder.Path, "tmp")));
            Assert.Equal(2, Directory.EnumerateFiles(Path.Combine(folder.Path, "datasets")).Count());
        }
        finally
        {
            File.Delete(csv);
        }
    }

    /// <summary>Uploads <paramref name="csv"/> and returns how far the service's peak RSS rose above its RSS just before.</summary>
    private async Task<((HttpStatusCode Status, string Body) Response, long Growth)> MeasureAsync(
        ServiceProcess service, HttpClient http, string csv, string name)
    {
        long before = ReadStatus(service.Pid, "VmRSS");
        // "5" resets the kernel's peak-RSS mark to the current RSS, so VmHWM afterwards is this upload's peak.
        await File.WriteAllTextAsync($"/proc/{service.Pid}/clear_refs", "5");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var response = await UploadAsync(http, csv, name);
        var body = await response.Content.ReadAsStringAsync();
        long peak = ReadStatus(service.Pid, "VmHWM");
        long after = ReadStatus(service.Pid, "VmRSS");
        output.WriteLine($"{name}: {(int)response.StatusCode} in {clock.Elapsed.TotalSeconds:0.0} s; RSS before {before >> 20} MiB, peak {peak >> 20} MiB, after {after >> 20} MiB");
        return ((response.StatusCode, body), peak - before);
    }

    private static async Task<HttpResponseMessage> UploadAsync(HttpClient http, string path, string name)
    {
        // Streamed from disk: a seekable StreamContent gives the request a Content-Length without buffering it.
        await using var file = File.OpenRead(path);
        using var form = new MultipartFormDataContent
        {
            { new StringContent(name), "name" },
            { new StringContent("csv"), "format" },
        };
        var part = new StreamContent(file, 1 << 16);
        part.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        form.Add(part, "file", Path.GetFileName(path));
        return await http.PostAsync("/datasets", form);
    }

    /// <summary>Writes about <see cref="TargetBytes"/> of CSV (long decimal features, a class label) and returns the row count.</summary>
    private static int WriteCsv(string path)
    {
        var values = Enumerable.Range(0, 997)
            .Select(i => ((i * 7919 % 2000 - 1000) / 997.0 * Math.PI).ToString("0.000000000", CultureInfo.InvariantCulture)).ToArray();
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 16);
        int rows = 0, next = 0;
        var line = new StringBuilder(80);
        while (writer.BaseStream.Position < TargetBytes)
        {
            line.Clear();
            for (int j = 0; j < Features; j++) line.Append(values[next++ % values.Length]).Append(',');
            line.Append(rows % 10).Append('\n');
            writer.Write(line);
            rows++;
            if (rows % 4096 == 0) writer.Flush();
        }
        return rows;
    }

    private static long ReadStatus(int pid, string key)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith(key + ":", StringComparison.Ordinal))
                return long.Parse(line[(key.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        throw new InvalidOperationException($"/proc/{pid}/status has no {key}");
    }
}
