using Engine.Data;
using Engine.Losses;
using Engine.Specs;
using Engine.Tensors;

namespace Engine.Tests.Onnx;

/// <summary>
/// Networks that cover every layer, loss and transform the exporter maps, each trained for a few plain
/// SGD steps so weights, biases, γ/β and BatchNorm running statistics are all away from their initial
/// values (an untrained BatchNorm has mean 0 / variance 1 and would hide a swapped input), plus raw
/// inputs on the scale the network's transform expects.
/// </summary>
internal static class OnnxTestNetworks
{
    public const string DenseReluSoftmax = "dense_relu_softmax";
    public const string TanhSigmoidLeakyBinary = "tanh_sigmoid_leaky_bce";
    public const string BatchNormDropoutSoftmax = "batchnorm_dropout_softmax";
    public const string BatchNormStandardized = "batchnorm_standardized_inputs";
    public const string MseScaledImageShape = "mse_scaled_3d_input";
    public const string CnnEveryLayer = "cnn_conv_batchnorm_pools_flatten_scaled";
    public const string CnnGlobalPoolBinary = "cnn_even_kernel_pointwise_globalpool_bce";
    public const string CnnEndsInGlobalPool = "cnn_2d_input_ends_in_globalpool_mse";

    public static readonly string[] All = [DenseReluSoftmax, TanhSigmoidLeakyBinary, BatchNormDropoutSoftmax, BatchNormStandardized, MseScaledImageShape,
        CnnEveryLayer, CnnGlobalPoolBinary, CnnEndsInGlobalPool];

    public static ModelSpec Spec(string name) => name switch
    {
        DenseReluSoftmax => new([4], [new DenseSpec(16), new ReluSpec(), new DenseSpec(3)], LossKind.SoftmaxCrossEntropy),
        TanhSigmoidLeakyBinary => new([5],
            [new DenseSpec(8, InitKind.Xavier), new TanhSpec(), new DenseSpec(8, InitKind.XavierUniform), new SigmoidSpec(),
             new DenseSpec(6, InitKind.HeUniform), new LeakyReluSpec(0.2f), new DenseSpec(3)],
            LossKind.SigmoidBinaryCrossEntropy),
        BatchNormDropoutSoftmax => new([6],
            [new DenseSpec(12), new BatchNormSpec(0.8f, 1e-3f), new ReluSpec(), new DropoutSpec(0.5f), new DenseSpec(4), new BatchNormSpec(), new DenseSpec(3)],
            LossKind.SoftmaxCrossEntropy),
        BatchNormStandardized => new([3],
            [new BatchNormSpec(0.5f), new DenseSpec(10), new LeakyReluSpec(0.05f), new DropoutSpec(0.2f), new DenseSpec(2)],
            LossKind.SoftmaxCrossEntropy),
        MseScaledImageShape => new([1, 2, 3], [new DenseSpec(7), new TanhSpec(), new DenseSpec(2)], LossKind.Mse),
        // [2,10,10] → conv same [4,10,10] → per-channel batchnorm → maxpool [4,5,5] → conv stride 2 pad 1 [6,3,3] → avgpool 2/1 [6,2,2].
        CnnEveryLayer => new([2, 10, 10],
            [new Conv2dSpec(4, 3, Padding: ConvPadding.SameSize), new BatchNormSpec(0.7f), new ReluSpec(), new MaxPool2dSpec(2),
             new Conv2dSpec(6, 3, Stride: 2, Padding: 1, Bias: false), new TanhSpec(), new DropoutSpec(0.2f), new AvgPool2dSpec(2, Stride: 1),
             new FlattenSpec(), new DenseSpec(5), new ReluSpec(), new DenseSpec(3)],
            LossKind.SoftmaxCrossEntropy),
        // [3,7,7] → conv 2x2 [5,6,6] → avgpool 3/2 [5,2,2] → conv 1x1 [4,2,2] → global pool [4,1,1] → batchnorm.
        CnnGlobalPoolBinary => new([3, 7, 7],
            [new Conv2dSpec(5, 2, Init: InitKind.XavierUniform), new SigmoidSpec(), new AvgPool2dSpec(3, Stride: 2), new Conv2dSpec(4, 1),
             new LeakyReluSpec(0.1f), new GlobalAvgPool2dSpec(), new BatchNormSpec(0.5f), new FlattenSpec(), new DenseSpec(2)],
            LossKind.SigmoidBinaryCrossEntropy),
        // A one-channel [H, W] input, and a network whose output is still an image when it ends.
        CnnEndsInGlobalPool => new([6, 6], [new Conv2dSpec(3, 3, Stride: 1), new MaxPool2dSpec(2, Stride: 1), new GlobalAvgPool2dSpec()], LossKind.Mse),
        _ => throw new ArgumentException($"Unknown test network '{name}'.", nameof(name)),
    };

    /// <summary>A trained network with its transform (if any) set, ready for <see cref="Network.Predict"/>.</summary>
    public static Network Create(string name, ulong seed = 11)
    {
        var net = Network.Create(Spec(name), new Rng(seed));
        net.Transform = name switch
        {
            BatchNormStandardized => new InputTransform(NormalizationKind.Standardize, [50f, -3f, 0.25f], [1f / 20f, 1f / 0.5f, 1f / 3f]),
            MseScaledImageShape => new InputTransform(NormalizationKind.Scale, new float[6], Enumerable.Repeat(1f / 255f, 6).ToArray()),
            CnnEveryLayer => new InputTransform(NormalizationKind.Scale, new float[200], Enumerable.Repeat(1f / 255f, 200).ToArray()),
            _ => null,
        };
        TrainALittle(net, new Rng(seed + 1));
        return net;
    }

    /// <summary>Raw (untransformed) inputs on the scale the network's transform was fitted to.</summary>
    public static float[] RawInputs(Network net, int rows, ulong seed)
    {
        var rng = new Rng(seed);
        var x = new float[rows * net.InputWidth];
        var t = net.Transform;
        for (int i = 0; i < x.Length; i++)
        {
            int j = i % net.InputWidth;
            x[i] = t switch
            {
                null => 2f * rng.NextGaussian(),
                { Kind: NormalizationKind.Scale } => 255f * rng.NextSingle(),
                _ => t.Offset[j] + 1.5f * rng.NextGaussian() / t.Factor[j],
            };
        }
        return x;
    }

    /// <summary>A few SGD steps on random targets in training mode (which also moves the running statistics).</summary>
    private static void TrainALittle(Network net, Rng rng)
    {
        const int batch = 32, steps = 25;
        const float learningRate = 0.05f;
        var x = new Tensor(batch, net.InputWidth);
        for (int i = 0; i < x.Length; i++) x.Span[i] = 1.5f * rng.NextGaussian() + 0.3f;
        int k = net.OutputWidth;
        var targets = net.Spec.Loss switch
        {
            LossKind.SoftmaxCrossEntropy => Targets.FromLabels(Enumerable.Range(0, batch).Select(_ => rng.NextInt(k)).ToArray()),
            LossKind.SigmoidBinaryCrossEntropy => Targets.FromRows(Enumerable.Range(0, batch * k).Select(_ => (float)rng.NextInt(2)).ToArray(), k),
            _ => Targets.FromRows(Enumerable.Range(0, batch * k).Select(_ => rng.NextGaussian()).ToArray(), k),
        };
        for (int step = 0; step < steps; step++)
        {
            net.ZeroGrad();
            net.ComputeLoss(net.Forward(x, training: true), targets);
            net.Backward();
            foreach (var p in net.Parameters)
                for (int i = 0; i < p.Value.Length; i++) p.Value[i] -= learningRate * p.Grad[i];
        }
    }
}
