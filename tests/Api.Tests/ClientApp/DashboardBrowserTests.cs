using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Api.Tests.ClientApp;

/// <summary>
/// The dashboard in a real browser: Debian's Chromium, driven by playwright-core (tests/dashboard-check), against
/// the service on Kestrel at a loopback port. The script submits the quick start form, watches the chart gain one
/// point per epoch, sees Succeeded, downloads each weights format and saves a screenshot.
/// Without Chromium these tests report themselves skipped, with the command that installs it; .ci/run always
/// installs it, so CI never skips them.
/// </summary>
public sealed class DashboardBrowserTests
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(4);

    [ChromiumFact]
    public async Task QuickStartTrainsLiveAndDownloadsInChromium()
    {
        const int epochs = 5;
        var (summaryLine, screenshot) = await RunCheckAsync("dashboard-check.mjs", "dashboard.png", epochs);
        var s = JsonDocument.Parse(summaryLine).RootElement;
        Assert.True(s.GetProperty("ok").GetBoolean(), summaryLine);
        Assert.Equal("Succeeded", s.GetProperty("status").GetString());
        Assert.Equal(Enumerable.Range(1, epochs), s.GetProperty("chartEpochs").EnumerateArray().Select(e => e.GetInt32()));
        Assert.True(s.GetProperty("layerHistograms").GetInt32() >= 3, summaryLine); // the quick-start MLP has dense, relu, dense at least
        Assert.Equal(20, s.GetProperty("histogramBars").GetInt32());
        Assert.Equal(["safetensors", "json", "onnx"], s.GetProperty("downloads").EnumerateArray().Select(d => d.GetProperty("format").GetString()));
        Assert.All(s.GetProperty("downloads").EnumerateArray(), d => Assert.True(d.GetProperty("bytes").GetInt64() > 0));
        Assert.True(new FileInfo(screenshot).Length > 0, $"no screenshot at {screenshot}");
    }

    /// <summary>
    /// The Experiments panel: a two-variation experiment created over REST and opened at once shows one loss
    /// curve per variation in one chart, each growing to the final epoch, with a legend naming the variations.
    /// </summary>
    [ChromiumFact]
    public async Task ExperimentOverlayShowsOneCurvePerVariationInChromium()
    {
        const int epochs = 5;
        var (summaryLine, screenshot) = await RunCheckAsync("experiment-check.mjs", "experiment.png", epochs);
        var s = JsonDocument.Parse(summaryLine).RootElement;
        Assert.Equal(2, s.GetProperty("series").GetInt32());
        Assert.Equal([epochs, epochs], s.GetProperty("lastEpochs").EnumerateArray().Select(e => e.GetInt32()));
        Assert.All(s.GetProperty("state").GetProperty("series").EnumerateArray(),
            series => Assert.Equal(Enumerable.Range(1, epochs), series.GetProperty("epochs").EnumerateArray().Select(e => e.GetInt32())));
        Assert.Equal(["epoch", "sgd", "adam"], s.GetProperty("legend").EnumerateArray().Select(l => l.GetString()));
        Assert.True(new FileInfo(screenshot).Length > 0, $"no screenshot at {screenshot}");
    }

    /// <summary>
    /// A small ASHA search opened while its trials still wait: the panel follows it to the end on hub events alone, with a
    /// curve per trial holding every epoch trained and a dot per trial in the parameter scatter.
    /// </summary>
    [ChromiumFact]
    public async Task SearchPanelFollowsAnAshaSearchLiveInChromium()
    {
        var (summaryLine, screenshot) = await RunCheckAsync("search-check.mjs", "search.png", epochs: 3);
        var s = JsonDocument.Parse(summaryLine).RootElement;
        Assert.Equal("running", s.GetProperty("openedWhile").GetString());
        Assert.Equal(3, s.GetProperty("series").GetInt32());
        Assert.Equal(s.GetProperty("epochsTrained").GetInt32(), s.GetProperty("points").GetInt32());
        Assert.Equal(3, s.GetProperty("dots").GetInt32());
        Assert.Contains("best: trial", s.GetProperty("summaryText").GetString());
        Assert.True(new FileInfo(screenshot).Length > 0, $"no screenshot at {screenshot}");
    }

    /// <summary>
    /// A job with more epochs than the hub replays (2 here): opening it shows the HistoryTruncated note, and the chart
    /// still has every epoch, the omitted ones loaded from GET /jobs/{id}/metrics.
    /// </summary>
    [ChromiumFact]
    public async Task AJobWithMoreEpochsThanTheHubReplaysShowsTheNoteAndEveryEpochInChromium()
    {
        const int epochs = 6;
        using var factory = new ShortReplayFactory();
        var baseUrl = StartOnLoopback(factory);
        var client = factory.CreateClient();
        var jobId = await client.CreateJobAsync(await client.CreateModelAsync(), await client.CreateSyntheticAsync(size: 300), epochs);
        await client.WaitForStatusAsync(jobId, TimeSpan.FromMinutes(2), "succeeded");

        var (summaryLine, _) = await RunCheckAsync(factory, baseUrl, "history-check.mjs", "history.png",
            jobId.ToString(System.Globalization.CultureInfo.InvariantCulture), epochs.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var s = JsonDocument.Parse(summaryLine).RootElement;
        Assert.Equal(epochs - ShortReplayFactory.ReplayEpochs, s.GetProperty("noteOmitted").GetInt32());
        Assert.True(s.GetProperty("noteLoaded").GetBoolean(), summaryLine);
        Assert.Contains($"/jobs/{jobId}/metrics", s.GetProperty("note").GetString());
        Assert.Equal(Enumerable.Range(1, epochs), s.GetProperty("chartEpochs").EnumerateArray().Select(e => e.GetInt32()));
    }

    /// <summary>Swagger UI renders its operations under the service's Content-Security-Policy, with nothing blocked.</summary>
    [ChromiumFact]
    public async Task SwaggerUiRendersUnderTheContentSecurityPolicyInChromium()
    {
        using var factory = new ServiceFactory();
        var (summaryLine, _) = await RunCheckAsync(factory, StartOnLoopback(factory), "swagger-check.mjs", "swagger.png");
        Assert.True(JsonDocument.Parse(summaryLine).RootElement.GetProperty("operations").GetInt32() > 10, summaryLine);
    }

    private sealed class ShortReplayFactory : ServiceFactory
    {
        public const int ReplayEpochs = 2;

        protected override IEnumerable<(string Key, string Value)> Settings =>
            [("Training:HubReplayEpochs", ReplayEpochs.ToString(System.Globalization.CultureInfo.InvariantCulture))];
    }

    /// <summary>
    /// Hangfire's Dashboard through the service dashboard's Hangfire link: refused (401) before the sign-in, then the page,
    /// with the sign-in cookie out of the page's scripts' reach, the trained job among the succeeded ones, and no button
    /// that would change a job.
    /// </summary>
    [ChromiumFact]
    public async Task HangfireDashboardOpensForAnAdminThroughTheSignInLinkInChromium()
    {
        var (summaryLine, screenshot) = await RunCheckAsync("hangfire-check.mjs", "hangfire.png", epochs: 2);
        var s = JsonDocument.Parse(summaryLine).RootElement;
        Assert.True(s.GetProperty("ok").GetBoolean(), summaryLine);
        Assert.Equal(401, s.GetProperty("statusBeforeSignIn").GetInt32());
        Assert.False(s.GetProperty("pageBeforeSignIn").GetBoolean(), summaryLine);
        Assert.Equal("Training jobs (Hangfire)", s.GetProperty("brand").GetString());
        Assert.False(s.GetProperty("cookieVisibleToScript").GetBoolean(), summaryLine);
        Assert.True(s.GetProperty("cookie").GetProperty("httpOnly").GetBoolean(), summaryLine);
        Assert.Equal("Strict", s.GetProperty("cookie").GetProperty("sameSite").GetString());
        Assert.Equal("/hangfire", s.GetProperty("cookie").GetProperty("path").GetString());
        Assert.True(s.GetProperty("succeededListsJob").GetBoolean(), summaryLine);
        Assert.Equal(0, s.GetProperty("commandButtons").GetInt32());
        Assert.True(new FileInfo(screenshot).Length > 0, $"no screenshot at {screenshot}");
    }

    /// <summary>
    /// Runs one of tests/dashboard-check's scripts against the service on a real loopback port and returns its
    /// JSON summary line and the screenshot path (kept after the run for CI to collect; TestResults/ is ignored by git).
    /// </summary>
    private static async Task<(string SummaryLine, string Screenshot)> RunCheckAsync(string script, string screenshotName, int epochs)
    {
        using var factory = new ServiceFactory();
        return await RunCheckAsync(factory, StartOnLoopback(factory), script, screenshotName, "--epochs", epochs.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Starts the service on Kestrel at a free loopback port; returns its base address ending in '/'.</summary>
    private static string StartOnLoopback(ServiceFactory factory)
    {
        factory.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        factory.StartServer();
        return factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single().TrimEnd('/') + "/";
    }

    private static async Task<(string SummaryLine, string Screenshot)> RunCheckAsync(ServiceFactory factory, string baseUrl, string script,
        string screenshotName, params string[] args)
    {
        var root = Shared.Repository.Root;
        var checkDir = Path.Combine(root, "tests", "dashboard-check");
        if (!Directory.Exists(Path.Combine(checkDir, "node_modules", "playwright-core")))
            Assert.Fail("tests/dashboard-check/node_modules is missing: building tests/Shared restores it (npm ci).");

        var screenshot = Path.Combine(root, "TestResults", "dashboard", screenshotName);
        var (exitCode, stdout, stderr) = await RunAsync(checkDir, factory.AdminKey, "node", [script, baseUrl, screenshot, .. args]);
        var summaryLine = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
        Assert.True(exitCode == 0, $"{script} exited {exitCode}\nstdout: {stdout}\nstderr: {stderr}");
        return (summaryLine, screenshot);
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string workingDirectory, string? apiKey, string file, params string[] args) =>
        ExternalProcess.RunAsync(workingDirectory, ScriptTimeout, apiKey, file, args);
}

/// <summary>
/// A test that needs Debian's Chromium at /usr/bin/chromium (or CHROMIUM_PATH, as the scripts read it); reported as
/// skipped, with the command that installs it, when there is none.
/// </summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        var path = Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } p ? p : "/usr/bin/chromium";
        if (!File.Exists(path)) Skip = $"no browser at {path}: apt-get install -y chromium (.ci/run does)";
    }
}
