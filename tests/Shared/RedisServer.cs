using System.Diagnostics;
using System.Net.Sockets;

namespace Shared;

/// <summary>
/// A throw-away redis-server from Debian's <c>redis-server</c> package on a free loopback port, working folder in a temp
/// folder, no persistence (no RDB snapshots, no AOF). Disposing kills it and deletes the folder.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    public const string InstallHint = "Redis is not installed: apt-get update && apt-get install -y redis-server";

    private readonly Process _process;

    private RedisServer(Process process, string folder, int port) => (_process, Folder, Port) = (process, folder, port);

    public string Folder { get; }
    public int Port { get; }

    /// <summary>The StackExchange.Redis configuration string for this server.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        var executable = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException(InstallHint);
        var folder = Directory.CreateTempSubdirectory("redis-").FullName;
        int port = ChildProcesses.FreePort();
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = folder,
        };
        foreach (var a in new[] { "--port", $"{port}", "--bind", "127.0.0.1", "--dir", folder, "--save", "", "--appendonly", "no",
                     "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning" })
            info.ArgumentList.Add(a);
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new RedisServer(process, folder, port);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (process.HasExited)
            {
                await server.DisposeAsync();
                throw new InvalidOperationException($"redis-server exited with {process.ExitCode}");
            }
            if (await server.PingsAsync()) return server;
            if (DateTime.UtcNow > deadline)
            {
                await server.DisposeAsync();
                throw new TimeoutException("redis-server did not answer PING");
            }
            await Task.Delay(50);
        }
    }

    private async Task<bool> PingsAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            int read = await stream.ReadAsync(buffer);
            return System.Text.Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // The OS temp folder is cleaned eventually.
        }
    }
}
