using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Shared;

/// <summary>Small helpers for the servers the tests start: free loopback ports and commands run to completion.</summary>
public static class ChildProcesses
{
    /// <summary>A port the OS just gave out on 127.0.0.1 (free now; the server binds it right after).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Runs a command to its end; throws with its output when it exits non-zero. Returns standard output.</summary>
    public static string Run(string file, IEnumerable<string> arguments, string? runAs = null, TimeSpan? timeout = null)
    {
        var args = arguments.ToList();
        var (exitCode, stdout, stderr) = RunAsync(file, args, runAs: runAs, timeout: timeout).GetAwaiter().GetResult();
        if (exitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {exitCode}:\n{stdout}\n{stderr}");
        return stdout;
    }

    /// <summary>
    /// Runs a command to its end and returns its exit code and output, in <paramref name="workingDirectory"/> with
    /// <paramref name="environment"/> added, as <paramref name="runAs"/> when given; past <paramref name="timeout"/>
    /// (2 minutes by default) it is killed and a <see cref="TimeoutException"/> carries the output so far.
    /// </summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string file, IEnumerable<string> arguments,
        string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null, string? runAs = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(runAs is null ? file : "runuser")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null) info.WorkingDirectory = workingDirectory;
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        if (runAs is not null)
        {
            info.ArgumentList.Add("-u");
            info.ArgumentList.Add(runAs);
            info.ArgumentList.Add("--");
            info.ArgumentList.Add(file);
        }
        foreach (var a in arguments) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{file} did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', info.ArgumentList)} did not finish within {timeout}\n" +
                $"stdout: {await stdout}\nstderr: {await stderr}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    public static bool IsRoot => Environment.UserName == "root";
}
