using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Api.Tests.Fuzzing;

namespace Bench;

/// <summary>
/// The API fuzz test's longer run: `bench fuzz [casesPerOperation=300] [seed=1] [baseUrl]`. Without a URL it
/// starts the service itself (dotnet run, a temporary data folder, port chosen by Kestrel) and takes the
/// admin key from its first-start console line; with one, the key comes from API_KEY.
/// </summary>
public static partial class FuzzBench
{
    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex Listening();

    [GeneratedRegex(@"Admin API key \(shown once; also in .*\): (\S+)")]
    private static partial Regex AdminKey();

    public static void Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task RunAsync(string[] args)
    {
        int perOperation = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 300;
        int seed = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1;
        string? url = args.Length > 2 ? args[2] : null;
        string? key = Environment.GetEnvironmentVariable("API_KEY");
        Process? service = null;
        var data = Directory.CreateTempSubdirectory("fuzz-");
        bool failed;
        try
        {
            if (url is null) (service, url, key) = await StartServiceAsync(data.FullName);
            using var client = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(2) };
            client.DefaultRequestHeaders.Add("X-Api-Key", key ?? "");
            using var doc = JsonDocument.Parse(await client.GetStringAsync("/swagger/v1/swagger.json"));
            var cases = ApiFuzzer.Cases(doc.RootElement, seed, perOperation).ToList();
            var clock = Stopwatch.StartNew();
            var failures = await ApiFuzzer.RunAsync(client, cases);
            var health = await client.GetAsync("/health");
            Console.WriteLine($"{cases.Count} cases ({perOperation} per operation, seed {seed}) in {clock.Elapsed.TotalSeconds:F1} s " +
                              $"({cases.Count / clock.Elapsed.TotalSeconds:F0}/s): {failures.Count} failures; /health {(int)health.StatusCode}");
            foreach (var f in failures.Take(50)) Console.WriteLine("  " + f);
            failed = failures.Count > 0 || !health.IsSuccessStatusCode;
        }
        finally
        {
            if (service is { HasExited: false })
            {
                service.Kill(entireProcessTree: true);
                await service.WaitForExitAsync();
            }
            data.Delete(recursive: true);
        }
        // Thrown after the cleanup, so the process exits non-zero (Program's return value would hide an ExitCode).
        if (failed) throw new InvalidOperationException("the fuzz run found failures (listed above)");
    }

    private static async Task<(Process, string, string)> StartServiceAsync(string dataDirectory)
    {
        var root = Shared.Repository.Root;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "run", "-c", "Release", "--project", Path.Combine(root, "src", "Api"), "--no-launch-profile" }) start.ArgumentList.Add(a);
        start.Environment["Urls"] = "http://127.0.0.1:0";
        start.Environment["Storage__DataDirectory"] = dataDirectory;
        start.Environment["Security__RateLimit__TokenLimit"] = "100000000";
        start.Environment["Security__RateLimit__TokensPerPeriod"] = "100000000";
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet run did not start");
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine(e.Data); };
        process.BeginErrorReadLine();
        string? url = null, key = null;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        while ((url is null || key is null) && await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (Listening().Match(line) is { Success: true } l) url = l.Groups[1].Value;
            if (AdminKey().Match(line) is { Success: true } k) key = k.Groups[1].Value;
        }
        if (url is null || key is null) throw new InvalidOperationException("the service exited before it was listening");
        // Keep draining stdout so the service never blocks on a full pipe.
        _ = Task.Run(async () => { while (await process.StandardOutput.ReadLineAsync() is not null) { } });
        return (process, url, key);
    }
}
