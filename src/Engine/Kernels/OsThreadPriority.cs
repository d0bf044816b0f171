using System.Runtime.InteropServices;

namespace Engine.Kernels;

/// <summary>
/// Linux nice values of single threads, for whoever runs training in the background (the service's training threads and
/// the engine's workers through <see cref="Gemm.WorkerThreadStarted"/>, and the bench comparing with them). Lowering
/// one's own priority needs no privileges; raising it back would.
/// </summary>
public static partial class OsThreadPriority
{
    private const int PrioProcess = 0;

    /// <summary>
    /// Lowers the calling thread to <paramref name="nice"/> (0 to 19). True when done, or nothing to do (0, or not Linux);
    /// false with the reason otherwise.
    /// </summary>
    public static bool TryLowerCurrentThread(int nice, out string? failure)
    {
        failure = null;
        if (nice == 0 || !OperatingSystem.IsLinux()) return true;
        try
        {
            // who = a thread id: on Linux, PRIO_PROCESS with a tid sets that one thread, not the whole process.
            if (setpriority(PrioProcess, gettid(), nice) == 0) return true;
            failure = $"setpriority failed with errno {Marshal.GetLastPInvokeError()}";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            failure = e.Message;
        }
        return false;
    }

    /// <summary>The calling thread's nice value on Linux (what <c>getpriority</c> reports); null elsewhere.</summary>
    public static int? CurrentThreadNice()
    {
        if (!OperatingSystem.IsLinux()) return null;
        Marshal.SetLastPInvokeError(0);
        int value = getpriority(PrioProcess, gettid());
        // -1 is also a valid nice value; errno tells the two apart.
        return value == -1 && Marshal.GetLastPInvokeError() != 0 ? null : value;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setpriority(int which, int who, int prio);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getpriority(int which, int who);

    [LibraryImport("libc")]
    private static partial int gettid();
}
