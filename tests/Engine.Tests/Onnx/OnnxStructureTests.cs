using Engine.Data;
using Engine.Serialization;
using Engine.Specs;
using Engine.Tensors;
using F = Engine.Serialization.OnnxFields;

namespace Engine.Tests.Onnx;

/// <summary>The exported bytes parsed back field by field: header, graph signature, initializers, nodes.</summary>
public class OnnxStructureTests
{
    private static ProtoView Graph(ProtoView model) => model.Message(F.Model.Graph);

    private static ProtoView Export(string name, out Network net)
    {
        net = OnnxTestNetworks.Create(name);
        return new ProtoView(OnnxExport.Write(net));
    }

    [Fact]
    public void HeaderDeclaresIrVersion8Opset17AndTheProducer()
    {
        var model = new ProtoView(OnnxExport.Write(OnnxTestNetworks.Create(OnnxTestNetworks.DenseReluSoftmax), "1.2.3"));
        Assert.Equal(8, model.Int64(F.Model.IrVersion));
        Assert.Equal("nn-training-service", model.String(F.Model.ProducerName));
        Assert.Equal("1.2.3", model.String(F.Model.ProducerVersion));
        var opset = Assert.Single(model.Messages(F.Model.OpsetImport));
        Assert.Equal(17, opset.Int64(F.OperatorSetId.Version));
        // Absent means the default ("ai.onnx") domain.
        Assert.False(opset.Has(F.OperatorSetId.Domain));
    }

    [Fact]
    public void ProducerVersionIsOmittedWhenNotGiven()
    {
        var model = new ProtoView(OnnxExport.Write(OnnxTestNetworks.Create(OnnxTestNetworks.DenseReluSoftmax)));
        Assert.False(model.Has(F.Model.ProducerVersion));
    }

    [Fact]
    public void InputAndOutputAreNamedFloatTensorsWithASymbolicBatchDimension()
    {
        var graph = Graph(Export(OnnxTestNetworks.MseScaledImageShape, out var net));
        AssertSignature(Assert.Single(graph.Messages(F.Graph.Input)), "input", net.InputWidth);
        AssertSignature(Assert.Single(graph.Messages(F.Graph.Output)), "output", net.OutputWidth);
        Assert.Equal(6, net.InputWidth);
    }

    private static void AssertSignature(ProtoView valueInfo, string name, int width)
    {
        Assert.Equal(name, valueInfo.String(F.ValueInfo.Name));
        var tensor = valueInfo.Message(F.ValueInfo.Type).Message(F.TypeProto.TensorType);
        Assert.Equal(F.Tensor.DataTypeFloat, tensor.Int64(F.TypeProto.TensorElemType));
        var dims = tensor.Message(F.TypeProto.TensorShape).Messages(F.TensorShape.Dim);
        Assert.Equal(2, dims.Length);
        Assert.Equal("batch", dims[0].String(F.TensorShape.DimParam));
        Assert.False(dims[0].Has(F.TensorShape.DimValue));
        Assert.Equal(width, dims[1].Int64(F.TensorShape.DimValue));
    }

    [Fact]
    public void InitializersAreTheExportedTensorsWithTheirShapesAndLittleEndianData()
    {
        var graph = Graph(Export(OnnxTestNetworks.BatchNormDropoutSoftmax, out var net));
        var exported = net.ExportTensors();
        var initializers = graph.Messages(F.Graph.Initializer);
        Assert.Equal(exported.Select(t => t.Name), initializers.Select(i => i.String(F.Tensor.Name)));
        for (int i = 0; i < exported.Count; i++)
        {
            Assert.Equal(F.Tensor.DataTypeFloat, initializers[i].Int64(F.Tensor.DataType));
            Assert.Equal(exported[i].Shape.Select(d => (long)d), initializers[i].Int64s(F.Tensor.Dims));
            Assert.Equal(exported[i].Data, initializers[i].Floats(F.Tensor.RawData));
        }
        // Dense weights go out in PyTorch's [out, in] layout, which is why Gemm needs transB.
        Assert.Equal([12L, 6L], initializers[0].Int64s(F.Tensor.Dims));
    }

    [Fact]
    public void TransformComesFirstAsSubThenMulAndDropoutIsLeftOut()
    {
        var graph = Graph(Export(OnnxTestNetworks.BatchNormStandardized, out var net));
        var nodes = graph.Messages(F.Graph.Node);
        Assert.Equal(["Sub", "Mul", "BatchNormalization", "Gemm", "LeakyRelu", "Gemm", "Softmax"], nodes.Select(n => n.String(F.Node.OpType)));
        var initializers = graph.Messages(F.Graph.Initializer).ToDictionary(i => i.String(F.Tensor.Name));
        Assert.Equal(net.Transform!.Offset, initializers[nodes[0].Strings(F.Node.Input)[1]].Floats(F.Tensor.RawData));
        Assert.Equal(net.Transform.Factor, initializers[nodes[1].Strings(F.Node.Input)[1]].Floats(F.Tensor.RawData));
        Assert.Equal(
            ["0.weight", "0.bias", "0.running_mean", "0.running_var"],
            nodes[2].Strings(F.Node.Input).Skip(1));
    }

    [Fact]
    public void AttributesCarryTheLayerSettings()
    {
        var nodes = Graph(Export(OnnxTestNetworks.BatchNormStandardized, out _)).Messages(F.Graph.Node);
        var byOp = nodes.GroupBy(n => n.String(F.Node.OpType)).ToDictionary(g => g.Key, g => g.First());

        var epsilon = Assert.Single(byOp["BatchNormalization"].Messages(F.Node.Attribute));
        Assert.Equal("epsilon", epsilon.String(F.Attribute.Name));
        Assert.Equal(F.Attribute.TypeFloat, epsilon.Int64(F.Attribute.Type));
        Assert.Equal(1e-5f, epsilon.Float(F.Attribute.F));

        var alpha = Assert.Single(byOp["LeakyRelu"].Messages(F.Node.Attribute));
        Assert.Equal(("alpha", F.Attribute.TypeFloat, 0.05f), (alpha.String(F.Attribute.Name), alpha.Int64(F.Attribute.Type), alpha.Float(F.Attribute.F)));

        var transB = Assert.Single(byOp["Gemm"].Messages(F.Node.Attribute));
        Assert.Equal(("transB", F.Attribute.TypeInt, 1L), (transB.String(F.Attribute.Name), transB.Int64(F.Attribute.Type), transB.Int64(F.Attribute.I)));

        var axis = Assert.Single(byOp["Softmax"].Messages(F.Node.Attribute));
        Assert.Equal(("axis", F.Attribute.TypeInt, -1L), (axis.String(F.Attribute.Name), axis.Int64(F.Attribute.Type), axis.Int64(F.Attribute.I)));
    }

    [Fact]
    public void ConvAndPoolAttributesCarryKernelStridesAndPadsOnNchw()
    {
        var nodes = Graph(Export(OnnxTestNetworks.CnnEveryLayer, out _)).Messages(F.Graph.Node);
        Assert.Equal(["Sub", "Mul", "Reshape", "Conv", "BatchNormalization", "Relu", "MaxPool", "Conv", "Tanh", "AveragePool", "Flatten", "Gemm", "Relu", "Gemm", "Softmax"],
            nodes.Select(n => n.String(F.Node.OpType)));
        var convs = nodes.Where(n => n.String(F.Node.OpType) == "Conv").ToArray();
        Assert.Equal("3 | 3,3 | 1,1 | 1,1,1,1", Describe(convs[0]));
        Assert.Equal("2 | 3,3 | 2,2 | 1,1,1,1", Describe(convs[1]));
        var avg = nodes.Single(n => n.String(F.Node.OpType) == "AveragePool").Messages(F.Node.Attribute).ToDictionary(a => a.String(F.Attribute.Name));
        Assert.Equal([2L, 2], avg["kernel_shape"].Int64s(F.Attribute.Ints));
        Assert.Equal([1L, 1], avg["strides"].Int64s(F.Attribute.Ints));
        Assert.Equal(F.Attribute.TypeInts, avg["strides"].Int64(F.Attribute.Type));
        var flatten = Assert.Single(nodes.Single(n => n.String(F.Node.OpType) == "Flatten").Messages(F.Node.Attribute));
        Assert.Equal(("axis", 1L), (flatten.String(F.Attribute.Name), flatten.Int64(F.Attribute.I)));
    }

    /// <summary>"inputs | kernel_shape | strides | pads" of a Conv node (inputs: data, weight and the bias if learned).</summary>
    private static string Describe(ProtoView conv)
    {
        var a = conv.Messages(F.Node.Attribute).ToDictionary(m => m.String(F.Attribute.Name), m => string.Join(',', m.Int64s(F.Attribute.Ints)));
        return $"{conv.Strings(F.Node.Input).Length} | {a["kernel_shape"]} | {a["strides"]} | {a["pads"]}";
    }

    [Fact]
    public void FlatRowsBecomeNchwByAnInt64ReshapeAndTheOutputIsFlatAgain()
    {
        var graph = Graph(Export(OnnxTestNetworks.CnnEndsInGlobalPool, out var net));
        var nodes = graph.Messages(F.Graph.Node);
        Assert.Equal(["Reshape", "Conv", "MaxPool", "GlobalAveragePool", "Flatten"], nodes.Select(n => n.String(F.Node.OpType)));
        var shape = graph.Messages(F.Graph.Initializer).Single(i => i.String(F.Tensor.Name) == nodes[0].Strings(F.Node.Input)[1]);
        Assert.Equal(F.Tensor.DataTypeInt64, shape.Int64(F.Tensor.DataType));
        Assert.Equal([4L], shape.Int64s(F.Tensor.Dims));
        var raw = shape.Bytes(F.Tensor.RawData);
        Assert.Equal([-1L, 1, 6, 6], Enumerable.Range(0, 4).Select(i => BitConverter.ToInt64(raw, 8 * i)));
        Assert.Equal("output", nodes[^1].Strings(F.Node.Output)[0]);
        Assert.Equal(3, net.OutputWidth);
    }

    [Fact]
    public void EveryLayerTypeASpecCanNameIsInAnExportedTestNetwork()
    {
        // A new layer type must come with its ONNX mapping (and an ONNX Runtime check), or this fails.
        var specTypes = typeof(LayerSpec).GetCustomAttributes(typeof(System.Text.Json.Serialization.JsonDerivedTypeAttribute), false)
            .Cast<System.Text.Json.Serialization.JsonDerivedTypeAttribute>().Select(a => a.DerivedType).ToHashSet();
        var covered = OnnxTestNetworks.All.SelectMany(n => OnnxTestNetworks.Spec(n).Layers).Select(l => l.GetType()).ToHashSet();
        Assert.Empty(specTypes.Except(covered).Select(t => t.Name));
        foreach (var name in OnnxTestNetworks.All) Assert.NotEmpty(OnnxExport.Write(OnnxTestNetworks.Create(name)));
    }

    [Theory]
    [MemberData(nameof(OnnxRuntimeTests.Networks), MemberType = typeof(OnnxRuntimeTests))]
    public void NodesFormOneChainFromInputToOutputOverInitializers(string name)
    {
        var graph = Graph(Export(name, out _));
        var initializers = graph.Messages(F.Graph.Initializer).Select(i => i.String(F.Tensor.Name)).ToHashSet();
        var nodes = graph.Messages(F.Graph.Node);
        string previous = "input";
        foreach (var node in nodes)
        {
            var inputs = node.Strings(F.Node.Input);
            Assert.Equal(previous, inputs[0]);
            Assert.All(inputs.Skip(1), i => Assert.Contains(i, initializers));
            previous = Assert.Single(node.Strings(F.Node.Output));
        }
        Assert.Equal("output", previous);
        Assert.Equal(nodes.Length, nodes.Select(n => n.String(F.Node.Name)).Distinct().Count());
    }

    [Theory]
    [InlineData(LossKind.SoftmaxCrossEntropy, "Softmax")]
    [InlineData(LossKind.SigmoidBinaryCrossEntropy, "Sigmoid")]
    [InlineData(LossKind.Mse, "Gemm")]
    public void LastNodeIsThePredictionActivationOfTheLoss(LossKind loss, string lastOp)
    {
        var net = Network.Create(new ModelSpec([3], [new DenseSpec(4), new ReluSpec(), new DenseSpec(2)], loss), new Rng(1));
        var nodes = Graph(new ProtoView(OnnxExport.Write(net))).Messages(F.Graph.Node);
        Assert.Equal(lastOp, nodes[^1].String(F.Node.OpType));
    }

    [Fact]
    public void NetworkThatComputesNothingStillProducesTheOutput()
    {
        var net = Network.Create(new ModelSpec([3], [new DropoutSpec(0.5f)], LossKind.Mse), new Rng(1));
        var node = Assert.Single(Graph(new ProtoView(OnnxExport.Write(net))).Messages(F.Graph.Node));
        Assert.Equal("Identity", node.String(F.Node.OpType));
        Assert.Equal(["input"], node.Strings(F.Node.Input));
        Assert.Equal(["output"], node.Strings(F.Node.Output));
    }

    [Fact]
    public void SameNetworkGivesIdenticalBytes()
    {
        var net = OnnxTestNetworks.Create(OnnxTestNetworks.BatchNormStandardized);
        Assert.Equal(OnnxExport.Write(net, "v"), OnnxExport.Write(net, "v"));
    }

    [Fact]
    public void TransformOfAnotherWidthIsRejected()
    {
        var net = OnnxTestNetworks.Create(OnnxTestNetworks.DenseReluSoftmax);
        net.Transform = new InputTransform(NormalizationKind.Scale, new float[3], [1f, 1f, 1f]);
        var e = Assert.Throws<InvalidOperationException>(() => OnnxExport.Write(net));
        Assert.Contains("4 features", e.Message);
    }
}
