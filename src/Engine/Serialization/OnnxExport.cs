using Engine.Layers;
using Engine.Specs;
using F = Engine.Serialization.OnnxFields;

namespace Engine.Serialization;

/// <summary>
/// Writes a <see cref="Network"/> as an ONNX model (IR version 8, opset 17) in evaluation mode that maps
/// raw inputs to what <see cref="Network.Predict"/> returns: graph input <c>input</c> float [batch, D],
/// output <c>output</c> float [batch, K], with <c>batch</c> a symbolic dimension.
/// <list type="bullet">
/// <item><see cref="Network.Transform"/>, if set, becomes Sub (offset) then Mul (factor), the same two
/// float operations Predict applies, so results match bit for bit at that stage.</item>
/// <item>Dense → Gemm with transB = 1, because its weight is stored in PyTorch's [out, in] layout (the
/// same tensors, under the same names, as <see cref="Network.ExportTensors"/>).</item>
/// <item>Relu, LeakyRelu (alpha), Sigmoid, Tanh → the ONNX operators of the same name.</item>
/// <item>BatchNorm → BatchNormalization in inference form (running mean and variance, epsilon), not folded
/// into a Mul/Add, which would round differently from the engine.</item>
/// <item>Dropout → nothing: it is the identity in evaluation.</item>
/// <item>Conv2d → Conv (kernel_shape, strides, pads; bias as the third input when learned), MaxPool2d → MaxPool,
/// AvgPool2d → AveragePool, GlobalAvgPool2d → GlobalAveragePool, all on NCHW; a per-channel BatchNorm is
/// BatchNormalization on NCHW. The flat rows become NCHW by a Reshape to [−1, C, H, W] before the first of these,
/// and go back to [batch, C·H·W] by Flatten (axis 1) at a flatten layer, before a dense layer or before the output;
/// both are the identity on NCHW memory, as in the engine.</item>
/// <item>The loss's prediction activation last: Softmax (axis −1) for softmax cross entropy, Sigmoid for
/// sigmoid binary cross entropy, none for MSE.</item>
/// </list>
/// </summary>
public static class OnnxExport
{
    public const long IrVersion = 8;
    public const long OpsetVersion = 17;
    public const string ProducerName = "nn-training-service";
    public const string InputName = "input";
    public const string OutputName = "output";
    /// <summary>The symbolic name of the first (batch) dimension of the input and output.</summary>
    public const string BatchDimension = "batch";

    public static byte[] Write(Network network, string? producerVersion = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        var model = new ProtoMessage()
            .Add(F.Model.IrVersion, IrVersion)
            .Add(F.Model.ProducerName, ProducerName);
        if (!string.IsNullOrEmpty(producerVersion)) model.Add(F.Model.ProducerVersion, producerVersion);
        // The default ("ai.onnx") domain is the empty string, which a proto2 reader takes for an absent field.
        return model
            .Add(F.Model.Graph, BuildGraph(network))
            .Add(F.Model.OpsetImport, new ProtoMessage().Add(F.OperatorSetId.Version, OpsetVersion))
            .ToByteArray();
    }

    private sealed record Node(string OpType, string Name, string[] Inputs, string Output, ProtoMessage[] Attributes);

    private static ProtoMessage BuildGraph(Network network)
    {
        int width = network.InputWidth;
        var tensors = network.ExportTensors().ToDictionary(t => t.Name, StringComparer.Ordinal);
        var initializers = new List<ProtoMessage>();
        var nodes = new List<Node>();
        string current = InputName;

        string Initializer(string name, int[] shape, float[] data)
        {
            initializers.Add(TensorProto(name, shape, data));
            return name;
        }
        string Exported(string name)
        {
            var t = tensors[name];
            return Initializer(t.Name, t.Shape, t.Data);
        }
        void Add(string opType, string name, string[] extraInputs, params ProtoMessage[] attributes)
        {
            string output = name + ".output";
            nodes.Add(new Node(opType, name, [current, .. extraInputs], output, attributes));
            current = output;
        }

        if (network.Transform is { } transform)
        {
            if (transform.Offset.Length != width || transform.Factor.Length != width)
                throw new InvalidOperationException(
                    $"The input transform has {transform.Offset.Length} offsets and {transform.Factor.Length} factors; the network takes {width} features.");
            Add("Sub", "transform.sub", [Initializer("transform.offset", [width], transform.Offset)]);
            Add("Mul", "transform.mul", [Initializer("transform.factor", [width], transform.Factor)]);
        }

        // The current value's [C, H, W] when it is [batch, C, H, W]; null while it is the flat [batch, features] of the engine's rows.
        (int C, int H, int W)? image = null;
        // Reshape only when the value is not already [batch, C, ·, ·] with this many values per channel (per-channel
        // layers need no more than that); the engine's rows are NCHW, so Reshape and Flatten move no data.
        void ToImage(string name, int channels, int h, int w, bool anyPlane = false)
        {
            if (image is { } s && s.C == channels && (anyPlane ? s.H * s.W == h * w : s.H == h && s.W == w)) return;
            Add("Reshape", name + "reshape", [Int64Initializer(name + "shape", [-1, channels, h, w])]);
            image = (channels, h, w);
        }
        void ToFlat(string name)
        {
            if (image is null) return;
            Add("Flatten", name + "flatten", [], IntAttribute("axis", 1));
            image = null;
        }
        string Int64Initializer(string name, long[] data)
        {
            initializers.Add(new ProtoMessage()
                .Add(F.Tensor.Dims, data.Length)
                .Add(F.Tensor.DataType, F.Tensor.DataTypeInt64)
                .Add(F.Tensor.Name, name)
                .Add(F.Tensor.RawData, ProtoMessage.LittleEndianBytes(data)));
            return name;
        }

        for (int i = 0; i < network.Layers.Count; i++)
        {
            string prefix = $"layers.{i}.", state = $"{i}.";
            switch (network.Layers[i])
            {
                case Dense d:
                    ToFlat(prefix);
                    Add("Gemm", prefix + "gemm", [Exported(state + "weight"), Exported(state + "bias")], IntAttribute("transB", 1));
                    break;
                case Relu: Add("Relu", prefix + "relu", []); break;
                case LeakyRelu l: Add("LeakyRelu", prefix + "leaky_relu", [], FloatAttribute("alpha", l.Alpha)); break;
                case Sigmoid: Add("Sigmoid", prefix + "sigmoid", []); break;
                case Tanh: Add("Tanh", prefix + "tanh", []); break;
                case BatchNorm b:
                    // Per channel it needs the channel axis second.
                    if (b.Plane > 1) ToImage(prefix, b.Gamma.Value.Length, 1, b.Plane, anyPlane: true);
                    // training_mode defaults to 0: normalize with the running statistics given as inputs.
                    Add("BatchNormalization", prefix + "batchnorm",
                        [Exported(state + "weight"), Exported(state + "bias"), Exported(state + "running_mean"), Exported(state + "running_var")],
                        FloatAttribute("epsilon", b.Epsilon));
                    break;
                case Dropout: break;
                case Conv2d c:
                    ToImage(prefix, c.Channels, c.Height, c.Width);
                    Add("Conv", prefix + "conv", c.Bias is null ? [Exported(state + "weight")] : [Exported(state + "weight"), Exported(state + "bias")],
                        IntsAttribute("kernel_shape", c.Kernel, c.Kernel), IntsAttribute("strides", c.Stride, c.Stride),
                        IntsAttribute("pads", c.Padding, c.Padding, c.Padding, c.Padding));
                    image = (c.Filters, c.OutHeight, c.OutWidth);
                    break;
                case MaxPool2d m:
                    ToImage(prefix, m.Channels, m.Height, m.Width);
                    Add("MaxPool", prefix + "maxpool", [], IntsAttribute("kernel_shape", m.Size, m.Size), IntsAttribute("strides", m.Stride, m.Stride));
                    image = (m.Channels, m.OutHeight, m.OutWidth);
                    break;
                case AvgPool2d a:
                    ToImage(prefix, a.Channels, a.Height, a.Width);
                    Add("AveragePool", prefix + "avgpool", [], IntsAttribute("kernel_shape", a.Size, a.Size), IntsAttribute("strides", a.Stride, a.Stride));
                    image = (a.Channels, a.OutHeight, a.OutWidth);
                    break;
                case GlobalAvgPool2d g:
                    // Any [H, W] with H·W = plane gives the same means; the layer keeps only the plane.
                    ToImage(prefix, g.Channels, 1, g.Plane, anyPlane: true);
                    Add("GlobalAveragePool", prefix + "globalavgpool", []);
                    image = (g.Channels, 1, 1);
                    break;
                case Flatten: ToFlat(prefix); break;
                default:
                    throw new OnnxMappingException(i, network.Spec.Layers[i].TypeName);
            }
        }
        // Graph output and the prediction activation (softmax over the last axis) work on [batch, K].
        ToFlat("prediction.");

        switch (network.Spec.Loss)
        {
            case LossKind.SoftmaxCrossEntropy: Add("Softmax", "prediction.softmax", [], IntAttribute("axis", -1)); break;
            case LossKind.SigmoidBinaryCrossEntropy: Add("Sigmoid", "prediction.sigmoid", []); break;
            case LossKind.Mse: break;
            default: throw new NotSupportedException($"Loss {network.Spec.Loss} has no ONNX mapping.");
        }

        // The graph output must carry its public name, so the last node writes it directly; a network
        // that computes nothing (no layers, no transform, MSE) still needs one node to produce it.
        if (nodes.Count == 0) nodes.Add(new Node("Identity", "prediction.identity", [InputName], OutputName, []));
        else nodes[^1] = nodes[^1] with { Output = OutputName };

        var graph = new ProtoMessage();
        foreach (var node in nodes) graph.Add(F.Graph.Node, NodeProto(node));
        graph.Add(F.Graph.Name, "network");
        foreach (var initializer in initializers) graph.Add(F.Graph.Initializer, initializer);
        graph.Add(F.Graph.Input, ValueInfo(InputName, width));
        graph.Add(F.Graph.Output, ValueInfo(OutputName, network.OutputWidth));
        return graph;
    }

    private static ProtoMessage NodeProto(Node node)
    {
        var m = new ProtoMessage();
        foreach (var input in node.Inputs) m.Add(F.Node.Input, input);
        m.Add(F.Node.Output, node.Output)
            .Add(F.Node.Name, node.Name)
            .Add(F.Node.OpType, node.OpType);
        foreach (var attribute in node.Attributes) m.Add(F.Node.Attribute, attribute);
        return m;
    }

    private static ProtoMessage IntAttribute(string name, long value) => new ProtoMessage()
        .Add(F.Attribute.Name, name)
        .Add(F.Attribute.I, value)
        .Add(F.Attribute.Type, F.Attribute.TypeInt);

    private static ProtoMessage IntsAttribute(string name, params int[] values)
    {
        var m = new ProtoMessage().Add(F.Attribute.Name, name);
        foreach (var v in values) m.Add(F.Attribute.Ints, v);
        return m.Add(F.Attribute.Type, F.Attribute.TypeInts);
    }

    private static ProtoMessage FloatAttribute(string name, float value) => new ProtoMessage()
        .Add(F.Attribute.Name, name)
        .Add(F.Attribute.F, value)
        .Add(F.Attribute.Type, F.Attribute.TypeFloat);

    private static ProtoMessage TensorProto(string name, int[] shape, float[] data)
    {
        var m = new ProtoMessage();
        foreach (var d in shape) m.Add(F.Tensor.Dims, d);
        return m.Add(F.Tensor.DataType, F.Tensor.DataTypeFloat)
            .Add(F.Tensor.Name, name)
            .Add(F.Tensor.RawData, ProtoMessage.LittleEndianBytes(data));
    }

    /// <summary>A float tensor value of shape [batch, <paramref name="width"/>].</summary>
    private static ProtoMessage ValueInfo(string name, int width)
    {
        var shape = new ProtoMessage()
            .Add(F.TensorShape.Dim, new ProtoMessage().Add(F.TensorShape.DimParam, BatchDimension))
            .Add(F.TensorShape.Dim, new ProtoMessage().Add(F.TensorShape.DimValue, width));
        var tensorType = new ProtoMessage()
            .Add(F.TypeProto.TensorElemType, F.Tensor.DataTypeFloat)
            .Add(F.TypeProto.TensorShape, shape);
        return new ProtoMessage()
            .Add(F.ValueInfo.Name, name)
            .Add(F.ValueInfo.Type, new ProtoMessage().Add(F.TypeProto.TensorType, tensorType));
    }
}
