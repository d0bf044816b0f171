using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace Api.Tests.Fuzzing;

/// <summary>Every operation of the service's own OpenAPI document, fed malformed input with a fixed seed.</summary>
public sealed class FuzzTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private const int Seed = 20261123;
    private const int CasesPerOperation = 30;

    [Fact]
    public async Task MalformedInputNeverGives5xxAndEveryErrorIsProblemJson()
    {
        // A second admin key: the fuzzer's DELETE /keys/1 may revoke the first without blinding the run.
        var client = factory.CreateClient(await factory.CreateOwnerKeyAsync("fuzzer", admin: true));
        using var doc = JsonDocument.Parse(await client.GetStringAsync("/swagger/v1/swagger.json"));
        var cases = ApiFuzzer.Cases(doc.RootElement, Seed, CasesPerOperation).ToList();
        Assert.True(cases.Select(c => c.Operation).Distinct().Count() >= 20, "too few operations in the document");

        var clock = Stopwatch.StartNew();
        var failures = await ApiFuzzer.RunAsync(client, cases);
        clock.Stop();

        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} cases failed:\n{string.Join("\n", failures.Take(30))}");
        var health = await factory.CreateClient(null).GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Contains("\"Healthy\"", await health.Content.ReadAsStringAsync());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"{cases.Count} cases took {clock.Elapsed}");
    }
}
