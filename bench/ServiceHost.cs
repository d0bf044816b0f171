using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace Bench;

/// <summary>
/// The real service (src/Api, built in the same configuration as the bench) as a child process on a free
/// loopback port with a throw-away data directory, plus the few REST calls the service benches need.
/// </summary>
internal sealed class ServiceHost : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dataDir;

    public Uri BaseAddress { get; }

    /// <summary>CPU time the service process has used so far (all its threads): a per-request cost that the shared machine's noise does not distort much.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }
    public HttpClient Http { get; }

    /// <summary>The service's process id, for /proc/&lt;pid&gt;/status (resident memory).</summary>
    public int Pid => _process.Id;

    /// <summary>
    /// Run time so far, in seconds, of the service's threads other than those that train (the jobs' <c>train-job-N</c>
    /// threads and the engine's workers): the service's own work around the training. From
    /// /proc/&lt;pid&gt;/task/*/schedstat (nanoseconds, where /proc's stat counts 10 ms ticks); null without /proc.
    /// Counted per thread from one call to the next, so a thread that exits (a pool thread retiring with seconds of
    /// history) takes only its last interval with it, not its whole run time.
    /// </summary>
    public double? OtherThreadsRunSeconds()
    {
        var tasks = $"/proc/{_process.Id}/task";
        if (!Directory.Exists(tasks)) return null;
        var seen = new Dictionary<int, long>();
        foreach (var task in Directory.EnumerateDirectories(tasks))
        {
            string comm, schedstat;
            try
            {
                comm = File.ReadAllText(Path.Combine(task, "comm")).TrimEnd();
                schedstat = File.ReadAllText(Path.Combine(task, "schedstat"));
            }
            catch (IOException)
            {
                continue; // exited meanwhile
            }
            if (comm.StartsWith("train-job-", StringComparison.Ordinal) || comm.StartsWith("engine-worker", StringComparison.Ordinal)) continue;
            int tid = int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture);
            long run = long.Parse(schedstat.AsSpan(0, schedstat.IndexOf(' ')), CultureInfo.InvariantCulture);
            seen[tid] = run;
            // A new thread (or a reused id with less run time) counts from zero.
            long before = _otherRun.TryGetValue(tid, out var last) && last <= run ? last : 0;
            _otherSeconds += (run - before) / 1e9;
        }
        _otherRun = seen;
        return _otherSeconds;
    }

    private Dictionary<int, long> _otherRun = [];
    private double _otherSeconds;

    /// <summary>The admin key the service was started with (sent as X-Api-Key, or access_token on the hub).</summary>
    public static string ApiKey { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    private ServiceHost(Process process, string dataDir, Uri baseAddress)
    {
        _process = process;
        _dataDir = dataDir;
        BaseAddress = baseAddress;
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(10) };
        Http.DefaultRequestHeaders.Add("X-Api-Key", ApiKey);
    }

    public static async Task<ServiceHost> StartAsync()
    {
        var dll = FindApiDll();
        int port = FreePort();
        var dataDir = Path.Combine(Path.GetTempPath(), $"bench-service-{Environment.ProcessId}-{port}");
        Directory.CreateDirectory(dataDir);
        var url = new Uri($"http://127.0.0.1:{port}");
        var psi = new ProcessStartInfo("dotnet")
        {
            // The project folder (bin/<configuration>/<tfm> up), as `dotnet run` uses: wwwroot and appsettings.json are there.
            WorkingDirectory = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(dll)!, "..", "..", "..")),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add(url.ToString());
        psi.Environment["Storage__DataDirectory"] = dataDir;
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        psi.Environment["Security__BootstrapAdminKey"] = ApiKey;
        // The benches measure the service, not the per-key rate limiter or the per-owner job cap.
        psi.Environment["Security__RateLimit__TokenLimit"] = "100000000";
        psi.Environment["Security__RateLimit__TokensPerPeriod"] = "100000000";
        psi.Environment["Security__MaxActiveJobsPerOwner"] = "1000";
        // Request logging at Information would cost the API bench more than the endpoint itself.
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        // Warnings and errors to stderr, which is shown; stdout is drained unread.
        psi.Environment["Logging__Console__LogToStandardErrorThreshold"] = "Warning";
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start the service");
        // Drained so a full pipe never blocks the service; only errors are shown.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[service] {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var host = new ServiceHost(process, dataDir, url);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"the service exited with code {process.ExitCode}");
            try
            {
                using var r = await host.Http.GetAsync("/health");
                if (r.IsSuccessStatusCode) return host;
            }
            catch (HttpRequestException) { }
            if (deadline.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException("the service did not become healthy in 60 s");
            await Task.Delay(100);
        }
    }

    /// <summary>src/Api/bin/&lt;configuration&gt;/net10.0/Api.dll of this checkout, found from the bench's own output folder.</summary>
    private static string FindApiDll()
    {
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        var tfm = new DirectoryInfo(AppContext.BaseDirectory).Name;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var dll = Path.Combine(dir.FullName, "src", "Api", "bin", configuration, tfm, "Api.dll");
            if (File.Exists(dll)) return dll;
        }
        throw new FileNotFoundException($"src/Api/bin/{configuration}/{tfm}/Api.dll not found above {AppContext.BaseDirectory}; build the bench first");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Waits until the service uses under 5% of a core for half a second (at most <paramref name="limit"/>):
    /// a fresh process keeps a core busy with tiered (re)compilation for tens of seconds on a loaded machine,
    /// which a long-running service has long finished. Returns the time waited.
    /// </summary>
    public async Task<TimeSpan> SettleAsync(TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            var before = CpuTime;
            await Task.Delay(500);
            if ((CpuTime - before).TotalMilliseconds < 25) break;
        }
        return clock.Elapsed;
    }

    public async Task<JsonNode> PostJsonAsync(string path, object body)
    {
        using var r = await Http.PostAsJsonAsync(path, body);
        return await ReadAsync(r);
    }

    public async Task<JsonNode> GetJsonAsync(string path)
    {
        using var r = await Http.GetAsync(path);
        return await ReadAsync(r);
    }

    private static async Task<JsonNode> ReadAsync(HttpResponseMessage r)
    {
        var text = await r.Content.ReadAsStringAsync();
        if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"{r.RequestMessage?.Method} {r.RequestMessage?.RequestUri} → {(int)r.StatusCode}: {text}");
        return JsonNode.Parse(text) ?? throw new InvalidDataException("empty response");
    }

    /// <summary>Uploads features and labels as .npy files (streamed from disk); returns the data set id.</summary>
    public async Task<long> UploadNpyAsync(string name, string featuresPath, string labelsPath)
    {
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent(name), "name");
        form.Add(new StringContent("npy"), "format");
        form.Add(new StringContent("none"), "normalization");
        await using var features = File.OpenRead(featuresPath);
        await using var labels = File.OpenRead(labelsPath);
        form.Add(new StreamContent(features), "features", "x.npy");
        form.Add(new StreamContent(labels), "labels", "y.npy");
        using var r = await Http.PostAsync("/datasets", form);
        return (await ReadAsync(r))["id"]!.GetValue<long>();
    }

    /// <summary>A spirals data set made by the service: quick to create, and its small network trains in short epochs.</summary>
    public async Task<long> CreateSpiralsAsync(int size) =>
        (await PostJsonAsync("/datasets/synthetic", new { name = "spirals", kind = "spirals", size, classes = 3, seed = 1, noise = 0.2 }))["id"]!
        .GetValue<long>();

    public static object SmallSpec => new
    {
        input = new[] { 2 },
        layers = new object[] { new { type = "dense", units = 64 }, new { type = "relu" }, new { type = "dense", units = 3 } },
        loss = "softmax_cross_entropy",
    };

    public async Task<long> CreateJobAsync(object request) => (await PostJsonAsync("/jobs", request))["id"]!.GetValue<long>();

    public async Task<string> StatusAsync(long jobId) => (await GetJsonAsync($"/jobs/{jobId}"))["status"]!.GetValue<string>();

    public async Task WaitForStatusAsync(long jobId, params string[] statuses)
    {
        while (true)
        {
            var status = await StatusAsync(jobId);
            if (statuses.Contains(status)) return;
            if (status is "failed" or "cancelled" && !statuses.Contains(status))
                throw new InvalidOperationException($"job {jobId} is {status}: {(await GetJsonAsync($"/jobs/{jobId}"))["error"]}");
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try { Directory.Delete(_dataDir, recursive: true); }
        catch (IOException) { } // a file still held open by a dying child; the temp folder is cleaned later
    }

}
