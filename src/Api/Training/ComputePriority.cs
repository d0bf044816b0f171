using Engine.Kernels;
using Microsoft.Extensions.Options;

namespace Api.Training;

/// <summary>
/// Lowers the OS priority (Linux nice, <c>Training:Nice</c>) of the threads that train: each job's training thread and
/// the engine's worker threads. Training is background work and keeps every core busy; at nice 10 the
/// kernel's scheduler gives a request thread about ten times a training thread's share of a contended core
/// (CFS weights 1024 and 110), and training still gets every cycle the requests leave. Lowering one's own priority needs no privileges; raising it back would,
/// so the setting applies only to threads that do nothing but train.
/// </summary>
internal static class ComputePriority
{
    private static int s_nice;
    private static int s_failed;
    private static ILogger? s_logger;

    /// <summary>The nice value training threads get; 0 leaves them as they are.</summary>
    public static int Nice => Volatile.Read(ref s_nice);

    /// <summary>Called at start-up from the configuration; clamped to Linux's range 0..19 (lowering only).</summary>
    public static void Configure(int nice) => Volatile.Write(ref s_nice, Math.Clamp(nice, 0, 19));

    /// <summary>Lowers the calling thread to <see cref="Nice"/>. A failure is logged once and otherwise ignored.</summary>
    public static void LowerCurrentThread()
    {
        if (!OsThreadPriority.TryLowerCurrentThread(Nice, out var failure)) Failed(failure!);
    }

    /// <summary>The calling thread's nice value on Linux; null elsewhere.</summary>
    public static int? CurrentThreadNice() => OsThreadPriority.CurrentThreadNice();

    private static void Failed(string reason)
    {
        if (Interlocked.Exchange(ref s_failed, 1) != 0) return;
        s_failure = reason;
        s_logger?.LogWarning("Training threads keep their priority (Training:Nice ignored): {Reason}", reason);
    }

    /// <summary>A failure that happened before the host's logger was there, to log at start.</summary>
    private static string? s_failure;

    /// <summary>Gives the helper the host's logger, for its one warning; the nice value itself is set before the host is built.</summary>
    internal sealed class Logging(ILoggerFactory loggers, IOptions<WorkerOptions> options) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            var logger = s_logger = loggers.CreateLogger(typeof(ComputePriority).FullName!);
            if (s_failure is { } reason) logger.LogWarning("Training threads keep their priority (Training:Nice ignored): {Reason}", reason);
            if (options.Value.Nice > 0 && !OperatingSystem.IsLinux())
                logger.LogInformation("Training:Nice applies on Linux only; training threads keep their priority here");
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
