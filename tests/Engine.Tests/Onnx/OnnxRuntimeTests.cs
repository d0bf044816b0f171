using Engine.Serialization;
using Xunit.Abstractions;

namespace Engine.Tests.Onnx;

/// <summary>
/// The check that matters: ONNX Runtime, given the exported bytes and raw inputs, returns what
/// <see cref="Network.Predict"/> returns, to within 1e-5 (the runtime's Gemm sums in another order).
/// </summary>
public class OnnxRuntimeTests(ITestOutputHelper output)
{
    private const float Tolerance = 1e-5f;

    public static TheoryData<string> Networks => [.. OnnxTestNetworks.All];

    [Theory]
    [MemberData(nameof(Networks))]
    public void OnnxRuntimeMatchesPredictOnRawInputs(string name)
    {
        var net = OnnxTestNetworks.Create(name);
        const int rows = 37;
        var raw = OnnxTestNetworks.RawInputs(net, rows, seed: 99);
        var expected = net.Predict(raw, rows);

        var actual = OnnxRuntimeRunner.Run(OnnxExport.Write(net), raw, rows, net.InputWidth);

        AssertClose(expected, actual, name);
    }

    [Fact]
    public void BatchDimensionIsDynamic()
    {
        var net = OnnxTestNetworks.Create(OnnxTestNetworks.BatchNormDropoutSoftmax);
        var model = OnnxExport.Write(net);
        foreach (int rows in new[] { 1, 5 })
        {
            var raw = OnnxTestNetworks.RawInputs(net, rows, seed: (ulong)rows);
            AssertClose(net.Predict(raw, rows), OnnxRuntimeRunner.Run(model, raw, rows, net.InputWidth), $"{rows} rows");
        }
    }

    [Fact]
    public void MissingNodeModulesFailsWithTheInstallCommand()
    {
        string empty = Directory.CreateTempSubdirectory("onnx-check-empty-").FullName;
        try
        {
            var e = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => OnnxRuntimeRunner.RequireInstalled(empty));
            Assert.Contains("ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix tests/onnx-check", e.Message);
        }
        finally
        {
            Directory.Delete(empty);
        }
    }

    private void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float maxDiff = 0;
        for (int i = 0; i < expected.Length; i++) maxDiff = MathF.Max(maxDiff, MathF.Abs(expected[i] - actual[i]));
        output.WriteLine($"{what}: {expected.Length} values, max |Predict − ONNX Runtime| = {maxDiff:E3}");
        Assert.True(maxDiff <= Tolerance, $"{what}: max |diff| {maxDiff:E3} exceeds {Tolerance:E0}.");
        // Guard against a vacuous pass: the outputs must actually vary across samples.
        Assert.True(expected.Distinct().Count() > expected.Length / 2, $"{what}: Predict's outputs are nearly constant.");
    }
}
