using System.Text.Json;
using Engine.Data;
using Engine.Specs;

namespace Engine.Tests.SpecValidation; // not Engine.Tests.Specs: that would shadow Engine.Specs for "Specs.X" in sibling test namespaces

public class SpecValidatorTests
{
    private const string IssueExample =
        """{"input":[784],"layers":[{"type":"dense","units":256,"init":"he"},{"type":"relu"},{"type":"batchnorm"},{"type":"dropout","rate":0.2},{"type":"dense","units":10}],"loss":"softmax_cross_entropy"}""";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static ModelSpec Spec(LossKind loss, params LayerSpec[] layers) => new([4], layers, loss);

    private static string[] Messages(SpecReport r) => [.. r.Errors.Select(e => e.ToString())];

    [Fact]
    public void IssueExampleValidatesWithShapesAndParameterCounts()
    {
        var spec = JsonSerializer.Deserialize<ModelSpec>(IssueExample, Json)!;
        var r = SpecValidator.Validate(spec);

        Assert.True(r.IsValid, string.Join("; ", Messages(r)));
        Assert.Equal(["dense", "relu", "batchnorm", "dropout", "dense"], r.Layers.Select(l => l.Type));
        Assert.Equal([200_960L, 0, 512, 0, 2570], r.Layers.Select(l => l.Parameters));
        Assert.All(r.Layers.Take(4), l => Assert.Equal([256], l.OutputShape));
        Assert.Equal([10], r.OutputShape);
        Assert.Equal(10, r.OutputWidth);
        Assert.Equal(204_042L, r.TotalParameters);
        Assert.Equal(204_042L * 4, r.ParameterBytes);
        Assert.Equal(2L * 256 * 4, r.BufferBytes);
        // input 784; dense 256+784; relu 256+256; bn 256+256+256; dropout 256+256+256; dense 10+256
        Assert.Equal(4L * (784 + 1040 + 512 + 768 + 768 + 266), r.ActivationBytesPerSample);
    }

    [Fact]
    public void EstimateCountsWeightsGradientsOptimizerSlotsBuffersAndActivationsPerSample()
    {
        var r = SpecValidator.Validate(JsonSerializer.Deserialize<ModelSpec>(IssueExample, Json)!);
        Assert.Equal(r.ParameterBytes * 4 + r.BufferBytes + r.ActivationBytesPerSample * 32, r.EstimateBytes(32));
        Assert.Equal(r.ParameterBytes * 2 + r.BufferBytes + r.ActivationBytesPerSample, r.EstimateBytes(1, optimizerSlots: 0));
        Assert.True(r.EstimateBytes(64) > r.EstimateBytes(32));
    }

    [Fact]
    public void MultiDimensionalInputIsFlattenedByDenseAndKeptByActivations()
    {
        var r = SpecValidator.Validate(new ModelSpec([1, 28, 28], [new BatchNormSpec(), new DenseSpec(3)], LossKind.SoftmaxCrossEntropy));
        Assert.True(r.IsValid);
        Assert.Equal([1, 28, 28], r.Layers[0].OutputShape);
        Assert.Equal(2 * 784, r.Layers[0].Parameters);
        Assert.Equal(784L * 3 + 3, r.Layers[1].Parameters);
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1f)]
    [InlineData(float.NaN)]
    public void DropoutRateOutsideUnitIntervalIsRejected(float rate)
    {
        var r = SpecValidator.Validate(new ModelSpec([4], [new DenseSpec(8), new ReluSpec(), new DenseSpec(8), new DropoutSpec(rate), new DenseSpec(2)], LossKind.SoftmaxCrossEntropy));
        Assert.Equal(["layers[3].rate: must be in [0, 1)"], Messages(r));
    }

    [Fact]
    public void EveryFieldRuleNamesItsPath()
    {
        var r = SpecValidator.Validate(Spec(LossKind.Mse,
            new DenseSpec(0),
            new LeakyReluSpec(-1f),
            new BatchNormSpec(Momentum: 1f, Epsilon: 0f),
            new DenseSpec(3, InitKind.Normal),
            new DenseSpec(3, InitKind.Normal, Std: -1f),
            new DenseSpec(3, InitKind.He, Std: 0.1f),
            new DenseSpec(3, (InitKind)42),
            null!));
        Assert.Equal(
        [
            "layers[0].units: must be >= 1",
            "layers[1].alpha: must be >= 0 and finite",
            "layers[2].momentum: must be in [0, 1)",
            "layers[2].epsilon: must be > 0 and finite",
            "layers[3].std: must be > 0 and finite for init normal",
            "layers[4].std: must be > 0 and finite for init normal",
            "layers[5].std: is only used with init normal",
            "layers[6].init: unknown value 42; expected he, he_uniform, xavier, xavier_uniform or normal",
            "layers[7]: layer is null",
        ], Messages(r));
    }

    [Fact]
    public void InputRulesNameTheDimension()
    {
        Assert.Equal(["input[1]: must be >= 1"], Messages(SpecValidator.Validate(new ModelSpec([3, 0], [new DenseSpec(2)], LossKind.Mse))));
        Assert.Equal(["input: must have 1 to 4 dimensions, has 0"], Messages(SpecValidator.Validate(new ModelSpec([], [new DenseSpec(2)], LossKind.Mse))));
        Assert.Equal(["input: is required"], Messages(SpecValidator.Validate(new ModelSpec(null!, [new DenseSpec(2)], LossKind.Mse))));
    }

    [Fact]
    public void UnknownLossAndMissingPartsAreReported()
    {
        Assert.Contains("loss: unknown value 9", Messages(SpecValidator.Validate(Spec((LossKind)9, new DenseSpec(2))))[0]);
        Assert.Equal(["layers: is required"], Messages(SpecValidator.Validate(new ModelSpec([2], null!, LossKind.Mse))));
        Assert.Equal(["a model spec is required"], Messages(SpecValidator.Validate(null)));
        Assert.Contains("layers: at least one layer is required", Messages(SpecValidator.Validate(Spec(LossKind.Mse))));
        Assert.Equal(["layers: at least one dense or conv2d layer is required (nothing would be trainable)"], Messages(SpecValidator.Validate(Spec(LossKind.Mse, new ReluSpec()))));
    }

    [Fact]
    public void SoftmaxNeedsAFinalWidthOfAtLeastTwo()
    {
        var r = SpecValidator.Validate(Spec(LossKind.SoftmaxCrossEntropy, new DenseSpec(1)));
        Assert.Equal(["loss: softmax_cross_entropy needs a final width of at least 2, the model outputs 1"], Messages(r));
        Assert.True(SpecValidator.Validate(Spec(LossKind.SigmoidBinaryCrossEntropy, new DenseSpec(1))).IsValid);
    }

    [Fact]
    public void SigmoidBeforeSigmoidCrossEntropyIsRejectedAsAppliedTwice()
    {
        var r = SpecValidator.Validate(Spec(LossKind.SigmoidBinaryCrossEntropy, new DenseSpec(3), new SigmoidSpec()));
        Assert.Equal(["layers[1]: sigmoid after the output dense layer is not allowed with loss sigmoid_binary_cross_entropy: the loss already applies sigmoid"], Messages(r));
        Assert.True(SpecValidator.Validate(Spec(LossKind.Mse, new DenseSpec(3), new SigmoidSpec())).IsValid);
    }

    [Fact]
    public void ActivationAfterTheOutputDenseIsRejectedForSoftmax()
    {
        var r = SpecValidator.Validate(Spec(LossKind.SoftmaxCrossEntropy, new DenseSpec(8), new ReluSpec(), new DenseSpec(3), new DropoutSpec(0.1f), new TanhSpec()));
        Assert.Equal(["layers[4]: tanh after the output dense layer is not allowed with loss softmax_cross_entropy: softmax_cross_entropy applies softmax to raw logits"], Messages(r));
    }

    [Fact]
    public void AbsurdUnitsFailFastAsLimitExceeded()
    {
        var r = SpecValidator.Validate(Spec(LossKind.Mse, new DenseSpec(2_000_000_000), new DenseSpec(2_000_000_000)));
        var e = Assert.Single(r.Errors);
        Assert.True(e.LimitExceeded);
        Assert.Equal("layers[0].units", e.Path);
    }

    [Fact]
    public void ParameterCountBeyondTheLimitFailsWithoutOverflow()
    {
        var layers = Enumerable.Range(0, 200).Select(_ => (LayerSpec)new DenseSpec(1_000_000)).ToArray();
        var r = SpecValidator.Validate(new ModelSpec([1_000_000], layers, LossKind.Mse));
        var e = Assert.Single(r.Errors);
        Assert.True(e.LimitExceeded);
        Assert.Equal("layers[0]", e.Path);
        Assert.Equal(0, r.TotalParameters);
    }

    [Fact]
    public void AMillionLayersFailFastAsLimitExceeded()
    {
        var layers = new LayerSpec[1_000_000];
        Array.Fill(layers, new ReluSpec());
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var r = SpecValidator.Validate(new ModelSpec([4], layers, LossKind.Mse));
        Assert.True(watch.ElapsedMilliseconds < 100);
        Assert.True(Assert.Single(r.Errors).LimitExceeded);
        Assert.Equal("layers", r.Errors[0].Path);
    }

    [Fact]
    public void HugeInputFailsAsLimitExceededWithoutOverflow()
    {
        var r = SpecValidator.Validate(new ModelSpec([int.MaxValue, int.MaxValue, int.MaxValue], [new DenseSpec(2)], LossKind.Mse));
        Assert.True(Assert.Single(r.Errors).LimitExceeded);
        Assert.Equal("input", r.Errors[0].Path);
    }

    [Fact]
    public void CustomLimitsApply()
    {
        var r = SpecValidator.Validate(Spec(LossKind.Mse, new DenseSpec(10)), new SpecLimits(MaxParameters: 49));
        Assert.True(Assert.Single(r.Errors).LimitExceeded);
        Assert.True(SpecValidator.Validate(Spec(LossKind.Mse, new DenseSpec(10)), new SpecLimits(MaxParameters: 50)).IsValid);
    }

    private static Dataset Classes(int featureSize, params int[] labels) =>
        new(new float[featureSize * labels.Length], [featureSize], labels.Length, labels, null, 1, labels.Max() + 1);

    private static Dataset Regression(int featureSize, int width, int count) =>
        new(new float[featureSize * count], [featureSize], count, null, new float[width * count], width, 0);

    [Fact]
    public void CheckDatasetAcceptsAMatchingDataset()
    {
        Assert.Empty(SpecValidator.CheckDataset(Spec(LossKind.SoftmaxCrossEntropy, new DenseSpec(3)), Classes(4, 0, 2, 1)));
        Assert.Empty(SpecValidator.CheckDataset(Spec(LossKind.Mse, new DenseSpec(2)), Regression(4, 2, 3)));
        Assert.Empty(SpecValidator.CheckDataset(Spec(LossKind.SigmoidBinaryCrossEntropy, new DenseSpec(1)), Classes(4, 0, 1, 1)));
        Assert.Empty(SpecValidator.CheckDataset(new ModelSpec([2, 2], [new DenseSpec(3)], LossKind.SoftmaxCrossEntropy), Classes(4, 0, 2)));
    }

    [Fact]
    public void CheckDatasetReportsInputWidthMismatch()
    {
        var e = Assert.Single(SpecValidator.CheckDataset(Spec(LossKind.SoftmaxCrossEntropy, new DenseSpec(3)), Classes(5, 0, 1)));
        Assert.Equal("input: the model takes 4 values per sample, the dataset has 5 (shape [5])", e.ToString());
    }

    [Fact]
    public void CheckDatasetReportsMoreClassesThanOutputs()
    {
        var e = Assert.Single(SpecValidator.CheckDataset(Spec(LossKind.SoftmaxCrossEntropy, new DenseSpec(3)), Classes(4, 0, 3)));
        Assert.Equal("loss: the dataset has 4 classes, more than the final width 3", e.ToString());
    }

    [Fact]
    public void CheckDatasetReportsTargetWidthAndLabelKindMismatches()
    {
        Assert.Equal("loss: the dataset has targets of width 2, the final width is 3",
            Assert.Single(SpecValidator.CheckDataset(Spec(LossKind.Mse, new DenseSpec(3)), Regression(4, 2, 2))).ToString());
        Assert.StartsWith("loss: mse needs float targets",
            Assert.Single(SpecValidator.CheckDataset(Spec(LossKind.Mse, new DenseSpec(3)), Classes(4, 0, 1))).ToString());
        Assert.StartsWith("loss: sigmoid_binary_cross_entropy with one output needs labels 0 or 1",
            Assert.Single(SpecValidator.CheckDataset(Spec(LossKind.SigmoidBinaryCrossEntropy, new DenseSpec(1)), Classes(4, 0, 2))).ToString());
    }

    private static ModelSpec Cnn(params int[] input) =>
        new(input, [new Conv2dSpec(2, 3), new GlobalAvgPool2dSpec(), new FlattenSpec(), new DenseSpec(3)], LossKind.SoftmaxCrossEntropy);

    private static Dataset Images(params int[] sampleShape)
    {
        int size = sampleShape.Aggregate(1, (a, d) => a * d);
        return new Dataset(new float[size * 3], sampleShape, 3, [0, 1, 2], null, 1, 3);
    }

    [Fact]
    public void CheckDatasetTakesIdxImagesAsOneChannelForAConvModel()
    {
        Assert.Empty(SpecValidator.CheckDataset(Cnn(1, 8, 8), Images(8, 8)));
        Assert.Empty(SpecValidator.CheckDataset(Cnn(8, 8), Images(1, 8, 8)));
        Assert.Empty(SpecValidator.CheckDataset(Cnn(3, 8, 8), Images(3, 8, 8)));
    }

    [Fact]
    public void CheckDatasetNamesTheChannelCountWhenAConvModelGetsOtherImages()
    {
        var e = Assert.Single(SpecValidator.CheckDataset(Cnn(3, 8, 8), Images(8, 8)));
        Assert.Equal("input", e.Path);
        Assert.Equal("the model takes 3 channels ([3, 8, 8]), the dataset's images have 1 ([8, 8]); set input to [1, 8, 8]", e.Message);
    }

    [Fact]
    public void CheckDatasetRefusesSameWidthImagesOfAnotherShapeForAConvModel()
    {
        // 4·4·4 = 64 = 8·8 values: an MLP would take them, a convolution would read them wrongly.
        var e = Assert.Single(SpecValidator.CheckDataset(Cnn(4, 4, 4), Images(8, 8)));
        Assert.Equal("input: the model takes images [4, 4, 4] (channels, height, width), the dataset's samples are [8, 8]; set input to [1, 8, 8]", e.ToString());
        Assert.Contains("not images", Assert.Single(SpecValidator.CheckDataset(Cnn(1, 8, 8), Images(64))).Message);
        Assert.Empty(SpecValidator.CheckDataset(new ModelSpec([64], [new DenseSpec(3)], LossKind.SoftmaxCrossEntropy), Images(8, 8)));
    }

    [Fact]
    public void CheckDatasetReturnsValidationErrorsOfAnInvalidSpec()
    {
        var e = Assert.Single(SpecValidator.CheckDataset(Spec(LossKind.Mse, new DenseSpec(0)), Regression(4, 1, 1)));
        Assert.Equal("layers[0].units", e.Path);
    }
}
