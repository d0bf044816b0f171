using System.Net;
using System.Net.Http.Json;
using Hangfire;
using Microsoft.Extensions.DependencyInjection;

namespace Api.Tests.Security;

/// <summary>
/// /hangfire over HTTP: admin keys only, through the HttpOnly cookie POST /hangfire/sign-in sets; read-only; everyone
/// else gets 401 or 403 and never the page.
/// </summary>
public sealed class HangfireDashboardTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task WithoutAnAdminKeyTheDashboardAndItsSignInAnswer401Or403AndNeverThePage()
    {
        var owner = await factory.CreateOwnerKeyAsync("hangfire-owner");
        await AssertRefusedAsync(await factory.CreateClient(key: null).GetAsync("/hangfire/"), HttpStatusCode.Unauthorized);
        await AssertRefusedAsync(await factory.CreateClient(key: null).GetAsync("/hangfire/jobs/succeeded"), HttpStatusCode.Unauthorized);
        await AssertRefusedAsync(await factory.CreateClient(owner).GetAsync("/hangfire/"), HttpStatusCode.Forbidden);
        var signIn = await factory.CreateClient(owner).PostAsync("/hangfire/sign-in", null);
        await AssertRefusedAsync(signIn, HttpStatusCode.Forbidden);
        Assert.False(signIn.Headers.Contains("Set-Cookie"));
        // An owner's key in the cookie is no better than in the header.
        await AssertRefusedAsync(await WithCookie(owner).GetAsync("/hangfire/"), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task AnAdminSignsInToAnHttpOnlyStrictCookieThatOpensTheReadOnlyDashboard()
    {
        var signIn = await factory.CreateClient().PostAsync("/hangfire/sign-in", null);
        Assert.Equal(HttpStatusCode.NoContent, signIn.StatusCode);
        var setCookie = Assert.Single(signIn.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith($"hangfire_key={factory.AdminKey};", setCookie, StringComparison.Ordinal);
        foreach (var attribute in new[] { "httponly", "samesite=strict", "path=/hangfire" })
            Assert.Contains(attribute, setCookie, StringComparison.OrdinalIgnoreCase);

        var browser = WithCookie(factory.AdminKey);
        var page = await browser.GetAsync("/hangfire/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Training jobs (Hangfire)", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Read-only: a command that would delete jobs is refused and changes nothing.
        var jobId = await TrainSmallJobAsync();
        var monitoring = factory.Services.GetRequiredService<JobStorage>().GetMonitoringApi();
        long succeeded = await WaitForSucceededAsync(monitoring);
        var hangfireId = monitoring.SucceededJobs(0, 100).First(j => j.Value.Job.Args[0] is long id && id == jobId).Key;
        var delete = await browser.PostAsync("/hangfire/jobs/succeeded/delete",
            new FormUrlEncodedContent([new KeyValuePair<string, string>("jobs[]", hangfireId)]));
        Assert.False(delete.IsSuccessStatusCode, $"{(int)delete.StatusCode}");
        Assert.Equal(succeeded, monitoring.SucceededListCount());
    }

    [Fact]
    public async Task TheCookieOpensNothingOutsideTheDashboardAndDiesWithItsKey()
    {
        // The cookie is scoped to /hangfire; sent anywhere else by hand, it is no key at all.
        await AssertRefusedAsync(await WithCookie(factory.AdminKey).GetAsync("/jobs"), HttpStatusCode.Unauthorized);

        var created = await (await factory.CreateClient().PostAsJsonAsync("/keys", new { owner = "second-admin", admin = true })).ReadJsonAsync();
        var key = created.GetProperty("key").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await WithCookie(key).GetAsync("/hangfire/")).StatusCode);
        (await factory.CreateClient().DeleteAsync($"/keys/{created.GetProperty("id").GetInt64()}")).EnsureSuccessStatusCode();
        await AssertRefusedAsync(await WithCookie(key).GetAsync("/hangfire/"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task SignOutDeletesTheCookie()
    {
        var signOut = await factory.CreateClient(key: null).PostAsync("/hangfire/sign-out", null);
        Assert.Equal(HttpStatusCode.NoContent, signOut.StatusCode);
        var setCookie = Assert.Single(signOut.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("hangfire_key=;", setCookie, StringComparison.Ordinal);
        Assert.Contains("path=/hangfire", setCookie, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>What a browser sends after signing in: the cookie, and no key header.</summary>
    private HttpClient WithCookie(string key)
    {
        var client = factory.CreateClient(key: null);
        client.DefaultRequestHeaders.Add("Cookie", $"hangfire_key={key}");
        return client;
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("navbar", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private async Task<long> TrainSmallJobAsync()
    {
        var client = factory.CreateClient();
        var datasetId = await client.CreateSyntheticAsync("xor", size: 64, classes: 2);
        var modelId = await client.CreateModelAsync(ServiceClient.Mlp(outputs: 2));
        var jobId = await client.CreateJobAsync(modelId, datasetId, epochs: 2);
        await client.WaitForStatusAsync(jobId, TimeSpan.FromMinutes(1), "succeeded");
        return jobId;
    }

    /// <summary>The job's status is stored before its Hangfire run returns: wait for Hangfire to count it too.</summary>
    private static async Task<long> WaitForSucceededAsync(Hangfire.Storage.IMonitoringApi monitoring)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (monitoring.ProcessingCount() > 0 || monitoring.SucceededListCount() == 0)
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("Hangfire did not record the run as succeeded");
            await Task.Delay(20);
        }
        return monitoring.SucceededListCount();
    }
}
