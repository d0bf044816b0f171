using System.Diagnostics;
using System.Text.Json;
using Api.Tests.Fuzzing;

namespace Bench;

/// <summary>
/// The API fuzz test's longer run: `bench fuzz [casesPerOperation=300] [seed=1] [baseUrl]`. Without a URL it
/// starts the service itself (<see cref="ServiceHost"/>: a temporary data folder, a free loopback port); with one,
/// the key comes from API_KEY.
/// </summary>
public static class FuzzBench
{
    public static void Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task RunAsync(string[] args)
    {
        int perOperation = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 300;
        int seed = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1;
        string? url = args.Length > 2 ? args[2] : null;
        string? key = Environment.GetEnvironmentVariable("API_KEY");
        ServiceHost? service = null;
        bool failed;
        try
        {
            if (url is null)
            {
                service = await ServiceHost.StartAsync();
                (url, key) = (service.BaseAddress.ToString(), ServiceHost.ApiKey);
            }
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
            if (service is not null) await service.DisposeAsync();
        }
        // Thrown after the cleanup, so the process exits non-zero (Program's return value would hide an ExitCode).
        if (failed) throw new InvalidOperationException("the fuzz run found failures (listed above)");
    }
}
