namespace Engine.Specs;

/// <summary>
/// The per-sample shape flowing between layers. <see cref="Image"/> marks a [C, H, W] produced by a conv or
/// pooling layer (and kept by the element-wise layers after it): dense layers refuse it (a flatten must come
/// first) and batchnorm normalizes it per channel. A raw rank-3 spec input is not an image for these two rules,
/// so MLP specs with input [1, 28, 28] keep meaning what they meant.
/// </summary>
public sealed record ActivationShape(int[] Dims, bool Image)
{
    public long Width => Dims.Aggregate(1L, (a, d) => a * d);
    public int Channels => Dims.Length == 3 ? Dims[0] : 1;
    /// <summary>H·W of a [C, H, W] or [H, W] shape.</summary>
    public int Plane => Dims.Length >= 2 ? Dims[^2] * Dims[^1] : 1;

    public override string ToString() => $"[{string.Join(", ", Dims)}]";
}

/// <summary>Shape inference for one layer: the rules that tie a layer's settings to the shape it receives.</summary>
internal static class ShapeInference
{
    /// <summary>A layer's output (null when it does not fit), learnable values, forward FLOPs and training-time extra floats per sample.</summary>
    internal readonly record struct Step(ActivationShape? Output, long Parameters, long Buffers, long Flops, long ExtraFloats, SpecError? Error)
    {
        public static Step Broken(SpecError? error) => new(null, 0, 0, 0, 0, error);
    }

    public static Step Infer(LayerSpec layer, ActivationShape input, string path)
    {
        long width = input.Width;
        switch (layer)
        {
            case DenseSpec d:
                if (d.Units < 1) return Step.Broken(null);
                if (input.Image)
                    return Step.Broken(new SpecError(path, $"dense needs a flat input, got {input} from a conv or pooling layer; add a flatten layer before it"));
                return new Step(new ActivationShape([d.Units], false), width * d.Units + d.Units, 0, 2 * width * d.Units, 0, null);
            case BatchNormSpec:
                long features = input.Image ? input.Channels : width;
                return new Step(input, 2 * features, 2 * features, 4 * width, width, null);
            case DropoutSpec:
                return new Step(input, 0, 0, width, width, null);
            case ReluSpec or LeakyReluSpec or SigmoidSpec or TanhSpec:
                return new Step(input, 0, 0, width, 0, null);
            case FlattenSpec:
                return new Step(new ActivationShape([checked((int)width)], false), 0, 0, 0, 0, null);
            case Conv2dSpec c:
                return Conv(c, input, path);
            case MaxPool2dSpec m:
                return Pool(m.Size, m.Stride ?? m.Size, input, path, max: true);
            case AvgPool2dSpec a:
                return Pool(a.Size, a.Stride ?? a.Size, input, path, max: false);
            case GlobalAvgPool2dSpec:
                if (ImageDims(input, path, "globalavgpool2d", out var error) is not { } g) return Step.Broken(error);
                return new Step(new ActivationShape([g.C, 1, 1], true), 0, 0, width, 0, null);
            default:
                return Step.Broken(null);
        }
    }

    private static Step Conv(Conv2dSpec c, ActivationShape input, string path)
    {
        if (c.Filters < 1 || c.Kernel < 1 || c.Stride < 1 || c.Padding.Value < 0 || c.Padding.Same && (c.Stride != 1 || c.Kernel % 2 == 0))
            return Step.Broken(null); // field errors are reported by the field checks
        if (ImageDims(input, path, "conv2d", out var error) is not { } d) return Step.Broken(error);
        int pad = c.Padding.Resolve(c.Kernel);
        long paddedH = d.H + 2L * pad, paddedW = d.W + 2L * pad;
        if (c.Kernel > paddedH || c.Kernel > paddedW)
            return Step.Broken(new SpecError($"{path}.kernel",
                $"kernel {c.Kernel} is larger than the {(pad > 0 ? "padded " : "")}input {paddedH}x{paddedW} (input {input}, padding {pad})"));
        long oh = (paddedH - c.Kernel) / c.Stride + 1, ow = (paddedW - c.Kernel) / c.Stride + 1;
        long patch = (long)d.C * c.Kernel * c.Kernel;
        long parameters = c.Filters * patch + (c.Bias ? c.Filters : 0);
        var output = new ActivationShape([c.Filters, (int)oh, (int)ow], true);
        return new Step(output, parameters, 0, 2 * c.Filters * patch * oh * ow, 0, null);
    }

    private static Step Pool(int size, int stride, ActivationShape input, string path, bool max)
    {
        if (size < 1 || stride < 1) return Step.Broken(null);
        string type = max ? "maxpool2d" : "avgpool2d";
        if (ImageDims(input, path, type, out var error) is not { } d) return Step.Broken(error);
        if (size > d.H || size > d.W)
            return Step.Broken(new SpecError($"{path}.size", $"window {size} is larger than the input {d.H}x{d.W} (input {input})"));
        int oh = (d.H - size) / stride + 1, ow = (d.W - size) / stride + 1;
        long outputs = (long)d.C * oh * ow;
        // Max pooling keeps the index of each window's maximum for the backward pass.
        return new Step(new ActivationShape([d.C, oh, ow], true), 0, 0, outputs * size * size, max ? outputs : 0, null);
    }

    /// <summary>[C, H, W] of an image input; a raw [H, W] spec input is one channel.</summary>
    private static (int C, int H, int W)? ImageDims(ActivationShape input, string path, string type, out SpecError? error)
    {
        error = null;
        if (input.Dims.Length == 3) return (input.Dims[0], input.Dims[1], input.Dims[2]);
        if (input.Dims.Length == 2 && !input.Image) return (1, input.Dims[0], input.Dims[1]);
        error = new SpecError(path, $"{type} needs a [C, H, W] input, got {input}; give the spec's input as [channels, height, width]");
        return null;
    }

    /// <summary>The input of every layer of a valid spec (the network builder's view of the validator's shapes).</summary>
    public static ActivationShape[] InputShapes(ModelSpec spec)
    {
        var shapes = new ActivationShape[spec.Layers.Count];
        var shape = new ActivationShape((int[])spec.Input.Clone(), false);
        for (int i = 0; i < shapes.Length; i++)
        {
            shapes[i] = shape;
            var step = Infer(spec.Layers[i], shape, $"layers[{i}]");
            if (step.Error is { } e) throw new ArgumentException($"The spec does not fit: {e}.", nameof(spec));
            shape = step.Output ?? throw new ArgumentException($"The spec's layer {i} ({spec.Layers[i].TypeName}) has invalid settings.", nameof(spec));
        }
        return shapes;
    }
}
