using Engine.Data;
using Engine.Diagnostics;
using Engine.Layers;
using Engine.Losses;
using Engine.Specs;
using Engine.Tensors;

namespace Engine.Tests.Diagnostics;

public class GradientCheckerTests
{
    public static TheoryData<string> RealStacks => ["dense-relu", "leaky-tanh", "sigmoid-batchnorm", "dropout", "all"];

    private static ModelSpec Spec(string stack, LossKind loss = LossKind.SoftmaxCrossEntropy) => new([2], stack switch
    {
        "dense-relu" => [new DenseSpec(16), new ReluSpec(), new DenseSpec(3)],
        "leaky-tanh" => [new DenseSpec(12), new LeakyReluSpec(0.1f), new DenseSpec(8), new TanhSpec(), new DenseSpec(3)],
        "sigmoid-batchnorm" => [new DenseSpec(10), new BatchNormSpec(), new SigmoidSpec(), new DenseSpec(3)],
        "dropout" => [new DenseSpec(16), new ReluSpec(), new DropoutSpec(0.5f), new DenseSpec(3)],
        _ => [new DenseSpec(16), new BatchNormSpec(), new ReluSpec(), new DropoutSpec(0.3f), new DenseSpec(12),
              new LeakyReluSpec(), new DenseSpec(8), new TanhSpec(), new DenseSpec(6), new SigmoidSpec(), new DenseSpec(3)],
    }, loss);

    private static Dataset Batch(int n = 8) => SyntheticData.Generate(SyntheticKind.Blobs, n, 3, seed: 5);

    [Theory]
    [MemberData(nameof(RealStacks))]
    public void EveryRealLayerTypePasses(string stack)
    {
        var network = Network.Create(Spec(stack), new Rng(3));
        var report = GradientChecker.Check(network, Batch());
        Assert.True(report.Passed, string.Join("\n", report.Results));
        Assert.All(report.Results, r => Assert.True(r.Checked > 0, $"{r} checked nothing"));
        int parameterized = network.Layers.Count(l => l.Parameters.Count > 0);
        Assert.Equal(network.Parameters.Count, report.Results.Count);
        Assert.Equal(parameterized, report.Results.Select(r => r.LayerIndex).Distinct().Count());
    }

    [Theory]
    [InlineData(LossKind.Mse)]
    [InlineData(LossKind.SigmoidBinaryCrossEntropy)]
    public void EveryLossPasses(LossKind loss)
    {
        var network = Network.Create(Spec("all", loss), new Rng(4));
        var blobs = Batch(8);
        var rows = new float[blobs.Count * 3];
        for (int i = 0; i < blobs.Count; i++) rows[i * 3 + blobs.Labels![i]] = 1f; // one-hot targets fit both losses
        var batch = new Dataset(blobs.Features, blobs.SampleShape, blobs.Count, null, rows, 3, 0);
        Assert.True(GradientChecker.Check(network, batch).Passed);
    }

    [Fact]
    public void LargeTensorsAreSampledAndTheNetworkIsLeftAsItWas()
    {
        var spec = new ModelSpec([2], [new DenseSpec(100), new BatchNormSpec(), new ReluSpec(), new DenseSpec(3)], LossKind.SoftmaxCrossEntropy);
        var network = Network.Create(spec, new Rng(9));
        var before = network.ExportTensors();
        var rngBefore = network.Rng.Clone().NextUInt64();
        var report = GradientChecker.Check(network, Batch(), new GradientCheckOptions { MaxEntriesPerParameter = 20 });
        var weight = report.Results[0];
        Assert.Equal(200, weight.Size);
        Assert.Equal(20, weight.Checked + weight.Skipped);
        var after = network.ExportTensors();
        for (int i = 0; i < before.Count; i++) Assert.Equal(before[i].Data, after[i].Data); // weights and BN running stats
        Assert.Equal(rngBefore, network.Rng.NextUInt64()); // dropout stream untouched
        Assert.All(network.Parameters, p => Assert.All(p.Grad, g => Assert.Equal(0f, g)));
    }

    [Fact]
    public void ABrokenBackwardIsFlaggedOnExactlyItsParameter()
    {
        var rng = new Rng(2);
        var dense = new Dense(2, 6, "layers.0.");
        Initializers.Fill(dense.Weight.Value, 2, 6, InitKind.Xavier, null, rng);
        var broken = new BrokenScale(6);
        var head = new Dense(6, 3, "layers.3.");
        Initializers.Fill(head.Weight.Value, 6, 3, InitKind.Xavier, null, rng);
        Layer[] layers = [dense, new Tanh(6), broken, head];
        var batch = Batch();
        var report = GradientChecker.Check(layers, new SoftmaxCrossEntropy(), new Tensor(batch.Features, batch.Count, 2),
            Targets.FromLabels(batch.Labels!));

        Assert.False(report.Passed);
        var failed = Assert.Single(report.Results, r => !r.Passed);
        Assert.Equal((2, "scale"), (failed.LayerIndex, failed.Parameter));
        Assert.True(failed.MaxRelError > 0.3, failed.ToString());
    }

    /// <summary>y = x ⊙ s per column; the backward "forgets" x in ∂L/∂s (accumulates Σ dy instead of Σ dy·x).</summary>
    private sealed class BrokenScale : Layer
    {
        private readonly Parameter _scale;
        private readonly Tensor _output = new(0, 0), _inputGrad = new(0, 0);
        private Tensor? _input;

        public BrokenScale(int width)
        {
            _scale = new Parameter("layers.2.scale", [width], decays: false);
            for (int i = 0; i < width; i++) _scale.Value[i] = 0.5f + 0.1f * i;
        }

        public override int OutputWidth => _scale.Value.Length;
        public override IReadOnlyList<Parameter> Parameters => [_scale];

        public override Tensor Forward(Tensor x, bool training)
        {
            _input = x;
            _output.Resize(x.Rows, x.Cols);
            for (int r = 0; r < x.Rows; r++)
                for (int c = 0; c < x.Cols; c++) _output[r, c] = x[r, c] * _scale.Value[c];
            return _output;
        }

        public override Tensor Backward(Tensor dy)
        {
            _inputGrad.Resize(dy.Rows, dy.Cols);
            for (int r = 0; r < dy.Rows; r++)
                for (int c = 0; c < dy.Cols; c++)
                {
                    _inputGrad[r, c] = dy[r, c] * _scale.Value[c]; // correct
                    _scale.Grad[c] += dy[r, c]; // wrong: should be dy·x
                }
            return _inputGrad;
        }
    }
}
