using System.Diagnostics;
using System.Globalization;
using TrainingService.Client;

namespace Bench;

/// <summary>
/// The real service (src/Api, built in the same configuration as the bench) as a child process on a free
/// loopback port with a throw-away data directory, and a <see cref="TrainingServiceClient"/> for it.
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

    /// <summary>The service's REST API with the admin key.</summary>
    public TrainingServiceClient Api { get; }

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
        Api = new TrainingServiceClient(baseAddress, ApiKey);
    }

    /// <summary>
    /// Starts the service. <paramref name="settings"/> are extra configuration keys; <paramref name="dataDir"/> a folder to
    /// share with other instances (default: a new one); <paramref name="core"/> pins the process to one CPU (taskset) and
    /// tells .NET it has one, as a node on its own one-core machine would.
    /// </summary>
    public static async Task<ServiceHost> StartAsync(IReadOnlyDictionary<string, string>? settings = null, string? dataDir = null, int? core = null)
    {
        var dll = FindApiDll();
        int port = Shared.ChildProcesses.FreePort();
        dataDir ??= Path.Combine(Path.GetTempPath(), $"bench-service-{Environment.ProcessId}-{port}");
        Directory.CreateDirectory(dataDir);
        var url = new Uri($"http://127.0.0.1:{port}");
        var psi = new ProcessStartInfo(core is null ? "dotnet" : "taskset")
        {
            // The project folder (bin/<configuration>/<tfm> up), as `dotnet run` uses: wwwroot and appsettings.json are there.
            WorkingDirectory = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(dll)!, "..", "..", "..")),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (core is { } c)
        {
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(c.ToString(CultureInfo.InvariantCulture));
            psi.ArgumentList.Add("dotnet");
            psi.Environment["DOTNET_PROCESSOR_COUNT"] = "1";
        }
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
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
            psi.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start the service");
        // Drained so a full pipe never blocks the service; only errors are shown.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[service] {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var host = new ServiceHost(process, dataDir, url);
        using var probe = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(5) };
        // Generous: on a shared machine under heavy load the service alone has taken close to a minute to start.
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"the service exited with code {process.ExitCode}");
            try
            {
                using var r = await probe.GetAsync("/health");
                if (r.IsSuccessStatusCode) return host;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { } // one probe timed out; the deadline decides
            if (deadline.Elapsed > TimeSpan.FromSeconds(180)) throw new TimeoutException("the service did not become healthy in 180 s");
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

    /// <summary>Uploads features and labels as .npy files (streamed from disk); returns the data set id.</summary>
    public async Task<long> UploadNpyAsync(string name, string featuresPath, string labelsPath)
    {
        var upload = DatasetUpload.Npy(name, featuresPath, labelsPath);
        upload.Normalization = NormalizationKind.None;
        return (await Api.UploadDatasetAsync(upload)).Id;
    }

    /// <summary>A spirals data set made by the service: quick to create, and its small network trains in short epochs.</summary>
    public async Task<long> CreateSpiralsAsync(int size) =>
        (await Api.CreateSyntheticDatasetAsync(new CreateSyntheticDatasetRequest("spirals", SyntheticKind.Spirals, size, Classes: 3, Seed: 1, Noise: 0.2f))).Id;

    public static ModelSpec SmallSpec { get; } = new([2], [new DenseSpec(64), new ReluSpec(), new DenseSpec(3)], LossKind.SoftmaxCrossEntropy);

    public async Task<long> CreateJobAsync(CreateJobRequest request) => (await Api.SubmitJobAsync(request)).Id;

    public async Task<JobStatus> StatusAsync(long jobId) => (await Api.GetJobAsync(jobId)).Status;

    /// <summary>Polls until the job is in one of <paramref name="statuses"/>; throws when it ends in another.</summary>
    public async Task WaitForStatusAsync(long jobId, params JobStatus[] statuses)
    {
        while (true)
        {
            var job = await Api.GetJobAsync(jobId);
            if (statuses.Contains(job.Status)) return;
            if (job.Status is JobStatus.Failed or JobStatus.Cancelled or JobStatus.Succeeded)
                throw new InvalidOperationException($"job {jobId} is {job.Status}: {job.Error}");
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Api.DisposeAsync();
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
