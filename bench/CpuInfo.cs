namespace Bench;

/// <summary>What every printed figure needs beside it on a shared machine: the CPU model and the load while it ran.</summary>
internal static class CpuInfo
{
    public static string Model()
    {
        if (!File.Exists("/proc/cpuinfo")) return "unknown";
        foreach (var line in File.ReadLines("/proc/cpuinfo"))
            if (line.StartsWith("model name", StringComparison.Ordinal)) return line[(line.IndexOf(':') + 1)..].Trim();
        return "unknown";
    }

    /// <summary>The 1-minute load average (runnable threads, all processes), or "n/a" off Linux.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";

    public static bool HasAvx512() =>
        File.Exists("/proc/cpuinfo") && File.ReadAllText("/proc/cpuinfo").Contains("avx512f", StringComparison.Ordinal);
}
