using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;

namespace Reliability.Tests.Abuse;

/// <summary>
/// A SignalR client (JSON protocol over a raw WebSocket) that subscribes and then never reads again, with a small
/// socket receive buffer so the service's sends back up quickly. It keeps pinging, so the service cannot mistake it
/// for a silent one (ClientTimeoutInterval): only its not reading can get it closed.
/// </summary>
internal sealed class StalledHubClient : IAsyncDisposable
{
    private const char Separator = '\u001e';
    private readonly ClientWebSocket _socket;
    private readonly HttpMessageInvoker _invoker;
    private readonly CancellationTokenSource _stop = new();
    private Task _pings = Task.CompletedTask;

    private StalledHubClient(ClientWebSocket socket, HttpMessageInvoker invoker) => (_socket, _invoker) = (socket, invoker);

    public static async Task<StalledHubClient> ConnectAsync(Uri service, string key)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096, NoDelay = true };
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        var invoker = new HttpMessageInvoker(handler);
        var socket = new ClientWebSocket();
        var uri = new UriBuilder(service) { Scheme = "ws", Path = "/hubs/training", Query = "access_token=" + Uri.EscapeDataString(key) }.Uri;
        await socket.ConnectAsync(uri, invoker, CancellationToken.None);
        var client = new StalledHubClient(socket, invoker);
        await client.SendAsync("{\"protocol\":\"json\",\"version\":1}");
        // The handshake answer ({}) is the last thing this client reads until it is closed.
        var buffer = new byte[1024];
        var answer = await socket.ReceiveAsync(buffer, CancellationToken.None);
        var text = Encoding.UTF8.GetString(buffer, 0, answer.Count);
        if (text.Contains("error", StringComparison.Ordinal)) throw new InvalidOperationException("handshake refused: " + text);
        return client;
    }

    public async Task SubscribeAsync(long jobId)
    {
        await SendAsync($"{{\"type\":1,\"invocationId\":\"1\",\"target\":\"Subscribe\",\"arguments\":[{jobId}]}}");
        _pings = PingAsync(_stop.Token);
    }

    /// <summary>Reads what was left unread until the service's close (true) or a minute passes (false).</summary>
    public async Task<bool> WasClosedByServerAsync()
    {
        await _stop.CancelAsync();
        await _pings;
        var buffer = new byte[1 << 16];
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer, limit.Token);
                if (result.MessageType == WebSocketMessageType.Close) return true;
            }
        }
        catch (WebSocketException)
        {
            return true; // aborted: the connection was reset without a close frame
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task PingAsync(CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await SendAsync("{\"type\":6}", ct);
                await Task.Delay(TimeSpan.FromSeconds(2), ct);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or IOException)
        {
            // Stopped, or the service closed the connection.
        }
    }

    private Task SendAsync(string message, CancellationToken ct = default) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(message + Separator), WebSocketMessageType.Text, endOfMessage: true, ct);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _pings;
        _socket.Abort();
        _socket.Dispose();
        _invoker.Dispose();
        _stop.Dispose();
    }
}
