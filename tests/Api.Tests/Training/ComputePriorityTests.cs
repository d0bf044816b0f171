using Api.Training;

namespace Api.Tests.Training;

/// <summary>Training threads run at Training:Nice (Linux): real threads, their nice read back from the kernel.</summary>
public sealed class ComputePriorityTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public void TheHookIsSetAndLoweringNicesOnlyTheCallingThread()
    {
        _ = factory.Services; // builds the host: AddTraining configures the nice value and the engine's hook
        Assert.Equal(10, ComputePriority.Nice);
        Assert.Equal((Action)ComputePriority.LowerCurrentThread, Engine.Kernels.Gemm.WorkerThreadStarted);
        if (!OperatingSystem.IsLinux()) return;

        int before = ProcNice("thread-self");
        int? lowered = null, reported = null;
        var thread = new Thread(() =>
        {
            ComputePriority.LowerCurrentThread();
            lowered = ProcNice("thread-self");
            reported = ComputePriority.CurrentThreadNice();
        });
        thread.Start();
        thread.Join();
        Assert.Equal(10, lowered);
        Assert.Equal(10, reported);
        // One thread, not the process: the caller (and so the request threads) keep their priority.
        Assert.Equal(before, ProcNice("thread-self"));
        Assert.Equal(before, ComputePriority.CurrentThreadNice());
    }

    /// <summary>Field 19 of /proc/&lt;task&gt;/stat, counted after the parenthesised command name (which may hold spaces).</summary>
    private static int ProcNice(string task)
    {
        var stat = File.ReadAllText($"/proc/{task}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[16], System.Globalization.CultureInfo.InvariantCulture);
    }
}
