using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Engine.Tests.Onnx;

/// <summary>
/// Runs an ONNX model in ONNX Runtime through <c>node tests/onnx-check/run-onnx.mjs</c> (onnxruntime-node,
/// CPU). A missing npm install fails the test with the command that fixes it: silently skipping would let
/// CI pass without ever checking the export.
/// </summary>
internal static class OnnxRuntimeRunner
{
    public const string InstallCommand = "ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix tests/onnx-check";
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    /// <summary>Output "output" of <paramref name="model"/> for <paramref name="rows"/>×<paramref name="cols"/> inputs.</summary>
    public static float[] Run(byte[] model, float[] inputs, int rows, int cols)
    {
        string root = Shared.Repository.Root;
        string checkDir = Path.Combine(root, "tests", "onnx-check");
        RequireInstalled(checkDir);

        string dir = Directory.CreateTempSubdirectory("onnx-check-").FullName;
        try
        {
            string modelPath = Path.Combine(dir, "model.onnx"), inputPath = Path.Combine(dir, "inputs.json");
            File.WriteAllBytes(modelPath, model);
            File.WriteAllText(inputPath, InputsJson(inputs, rows, cols));
            string stdout = RunNode(root, Path.Combine(checkDir, "run-onnx.mjs"), modelPath, inputPath);
            using var json = JsonDocument.Parse(stdout);
            var output = json.RootElement.GetProperty(Engine.Serialization.OnnxExport.OutputName);
            int[] dims = [.. output.GetProperty("dims").EnumerateArray().Select(e => e.GetInt32())];
            Assert.Equal(rows, dims[0]);
            // Each value is a float32 widened to double by the runtime, so narrowing back is exact.
            return [.. output.GetProperty("data").EnumerateArray().Select(e => (float)e.GetDouble())];
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Fails (never skips) when <c>npm ci</c> has not been run in <paramref name="checkDir"/>.</summary>
    public static void RequireInstalled(string checkDir)
    {
        if (!Directory.Exists(Path.Combine(checkDir, "node_modules", "onnxruntime-node")))
            Assert.Fail($"onnxruntime-node is not installed in {checkDir}. From the repository root run: {InstallCommand}");
    }

    /// <summary>Shortest round-trip formatting: every float reaches the runtime unchanged.</summary>
    private static string InputsJson(float[] inputs, int rows, int cols)
    {
        var sb = new StringBuilder();
        sb.Append($"{{\"{Engine.Serialization.OnnxExport.InputName}\":{{\"dims\":[{rows},{cols}],\"data\":[");
        for (int i = 0; i < inputs.Length; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append(inputs[i].ToString("R", CultureInfo.InvariantCulture));
        }
        return sb.Append("]}}").ToString();
    }

    private static string RunNode(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("node") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("node did not start.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Assert.Fail($"Could not start 'node' ({e.Message}); Node.js must be on PATH for the ONNX Runtime check.");
            throw;
        }
        using (process)
        {
            // Read both streams concurrently so a full stderr pipe cannot block the child.
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(Timeout))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"node run-onnx.mjs did not finish within {Timeout.TotalSeconds} s.");
            }
            if (process.ExitCode != 0) Assert.Fail($"node run-onnx.mjs exited with {process.ExitCode}: {stderr.Result}");
            return stdout.Result;
        }
    }
}
