using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Bench;

/// <summary>
/// N concurrent SignalR subscribers (raw WebSockets speaking the JSON hub protocol, no SignalR client
/// library) of one running job: every subscriber must receive every epoch exactly once; delivery latency
/// is the receive time minus the event's <c>storedAt</c> (the metrics' commit time; same machine clock).
/// Args: [--subscribers 500] [--epochs 20] [--size 60000] (spirals samples; sets the epoch length).
/// </summary>
internal static class StreamBench
{
    private const char RecordSeparator = '\u001e';

    public static void Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task RunAsync(string[] args)
    {
        int count = ServiceBench.IntOption(args, "--subscribers", 500);
        int epochs = ServiceBench.IntOption(args, "--epochs", 20);
        int size = ServiceBench.IntOption(args, "--size", 60_000);
        await using var service = await ServiceHost.StartAsync();
        long datasetId = await service.CreateSpiralsAsync(size);

        var hubUri = new UriBuilder(service.BaseAddress) { Scheme = "ws", Path = "/hubs/training", Query = "access_token=" + ServiceHost.ApiKey }.Uri;
        var subscribers = Enumerable.Range(0, count).Select(_ => new Subscriber()).ToArray();
        var connect = Stopwatch.StartNew();
        // In waves, so the connect storm itself does not hit the server's accept backlog.
        foreach (var wave in subscribers.Chunk(50)) await Task.WhenAll(wave.Select(s => s.ConnectAsync(hubUri)));
        Console.WriteLine($"{count} WebSocket connections (JSON hub protocol) open in {connect.Elapsed.TotalSeconds:F2} s");

        long jobId = await service.CreateJobAsync(new CreateJobRequest(Spec: ServiceHost.SmallSpec, DatasetId: datasetId, Epochs: epochs,
            BatchSize: 32, CheckpointEvery: 1, Optimizer: new OptimizerSpec(OptimizerKind.Adam, 1e-3f)));
        var cpuBefore = service.CpuTime;
        var subscribe = Stopwatch.StartNew();
        await Task.WhenAll(subscribers.Select(s => s.SubscribeAsync(jobId)));
        Console.WriteLine($"all subscribed to job {jobId} in {subscribe.Elapsed.TotalSeconds:F2} s");

        var finished = Task.WhenAll(subscribers.Select(s => s.Finished));
        if (await Task.WhenAny(finished, Task.Delay(TimeSpan.FromMinutes(10))) != finished)
            throw new TimeoutException("the job did not finish for every subscriber within 10 minutes");
        var cpu = service.CpuTime - cpuBefore;
        await Task.WhenAll(subscribers.Select(s => s.CloseAsync()));

        var metrics = await service.Api.GetMetricsAsync(jobId);
        double epochSeconds = metrics.Average(m => m.Seconds);
        int complete = subscribers.Count(s => s.Epochs.Count == epochs && s.Epochs.Select(e => e.Epoch).Distinct().Count() == epochs);
        var live = subscribers.SelectMany(s => s.Epochs.Where(e => e.Live).Select(e => e.LatencyMs)).ToArray();
        Array.Sort(live);
        Console.WriteLine($"job: {epochs} epochs of {size} spirals samples, mean {epochSeconds:F3} s per epoch, status {subscribers[0].FinalStatus}");
        Console.WriteLine($"subscribers with every epoch exactly once: {complete}/{count}; " +
                          $"live deliveries {live.Length} (the rest were replayed history at Subscribe)");
        Console.WriteLine($"delivery latency from storedAt: p50 {Stats.Percentile(live, 0.50):F1} ms, p99 {Stats.Percentile(live, 0.99):F1} ms, " +
                          $"max {(live.Length > 0 ? live[^1] : double.NaN):F1} ms");
        long messages = subscribers.Sum(s => s.Messages);
        Console.WriteLine($"service CPU {cpu.TotalSeconds:F1} s (training included) for {messages} hub messages delivered; " +
                          $"load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
    }

    private sealed class Subscriber
    {
        private readonly ClientWebSocket _socket = new();
        private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ArrayBufferWriter<byte> _buffer = new(4096);
        // History replayed by Subscribe ends with the job's current status; every epoch after that is live.
        private bool _live;

        public List<(int Epoch, double LatencyMs, bool Live)> Epochs { get; } = [];
        public long Messages { get; private set; }
        public string? FinalStatus { get; private set; }
        public Task Finished => _finished.Task;

        public async Task ConnectAsync(Uri hub)
        {
            // Straight to the WebSocket transport, skipping /negotiate, as the clients' skipNegotiation does.
            await _socket.ConnectAsync(hub, CancellationToken.None);
            await SendAsync("{\"protocol\":\"json\",\"version\":1}");
            await ReceiveAsync();
            var handshake = Encoding.UTF8.GetString(_buffer.WrittenSpan);
            if (handshake != "{}" + RecordSeparator) throw new InvalidOperationException($"handshake refused: {handshake}");
        }

        public async Task SubscribeAsync(long jobId)
        {
            _ = Task.Run(ReceiveLoopAsync);
            await SendAsync($"{{\"type\":1,\"invocationId\":\"1\",\"target\":\"Subscribe\",\"arguments\":[{jobId}]}}");
            await _subscribed.Task;
            _ = Task.Run(PingLoopAsync);
        }

        /// <summary>The server drops a client silent for 30 s; a ping every 10 s keeps long runs alive.</summary>
        private async Task PingLoopAsync()
        {
            while (!_finished.Task.IsCompleted)
            {
                await Task.WhenAny(_finished.Task, Task.Delay(TimeSpan.FromSeconds(10)));
                if (!_finished.Task.IsCompleted && _socket.State == WebSocketState.Open) await SendAsync("{\"type\":6}");
            }
        }

        private async Task ReceiveLoopAsync()
        {
            try
            {
                while (!_finished.Task.IsCompleted)
                {
                    var received = await ReceiveAsync();
                    foreach (var m in Split(_buffer.WrittenMemory))
                    {
                        Messages++;
                        Handle(m, received);
                    }
                }
            }
            catch (Exception e)
            {
                _subscribed.TrySetException(e);
                _finished.TrySetException(e);
            }
        }

        private static IEnumerable<ReadOnlyMemory<byte>> Split(ReadOnlyMemory<byte> text)
        {
            while (text.Span.IndexOf((byte)RecordSeparator) is var end and >= 0)
            {
                if (end > 0) yield return text[..end];
                text = text[(end + 1)..];
            }
        }

        private static readonly byte[] BatchProgress = "\"target\":\"BatchProgress\""u8.ToArray();

        private void Handle(ReadOnlyMemory<byte> message, DateTime received)
        {
            // Progress events are most of the traffic and carry nothing this bench measures: skipped unparsed, as a lean client would.
            if (message.Span.IndexOf(BatchProgress) >= 0) return;
            using var doc = JsonDocument.Parse(message);
            var root = doc.RootElement;
            switch (root.GetProperty("type").GetInt32())
            {
                case 1:
                    var target = root.GetProperty("target").GetString();
                    var e = root.GetProperty("arguments")[0];
                    if (target == "EpochCompleted")
                        Epochs.Add((e.GetProperty("epoch").GetInt32(), (received - e.GetProperty("storedAt").GetDateTime()).TotalMilliseconds, _live));
                    else if (target == "JobStatusChanged")
                    {
                        _live = true;
                        var status = e.GetProperty("status").GetString();
                        if (status is "succeeded" or "failed" or "cancelled")
                        {
                            FinalStatus = status;
                            _finished.TrySetResult();
                        }
                    }
                    break;
                case 3:
                    if (root.TryGetProperty("error", out var error)) _subscribed.TrySetException(new InvalidOperationException(error.GetString()));
                    else _subscribed.TrySetResult();
                    break;
                case 7:
                    _finished.TrySetException(new InvalidOperationException($"server closed the connection: {Encoding.UTF8.GetString(message.Span)}"));
                    break;
            }
        }

        private Task SendAsync(string message) =>
            _socket.SendAsync(Encoding.UTF8.GetBytes(message + RecordSeparator), WebSocketMessageType.Text, true, CancellationToken.None);

        /// <summary>One WebSocket message into the subscriber's one buffer; the time is taken as soon as it has arrived.</summary>
        private async Task<DateTime> ReceiveAsync()
        {
            _buffer.ResetWrittenCount();
            ValueWebSocketReceiveResult result;
            do
            {
                result = await _socket.ReceiveAsync(_buffer.GetMemory(4096), CancellationToken.None);
                _buffer.Advance(result.Count);
            } while (!result.EndOfMessage);
            var received = DateTime.UtcNow;
            if (result.MessageType == WebSocketMessageType.Close) throw new InvalidOperationException("the server closed the WebSocket");
            return received;
        }

        public async Task CloseAsync()
        {
            if (_socket.State == WebSocketState.Open)
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
            _socket.Dispose();
        }
    }
}
