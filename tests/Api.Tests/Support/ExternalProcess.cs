namespace Api.Tests;

/// <summary>The repository's Node programs (SignalR client, ONNX Runtime, browser checks), run from the tests.</summary>
public static class ExternalProcess
{
    /// <summary>
    /// Runs <paramref name="file"/> to completion and returns its exit code and output; throws, with
    /// the output so far, when it outlives <paramref name="timeout"/>. The API key goes in an environment
    /// variable rather than an argument, which every user could read in ps.
    /// </summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(
        string workingDirectory, TimeSpan timeout, string? apiKey, string file, params string[] args) =>
        Shared.ChildProcesses.RunAsync(file, args, workingDirectory,
            apiKey is null ? null : new Dictionary<string, string> { ["API_KEY"] = apiKey }, timeout: timeout);
}
