using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Bench;

/// <summary>
/// A reference network in Debian's PyTorch (bench/torch_peer.py), kept running so a bench can interleave its
/// epochs with the engine's and compare them under the same load. On AVX-512 CPUs OpenBLAS is told the core type
/// (OPENBLAS_CORETYPE=SkylakeX), which Debian's build otherwise misses on some of them and falls back to a slower kernel.
/// </summary>
internal sealed class TorchPeer : IDisposable
{
    private readonly Process _process;

    private TorchPeer(Process process, string version) => (_process, Version) = (process, version);

    public string Version { get; }

    /// <summary>The peer for <paramref name="model"/> ("mlp" or "cnn") on <paramref name="samples"/> samples; null (with the reason printed) when PyTorch is not importable.</summary>
    public static TorchPeer? Start(string model, int samples)
    {
        // Debian's python3-torch lives under the system interpreter; a python3 earlier on PATH may not see it.
        string python = Environment.GetEnvironmentVariable("BENCH_PYTHON") ?? (File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
        var start = new ProcessStartInfo(python)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "torch_peer.py"));
        start.ArgumentList.Add(model);
        start.ArgumentList.Add(samples.ToString(CultureInfo.InvariantCulture));
        if (CpuInfo.HasAvx512()) start.Environment["OPENBLAS_CORETYPE"] = "SkylakeX";
        Process process;
        try { process = Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception e)
        {
            Console.WriteLine($"pytorch: not run ({e.Message})");
            return null;
        }
        string? first = process.StandardOutput.ReadLine();
        if (first is null)
        {
            string reason = process.StandardError.ReadToEnd().Trim().Split('\n')[^1];
            process.WaitForExit();
            process.Dispose();
            Console.WriteLine($"pytorch: not run ({reason})");
            return null;
        }
        // Drained in the background so a chatty warning cannot fill the pipe and stall the peer.
        _ = process.StandardError.ReadToEndAsync();
        var hello = JsonDocument.Parse(first).RootElement;
        return new TorchPeer(process, $"{hello.GetProperty("version").GetString()} ({hello.GetProperty("blas").GetString()} BLAS)");
    }

    /// <summary>Wall and CPU seconds of one training epoch on <paramref name="threads"/> threads (after a warm-up epoch the first time).</summary>
    public (double Wall, double Cpu) Epoch(int threads)
    {
        var answer = Ask($"epoch {threads}");
        return (answer.GetProperty("seconds").GetDouble(), answer.GetProperty("cpu").GetDouble());
    }

    /// <summary>torch.mm's best FLOP/s on 1024³ on <paramref name="threads"/> threads.</summary>
    public double MatmulFlops(int threads) => Ask($"matmul {threads}").GetProperty("flops").GetDouble();

    private JsonElement Ask(string command)
    {
        _process.StandardInput.WriteLine(command);
        _process.StandardInput.Flush();
        string line = _process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("the PyTorch peer exited");
        return JsonDocument.Parse(line).RootElement;
    }

    public void Dispose()
    {
        _process.StandardInput.Close();
        if (!_process.WaitForExit(10_000)) _process.Kill();
        _process.Dispose();
    }
}
