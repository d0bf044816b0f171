using Engine.Data;
using Engine.Layers;
using Engine.Losses;
using Engine.Specs;
using Engine.Tensors;

namespace Engine.Tests.Layers;

public class NetworkTests
{
    private static ModelSpec Mixed(LossKind loss = LossKind.SoftmaxCrossEntropy) => new([2, 3],
    [
        new DenseSpec(8), new BatchNormSpec(), new TanhSpec(), new DenseSpec(6, InitKind.XavierUniform),
        new LeakyReluSpec(0.1f), new DropoutSpec(0.3f), new DenseSpec(4, InitKind.Xavier), new SigmoidSpec(), new DenseSpec(3, InitKind.HeUniform),
    ], loss);

    [Fact]
    public void SameSeedGivesIdenticalWeightsAndAnotherSeedDoesNot()
    {
        var a = Network.Create(Mixed(), new Rng(5));
        var b = Network.Create(Mixed(), new Rng(5));
        var c = Network.Create(Mixed(), new Rng(6));
        for (int i = 0; i < a.Parameters.Count; i++) Assert.Equal(a.Parameters[i].Value, b.Parameters[i].Value);
        Assert.NotEqual(a.Parameters[0].Value, c.Parameters[0].Value);
    }

    [Fact]
    public void ParametersAreNamedBySpecIndexWithZeroBiasesAndUnitGamma()
    {
        var net = Network.Create(Mixed(), new Rng(1));
        Assert.Equal(6, net.InputWidth);
        Assert.Equal(3, net.OutputWidth);
        Assert.Equal(
            ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.3.weight", "layers.3.bias",
             "layers.6.weight", "layers.6.bias", "layers.8.weight", "layers.8.bias"],
            net.Parameters.Select(p => p.Name));
        Assert.All(net.Parameters.Where(p => p.Name.EndsWith(".bias")), p => Assert.All(p.Value, v => Assert.Equal(0f, v)));
        Assert.All(net.Parameters[2].Value, v => Assert.Equal(1f, v));
        Assert.Equal([true, false, false, false, true, false, true, false, true, false], net.Parameters.Select(p => p.Decays));
        Assert.Equal(["layers.1.running_mean", "layers.1.running_var"], net.Layers[1].Buffers.Select(b => b.Name));
    }

    [Fact]
    public void WholeNetworkGradientsMatchCentralDifferences()
    {
        // Dropout is random per forward pass, so the checked network leaves it out.
        var spec = Mixed() with { Layers = [.. Mixed().Layers.Where(l => l is not DropoutSpec)] };
        var net = Network.Create(spec, new Rng(2));
        var x = GradientCheck.Uniform(5, 6, 3);
        var targets = Targets.FromLabels(new[] { 0, 2, 1, 1, 0 });
        net.ZeroGrad();
        net.ComputeLoss(net.Forward(x, training: true), targets);
        net.Backward();
        // h = 1e-3 rather than 1e-2: through BatchNorm over five samples the loss is strongly curved in the
        // first layer's weights, so O(h²) truncation at 1e-2 exceeds the tolerance; float rounding,
        // ε·|loss|/h ≈ 1e-4, is still well inside it.
        foreach (var p in net.Parameters)
        {
            double[] numerical = GradientCheck.Numerical(p.Value, p.Value.Length, () => net.ComputeLoss(net.Forward(x, training: true), targets), 1e-3);
            GradientCheck.AssertClose(p.Grad, numerical, p.Name);
        }
    }

    [Fact]
    public void GradientDescentOnTheNetworkReducesTheLoss()
    {
        var spec = new ModelSpec([2], [new DenseSpec(16), new ReluSpec(), new DenseSpec(2)], LossKind.SoftmaxCrossEntropy);
        var net = Network.Create(spec, new Rng(3));
        var x = Tensor.FromRows([[0f, 0f], [0f, 1f], [1f, 0f], [1f, 1f]]);
        var xor = Targets.FromLabels(new[] { 0, 1, 1, 0 });
        float first = net.ComputeLoss(net.Forward(x, training: true), xor);
        for (int step = 0; step < 500; step++)
        {
            net.ZeroGrad();
            net.ComputeLoss(net.Forward(x, training: true), xor);
            net.Backward();
            foreach (var p in net.Parameters)
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(p.Grad, -0.5f, p.Value, p.Value);
        }
        var output = net.Forward(x, training: false);
        Assert.True(net.ComputeLoss(output, xor) < first / 10);
        Assert.Equal(4, net.Loss.CountCorrect(output, xor));
    }

    [Fact]
    public void PredictAppliesTheTransformAndReturnsProbabilities()
    {
        var spec = new ModelSpec([2], [new DenseSpec(3)], LossKind.SoftmaxCrossEntropy);
        var net = Network.Create(spec, new Rng(4));
        net.Transform = new InputTransform(NormalizationKind.Standardize, [10f, -2f], [0.5f, 2f]);
        float[] raw = [12f, -1f, 8f, -3f];
        float[] probabilities = net.Predict(raw, 2);

        var transformed = Tensor.FromRows([[1f, 2f], [-1f, -2f]]);
        float[] expected = net.Forward(transformed, training: false).Span.ToArray();
        net.Loss.Activate(expected, 3);
        Assert.Equal(expected, probabilities);
        Assert.Equal(1f, probabilities[0] + probabilities[1] + probabilities[2], 5);
        Assert.Equal([12f, -1f, 8f, -3f], raw); // the caller's input is not modified
    }

    [Fact]
    public void PredictOnMoreRowsThanOneChunkMatchesRowByRowPrediction()
    {
        var spec = new ModelSpec([3], [new DenseSpec(4), new BatchNormSpec(), new ReluSpec(), new DenseSpec(2)], LossKind.Mse);
        var net = Network.Create(spec, new Rng(5));
        var inputs = GradientCheck.Uniform(2500, 3, 6).Span.ToArray();
        float[] all = net.Predict(inputs, 2500);
        foreach (int row in new[] { 0, 1023, 1024, 2047, 2048, 2499 })
            Assert.Equal(net.Predict(inputs.AsSpan(row * 3, 3), 1), all.AsSpan(row * 2, 2).ToArray());
    }

    [Fact]
    public void ExportUsesPyTorchLayoutWithTransposedDenseWeights()
    {
        var net = Network.Create(Mixed(), new Rng(7));
        var exported = net.ExportTensors();
        var w0 = exported.Single(t => t.Name == "0.weight");
        Assert.Equal([8, 6], w0.Shape);
        var dense = (Dense)net.Layers[0];
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 8; j++)
                Assert.Equal(dense.Weight.Value[i * 8 + j], w0.Data[j * 6 + i]);
        Assert.Equal(
            ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
             "3.weight", "3.bias", "6.weight", "6.bias", "8.weight", "8.bias"],
            exported.Select(t => t.Name));
        Assert.Equal([new NamedInt64("1.num_batches_tracked", 0)], net.ExportCounters());
    }

    [Fact]
    public void ExportThenImportReproducesPredictionsExactly()
    {
        var source = Network.Create(Mixed(), new Rng(8));
        // Move BatchNorm's running statistics away from their initial values.
        for (int i = 0; i < 3; i++) source.Forward(GradientCheck.Uniform(16, 6, (ulong)(20 + i), scale: 3f), training: true);
        var target = Network.Create(Mixed(), new Rng(9));
        var inputs = GradientCheck.Uniform(10, 6, 30).Span.ToArray();
        Assert.NotEqual(source.Predict(inputs, 10), target.Predict(inputs, 10));

        target.ImportTensors(source.ExportTensors());
        Assert.Equal(source.Predict(inputs, 10), target.Predict(inputs, 10));
    }

    [Fact]
    public void ImportRejectsMissingExtraDuplicateAndMisshapenTensorsWithoutChangingWeights()
    {
        var net = Network.Create(Mixed(), new Rng(10));
        var good = net.ExportTensors();
        var before = net.ExportTensors();
        var other = Network.Create(Mixed(), new Rng(11)).ExportTensors();

        void Rejected(IEnumerable<NamedTensor> tensors, string fragment)
        {
            var e = Assert.Throws<InvalidDataException>(() => net.ImportTensors(tensors));
            Assert.Contains(fragment, e.Message);
            for (int i = 0; i < before.Count; i++) Assert.Equal(before[i].Data, net.ExportTensors()[i].Data);
        }

        // Each bad list mixes in the other network's weights so a partial import would be visible.
        Rejected(other.Where(t => t.Name != "1.running_var"), "'1.running_var' is missing");
        Rejected([.. other, new NamedTensor("9.weight", [1], [0f])], "'9.weight' is not a tensor of this model");
        Rejected([.. other, other[0]], "more than once");
        Rejected(other.Select(t => t.Name == "0.weight" ? t with { Shape = [6, 8] } : t), "'0.weight' expected [8, 6], got [6, 8]");
        Rejected(other.Select(t => t.Name == "0.bias" ? t with { Data = new float[7] } : t), "7 values");
        Rejected([.. other, new NamedTensor("1.num_batches_tracked", [], [3f])], "'1.num_batches_tracked' must be an int64 scalar");
        net.ImportTensors(good);
    }

    [Fact]
    public void CheckTensorsNamesEveryProblemPerTensor()
    {
        var net = Network.Create(Mixed(), new Rng(10));
        var tensors = net.ExportTensors()
            .Where(t => t.Name != "3.bias")
            .Select(t => t.Name == "0.weight" ? t with { Shape = [6, 8] } : t)
            .Append(new NamedTensor("9.weight", [1], [0f]));
        var problems = net.CheckTensors(tensors, [new NamedInt64("1.num_batches_tracked", 5), new NamedInt64("0.num_batches_tracked", 1)]);
        Assert.Equal(
            [new TensorProblem("0.weight", "expected [8, 6], got [6, 8]"), new TensorProblem("3.bias", "is missing"),
             new TensorProblem("9.weight", "is not a tensor of this model"), new TensorProblem("0.num_batches_tracked", "is not a tensor of this model")],
            problems);
    }

    [Fact]
    public void ImportAcceptsTheOlderLayersPrefixedNames()
    {
        var source = Network.Create(Mixed(), new Rng(8));
        for (int i = 0; i < 3; i++) source.Forward(GradientCheck.Uniform(16, 6, (ulong)(20 + i), scale: 3f), training: true);
        var target = Network.Create(Mixed(), new Rng(9));
        target.ImportTensors(source.ExportTensors().Select(t => t with { Name = "layers." + t.Name }));
        var inputs = GradientCheck.Uniform(10, 6, 30).Span.ToArray();
        Assert.Equal(source.Predict(inputs, 10), target.Predict(inputs, 10));
    }

    [Fact]
    public void ForwardRejectsInputOfTheWrongWidth()
    {
        var net = Network.Create(Mixed(), new Rng(12));
        Assert.Throws<ArgumentException>(() => net.Forward(new Tensor(2, 5), training: false));
    }

    [Fact]
    public void SteadyStateTrainingStepAllocatesNothing()
    {
        var net = Network.Create(Mixed(), new Rng(13));
        var full = GradientCheck.Uniform(32, 6, 14);
        var last = GradientCheck.Uniform(7, 6, 15); // a shorter final batch reuses the same buffers
        int[] labels = [.. Enumerable.Range(0, 32).Select(i => i % 3)];
        var fullTargets = Targets.FromLabels(labels);
        var lastTargets = Targets.FromLabels(labels.AsMemory(0, 7));
        void Step(Tensor x, Targets t)
        {
            net.ZeroGrad();
            net.ComputeLoss(net.Forward(x, training: true), t);
            net.Backward();
            net.Loss.CountCorrect(net.Forward(x, training: false), t);
        }

        int threads = Kernels.Gemm.MaxThreads;
        // One thread: the count below is for this thread only, and the layers are what is measured here.
        Kernels.Gemm.MaxThreads = 1;
        try
        {
            for (int warm = 0; warm < 3; warm++) { Step(full, fullTargets); Step(last, lastTargets); }
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 5; i++) { Step(full, fullTargets); Step(last, lastTargets); }
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        finally { Kernels.Gemm.MaxThreads = threads; }
    }

    [Fact]
    public void GradientsAreBitIdenticalForOneOrTwoGemmThreads()
    {
        float[][] Run(int threads)
        {
            int saved = Kernels.Gemm.MaxThreads;
            Kernels.Gemm.MaxThreads = threads;
            try
            {
                var spec = Mixed() with { Layers = [.. Mixed().Layers.Where(l => l is not DropoutSpec)] };
                var net = Network.Create(spec, new Rng(16));
                net.ComputeLoss(net.Forward(GradientCheck.Uniform(64, 6, 17), training: true), Targets.FromLabels(Enumerable.Range(0, 64).Select(i => i % 3).ToArray()));
                net.Backward();
                return [.. net.Parameters.Select(p => p.Grad.ToArray())];
            }
            finally { Kernels.Gemm.MaxThreads = saved; }
        }

        var one = Run(1);
        var two = Run(2);
        for (int i = 0; i < one.Length; i++)
            Assert.Equal(one[i].Select(BitConverter.SingleToInt32Bits), two[i].Select(BitConverter.SingleToInt32Bits));
    }

    /// <summary>
    /// A ReLU before max pooling runs after it in <see cref="Network.Forward"/>: the windows below hold only negatives,
    /// a maximum of exactly 0 or −0, tied positives and a lone positive, and every output and input-gradient bit is the same.
    /// </summary>
    [Theory]
    [InlineData(2, 2)]
    [InlineData(3, 1)]
    public void ReluBeforeMaxPoolingGivesTheSameBitsWhenThePoolingRunsFirst(int size, int stride)
    {
        const int channels = 2, side = 4, rows = 2;
        float[] plane =
        [
            -1f, -2f, 0f, -3f,
            -4f, -0.5f, -0f, 0f,
            2f, 2f, 0.25f, -1f,
            -1f, 2f, -7f, 0.25f,
        ];
        var x = new Tensor(rows, channels * side * side);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < channels; c++)
                for (int i = 0; i < plane.Length; i++)
                    x.Span[r * x.Cols + c * plane.Length + i] = (c + r) % 2 == 0 ? plane[i] : -plane[plane.Length - 1 - i];
        var (specY, specDx) = ReluPool(x, size, stride, reluFirst: true);
        var (swapY, swapDx) = ReluPool(x, size, stride, reluFirst: false);
        Assert.Equal(specY.Select(BitConverter.SingleToInt32Bits), swapY.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(specDx.Select(BitConverter.SingleToInt32Bits), swapDx.Select(BitConverter.SingleToInt32Bits));
        Assert.Contains(specDx, g => g != 0);
    }

    private static (float[] Y, float[] Dx) ReluPool(Tensor x, int size, int stride, bool reluFirst)
    {
        var pool = new MaxPool2d(2, 4, 4, size, stride);
        var relu = new Relu(reluFirst ? x.Cols : pool.OutputWidth);
        var y = reluFirst ? pool.Forward(relu.Forward(x, true), true) : relu.Forward(pool.Forward(x, true), true);
        var dy = new Tensor(y.Rows, y.Cols);
        for (int i = 0; i < dy.Length; i++) dy.Span[i] = 0.5f + i;
        var dx = reluFirst ? relu.Backward(pool.Backward(dy)) : pool.Backward(relu.Backward(dy));
        return (y.Span.ToArray(), dx.Span.ToArray());
    }

    /// <summary>
    /// A conv network trained through <see cref="Network.Forward"/> (ReLUs after their pooling) and one run layer by layer
    /// in spec order give the same output and parameter-gradient bits, on 1 and 2 threads.
    /// </summary>
    [Theory]
    [InlineData(1, 2, 8, 8)]
    [InlineData(2, 2, 8, 8)]
    [InlineData(1, 1, 28, 28)]  // a direct first conv that writes its pooling itself (AVX-512); seven filters: 4 + 3, 2 + 2 + 2 + 1
    [InlineData(2, 3, 16, 20)]  // three channels; the second 16-wide block overlaps the first
    [InlineData(2, 1, 18, 17)]  // an odd width: the conv and its pooling run apart
    public void AConvNetworkWithReluBeforePoolingTrainsToTheSameBitsAsInSpecOrder(int threads, int channels, int height, int width)
    {
        var spec = new ModelSpec([channels, height, width],
            [new Conv2dSpec(7, 3, Padding: ConvPadding.SameSize), new ReluSpec(), new MaxPool2dSpec(2),
             new Conv2dSpec(5, 3, Padding: ConvPadding.SameSize), new ReluSpec(), new MaxPool2dSpec(2), new FlattenSpec(), new DenseSpec(3)],
            LossKind.SoftmaxCrossEntropy);
        var rng = new Rng(3);
        int inputs = channels * height * width;
        var x = new Tensor([.. Enumerable.Range(0, 16 * inputs).Select(_ => rng.NextGaussian())], 16, inputs);
        var targets = Targets.FromLabels(Enumerable.Range(0, 16).Select(i => i % 3).ToArray());
        int saved = Kernels.Gemm.MaxThreads;
        try
        {
            Kernels.Gemm.MaxThreads = threads;
            var swapped = WithBiases(Network.Create(spec, new Rng(8)));
            float swappedLoss = swapped.ComputeLoss(swapped.Forward(x, training: true), targets);
            swapped.Backward();

            var inOrder = WithBiases(Network.Create(spec, new Rng(8)));
            var y = x;
            foreach (var layer in inOrder.Layers) y = layer.Forward(y, training: true);
            float inOrderLoss = inOrder.ComputeLoss(y, targets);
            inOrder.BackwardInSpecOrder();

            Assert.Equal(BitConverter.SingleToInt32Bits(inOrderLoss), BitConverter.SingleToInt32Bits(swappedLoss));
            for (int i = 0; i < swapped.Parameters.Count; i++)
                Assert.Equal(inOrder.Parameters[i].Grad.Select(BitConverter.SingleToInt32Bits), swapped.Parameters[i].Grad.Select(BitConverter.SingleToInt32Bits));
            Assert.Contains(swapped.Parameters[0].Grad, g => g != 0);
        }
        finally
        {
            Kernels.Gemm.MaxThreads = saved;
        }
    }

    /// <summary>Biases start at zero; a different one per filter shows a bias applied to the wrong plane.</summary>
    private static Network WithBiases(Network network)
    {
        var rng = new Rng(9);
        foreach (var p in network.Parameters.Where(p => p.Name.EndsWith("bias", StringComparison.Ordinal)))
            for (int i = 0; i < p.Value.Length; i++) p.Value[i] = rng.NextGaussian();
        return network;
    }
}
