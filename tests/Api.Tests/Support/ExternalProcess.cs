using System.Diagnostics;

namespace Api.Tests;

/// <summary>The repository's Node programs (SignalR client, ONNX Runtime, browser checks), run from the tests.</summary>
public static class ExternalProcess
{
    /// <summary>
    /// Runs <paramref name="file"/> to completion and returns its exit code and output; fails the test, with
    /// the output so far, when it outlives <paramref name="timeout"/>. The API key goes in an environment
    /// variable rather than an argument, which every user could read in ps.
    /// </summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(
        string workingDirectory, TimeSpan timeout, string? apiKey, string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        if (apiKey is not null) start.Environment["API_KEY"] = apiKey;
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', args)} ran longer than {timeout}\nstdout: {await stdout}\nstderr: {await stderr}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}
