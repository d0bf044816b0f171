using System.Diagnostics;
using System.Net;
using System.Text;

using TrainingService.Client;

namespace Shared;

/// <summary>
/// The real service as a child process (<c>dotnet Api.dll</c>) on a loopback port, over a data folder the
/// caller chooses, so a kill is a real kill and a restart reads only what reached the disk.
/// Standard output and error are captured for the log assertions.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log;

    private ServiceProcess(Process process, StringBuilder log, Uri address, string dataDirectory)
    {
        _process = process;
        _log = log;
        Address = address;
        DataDirectory = dataDirectory;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Uri Address { get; }
    private string DataDirectory { get; }

    /// <summary>The admin key the service wrote to admin.key at its first start on this data folder; <see cref="Client"/> sends it.</summary>
    public string ApiKey => File.ReadAllText(Path.Combine(DataDirectory, "admin.key")).Trim();

    /// <summary>Raw HTTP with the admin key, for requests the typed client cannot send (malformed input).</summary>
    public HttpClient Client { get; }

    /// <summary>A typed client for this instance with the admin key (or <paramref name="apiKey"/>); the caller disposes it.</summary>
    public TrainingServiceClient CreateClient(TrainingServiceClientOptions? options = null, string? apiKey = null) =>
        new(Address, apiKey ?? ApiKey, options);
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>Everything the process wrote so far, stdout and stderr interleaved.</summary>
    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    /// <summary>Api.dll beside the tests: the project reference copies the service (and its appsettings.json) here.</summary>
    public static string ApiDll
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "Api.dll");
            if (!File.Exists(path) || !File.Exists(Path.Combine(AppContext.BaseDirectory, "Api.runtimeconfig.json")))
                throw new FileNotFoundException("Api.dll and its runtimeconfig must be built beside the tests", path);
            return path;
        }
    }

    /// <summary>
    /// Starts the service on <paramref name="dataDirectory"/> and waits until /health answers. Pass the port of
    /// an earlier instance to restart "the same server" for clients that reconnect.
    /// </summary>
    public static async Task<ServiceProcess> StartAsync(string dataDirectory, IReadOnlyDictionary<string, string>? settings = null, int? port = null)
    {
        var address = new Uri($"http://127.0.0.1:{port ?? ChildProcesses.FreePort()}");
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(ApiDll);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add(address.ToString().TrimEnd('/'));
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["Storage__DataDirectory"] = dataDirectory;
        info.Environment["Training__BatchProgressIntervalMs"] = "100";
        // Information, so the recovery and SQLite messages the tests look for are in the captured log.
        info.Environment["Logging__LogLevel__Default"] = "Information";
        info.Environment["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning";
        info.Environment["Logging__Console__FormatterName"] = "simple";
        // These tests load the service on purpose; the per-key rate limit, job cap and model-request limit are tested elsewhere.
        info.Environment["Security__RateLimit__TokenLimit"] = "1000000";
        info.Environment["Security__RateLimit__TokensPerPeriod"] = "1000000";
        info.Environment["Security__MaxActiveJobsPerOwner"] = "1000";
        // Eight load clients may all download weights at once; the limit's queue and 429 are tested elsewhere.
        info.Environment["Security__MaxConcurrentModelRequests"] = "16";
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;

        var log = new StringBuilder();
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(log, e.Data);
        process.ErrorDataReceived += (_, e) => Append(log, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var service = new ServiceProcess(process, log, address, dataDirectory);
        // Generous: on a machine shared with builds and other soaks, a start-up took over 90 s.
        await service.WaitUntilHealthyAsync(TimeSpan.FromMinutes(4));
        // /health answers only after start-up, by which time the first start has written admin.key.
        service.Client.DefaultRequestHeaders.Add("X-Api-Key", service.ApiKey);
        return service;
    }

    private static void Append(StringBuilder log, string? line)
    {
        if (line is null) return;
        lock (log) log.AppendLine(line);
    }

    private async Task WaitUntilHealthyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        using var probe = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(5) };
        while (true)
        {
            if (_process.HasExited) throw new InvalidOperationException($"the service exited with {_process.ExitCode}:\n{Log}");
            try
            {
                if ((await probe.GetAsync("/health")).StatusCode == HttpStatusCode.OK) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the service did not become healthy:\n{Log}");
            await Task.Delay(100);
        }
    }

    /// <summary>Waits until the log has a line matching <paramref name="pattern"/> and returns its match; fails with the log on timeout.</summary>
    public async Task<System.Text.RegularExpressions.Match> WaitForLogAsync(string pattern, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var match = System.Text.RegularExpressions.Regex.Match(Log, pattern);
            if (match.Success) return match;
            if (DateTime.UtcNow > deadline || _process.HasExited) throw new TimeoutException($"no log line matching {pattern}:\n{Log}");
            await Task.Delay(20);
        }
    }

    /// <summary>
    /// Writes the log (after <paramref name="header"/>) under RELIABILITY_LOG_DIR once disposed, when the soak scripts set
    /// it, so a long soak's every run can be read afterwards.
    /// </summary>
    public IDisposable KeepLogOnExit(string name, string header = "") => new LogKeeper(this, name, header);

    private sealed class LogKeeper(ServiceProcess service, string name, string header) : IDisposable
    {
        public void Dispose()
        {
            if (Environment.GetEnvironmentVariable("RELIABILITY_LOG_DIR") is not { Length: > 0 } dir) return;
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, $"{name}-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{service.Pid}.log"), header + "\n" + service.Log);
        }
    }

    /// <summary>SIGKILL: nothing of the process runs after this, no finally block and no flush.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as <c>docker stop</c> and systemd send it; the host shuts down gracefully.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        if (kill.ExitCode != 0) throw new InvalidOperationException($"kill -TERM {_process.Id} failed");
    }

    /// <summary>Whether the process exited within <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            // The parameterless wait also drains the redirected output, so Log is complete.
            await _process.WaitForExitAsync();
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public int ExitCode => _process.ExitCode;

    /// <summary>Graceful stop for the end of a test; a process still running after a minute is killed.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited) return;
        Terminate();
        if (!await WaitForExitAsync(TimeSpan.FromSeconds(60))) await KillAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited) await KillAsync();
        _process.Dispose();
    }
}
