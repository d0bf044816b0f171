using Engine.Data;

namespace Engine.Specs;

/// <summary>
/// Checks a <see cref="ModelSpec"/> before anything is built from it and infers every layer's shape.
/// All size arithmetic is checked 64-bit and compared with <see cref="SpecLimits"/> as it goes, so an
/// absurd spec (2·10⁹ units, 10⁶ layers) is rejected after a few comparisons without allocating for it.
/// </summary>
/// <remarks>
/// Rules beyond ranges of single fields: at least one dense layer (otherwise nothing is trainable);
/// with a loss that applies its own output function (softmax, sigmoid) no activation may come after the
/// last dense layer, because the loss expects raw logits (a sigmoid before sigmoid_binary_cross_entropy
/// would apply it twice, a relu would clip negative logits); softmax_cross_entropy needs a final width of at least 2.
/// </remarks>
public static class SpecValidator
{
    private const int MaxInputRank = 4;

    public static SpecReport Validate(ModelSpec? spec, SpecLimits? limits = null)
    {
        limits ??= SpecLimits.Default;
        var errors = new List<SpecError>();
        var layers = new List<LayerReport>();
        if (spec is null) return Invalid(errors, new SpecError("", "a model spec is required"));

        bool lossKnown = Enum.IsDefined(spec.Loss);
        if (!lossKnown) errors.Add(new SpecError("loss", $"unknown value {(int)spec.Loss}; expected softmax_cross_entropy, mse or sigmoid_binary_cross_entropy"));

        // Input: 1 to 4 positive dimensions whose product (the flattened width) is within limits.
        int[]? shape = null;
        long width = 0;
        if (spec.Input is null) errors.Add(new SpecError("input", "is required"));
        else if (spec.Input.Length is 0 or > MaxInputRank) errors.Add(new SpecError("input", $"must have 1 to {MaxInputRank} dimensions, has {spec.Input.Length}"));
        else
        {
            width = 1;
            bool positive = true;
            for (int i = 0; i < spec.Input.Length; i++)
            {
                if (spec.Input[i] < 1) { errors.Add(new SpecError($"input[{i}]", "must be >= 1")); positive = false; continue; }
                width *= spec.Input[i]; // cannot overflow: width <= MaxWidth (checked below) times an int
                if (width > limits.MaxWidth) return Invalid(errors, new SpecError("input", $"has {width} or more values per sample, more than the limit of {limits.MaxWidth}", true));
            }
            if (positive) shape = (int[])spec.Input.Clone();
            else width = 0;
        }

        if (spec.Layers is null) return Invalid(errors, new SpecError("layers", "is required"));
        if (spec.Layers.Count > limits.MaxLayers)
            return Invalid(errors, new SpecError("layers", $"has {spec.Layers.Count} layers, more than the limit of {limits.MaxLayers}", true));

        long totalParameters = 0, activationFloats = width, bufferFloats = 0, totalFlops = 0;
        var current = shape is null ? null : new ActivationShape(shape, false);
        int lastDense = -1;
        for (int i = 0; i < spec.Layers.Count; i++)
        {
            var layer = spec.Layers[i];
            string path = $"layers[{i}]";
            if (layer is null) { errors.Add(new SpecError(path, "layer is null")); current = null; continue; }
            CheckFields(layer, path, errors, limits);
            if (layer is DenseSpec { Units: var units } && units > limits.MaxWidth)
                return Invalid(errors, new SpecError($"{path}.units", $"must be <= {limits.MaxWidth}", true));
            if (layer is Conv2dSpec { Filters: var filters } && filters > limits.MaxWidth)
                return Invalid(errors, new SpecError($"{path}.filters", $"must be <= {limits.MaxWidth}", true));
            if (layer is DenseSpec or Conv2dSpec) lastDense = i;
            if (current is null) continue; // an earlier error broke shape inference; keep checking fields only

            long inWidth = current.Width;
            var step = ShapeInference.Infer(layer, current, path);
            if (step.Error is { } error) errors.Add(error);
            if (step.Output is not { } output) { current = null; continue; }
            if (output.Width > limits.MaxWidth)
                return Invalid(errors, new SpecError(path, $"outputs {output.Width} values per sample, more than the limit of {limits.MaxWidth}", true));
            current = output;
            totalParameters = checked(totalParameters + step.Parameters);
            if (totalParameters > limits.MaxParameters)
                return Invalid(errors, new SpecError(path, $"brings the model to {totalParameters} parameters, more than the limit of {limits.MaxParameters}", true));
            bufferFloats += step.Buffers;
            totalFlops = checked(totalFlops + step.Flops);
            activationFloats = checked(activationFloats + output.Width + inWidth + step.ExtraFloats);
            layers.Add(new LayerReport(i, layer.TypeName, output.Dims, step.Parameters) { Flops = step.Flops });
        }
        shape = current?.Dims;
        width = current?.Width ?? 0;

        if (spec.Layers.Count > 0 && lastDense < 0) errors.Add(new SpecError("layers", "at least one dense or conv2d layer is required (nothing would be trainable)"));
        if (spec.Layers.Count == 0) errors.Add(new SpecError("layers", "at least one layer is required"));
        if (lossKnown) CheckOutput(spec, lastDense, shape is null ? -1 : width, errors);

        return new SpecReport(errors, layers, totalParameters, shape ?? [], checked(totalParameters * 4), checked(activationFloats * 4))
        {
            BufferBytes = checked(bufferFloats * 4),
            FlopsPerSample = totalFlops,
        };
    }

    private static void CheckFields(LayerSpec layer, string path, List<SpecError> errors, SpecLimits limits)
    {
        switch (layer)
        {
            case DenseSpec d:
                if (d.Units < 1) errors.Add(new SpecError($"{path}.units", "must be >= 1"));
                CheckInit(d.Init, d.Std, path, errors);
                break;
            case LeakyReluSpec l:
                if (!(float.IsFinite(l.Alpha) && l.Alpha >= 0)) errors.Add(new SpecError($"{path}.alpha", "must be >= 0 and finite"));
                break;
            case BatchNormSpec b:
                if (!(b.Momentum >= 0 && b.Momentum < 1)) errors.Add(new SpecError($"{path}.momentum", "must be in [0, 1)"));
                if (!(float.IsFinite(b.Epsilon) && b.Epsilon > 0)) errors.Add(new SpecError($"{path}.epsilon", "must be > 0 and finite"));
                break;
            case DropoutSpec d:
                if (!(d.Rate >= 0 && d.Rate < 1)) errors.Add(new SpecError($"{path}.rate", "must be in [0, 1)"));
                break;
            case Conv2dSpec c:
                if (c.Filters < 1) errors.Add(new SpecError($"{path}.filters", "must be >= 1"));
                if (c.Kernel < 1) errors.Add(new SpecError($"{path}.kernel", "must be >= 1"));
                if (c.Stride < 1) errors.Add(new SpecError($"{path}.stride", "must be >= 1"));
                if (c.Padding.Value < 0) errors.Add(new SpecError($"{path}.padding", "must be >= 0 or \"same\""));
                if (c.Padding.Same && c.Stride != 1) errors.Add(new SpecError($"{path}.padding", "\"same\" needs stride 1 (as in PyTorch)"));
                if (c.Padding.Same && c.Kernel >= 1 && c.Kernel % 2 == 0) errors.Add(new SpecError($"{path}.padding", "\"same\" needs an odd kernel, so the padding is equal on both sides"));
                CheckInit(c.Init, c.Std, path, errors);
                break;
            case MaxPool2dSpec m:
                CheckPool(m.Size, m.Stride, path, errors);
                break;
            case AvgPool2dSpec a:
                CheckPool(a.Size, a.Stride, path, errors);
                break;
            case ReluSpec or SigmoidSpec or TanhSpec or FlattenSpec or GlobalAvgPool2dSpec:
                break;
            default:
                errors.Add(new SpecError(path, $"unknown layer type {layer.GetType().Name}"));
                break;
        }
    }

    private static void CheckInit(InitKind init, float? std, string path, List<SpecError> errors)
    {
        if (!Enum.IsDefined(init)) errors.Add(new SpecError($"{path}.init", $"unknown value {(int)init}; expected he, he_uniform, xavier, xavier_uniform or normal"));
        else if (init == InitKind.Normal && !(std is { } s && float.IsFinite(s) && s > 0))
            errors.Add(new SpecError($"{path}.std", "must be > 0 and finite for init normal"));
        else if (init != InitKind.Normal && std is not null)
            errors.Add(new SpecError($"{path}.std", "is only used with init normal"));
    }

    private static void CheckPool(int size, int? stride, string path, List<SpecError> errors)
    {
        if (size < 1) errors.Add(new SpecError($"{path}.size", "must be >= 1"));
        if (stride is < 1) errors.Add(new SpecError($"{path}.stride", "must be >= 1"));
    }

    /// <summary>Rules tying the last layers to the loss; <paramref name="finalWidth"/> is -1 when shape inference failed.</summary>
    private static void CheckOutput(ModelSpec spec, int lastDense, long finalWidth, List<SpecError> errors)
    {
        string loss = LossName(spec.Loss);
        if (spec.Loss != LossKind.Mse && lastDense >= 0)
        {
            string applies = spec.Loss == LossKind.SoftmaxCrossEntropy ? "softmax" : "sigmoid";
            for (int i = lastDense + 1; i < spec.Layers.Count; i++)
            {
                if (spec.Layers[i] is not (ReluSpec or LeakyReluSpec or SigmoidSpec or TanhSpec)) continue;
                string type = spec.Layers[i].TypeName;
                string why = type == applies ? $"the loss already applies {applies}" : $"{loss} applies {applies} to raw logits";
                errors.Add(new SpecError($"layers[{i}]", $"{type} after the output dense layer is not allowed with loss {loss}: {why}"));
            }
        }
        if (spec.Loss == LossKind.SoftmaxCrossEntropy && finalWidth is >= 0 and < 2)
            errors.Add(new SpecError("loss", $"{loss} needs a final width of at least 2, the model outputs {finalWidth}"));
    }

    /// <summary>
    /// Whether <paramref name="d"/> fits <paramref name="spec"/>: the flattened input width equals the
    /// dataset's feature size; class labels are below the final width (softmax, one-hot BCE) or 0/1 for a
    /// single sigmoid output; float targets have the final width. MSE needs float targets (class labels
    /// are not silently one-hot encoded for regression). An invalid spec returns its validation errors.
    /// </summary>
    public static IReadOnlyList<SpecError> CheckDataset(ModelSpec spec, Dataset d)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(d);
        var report = Validate(spec);
        if (!report.IsValid) return report.Errors;
        var errors = new List<SpecError>();
        long inputWidth = spec.Input.Aggregate(1L, (a, x) => a * x);
        if (spec.Layers.Any(IsSpatial)) { if (ImageMismatch(spec.Input, d.SampleShape) is { } e) errors.Add(e); }
        else if (inputWidth != d.FeatureSize)
            errors.Add(new SpecError("input", $"the model takes {inputWidth} values per sample, the dataset has {d.FeatureSize} (shape [{string.Join(", ", d.SampleShape)}])"));

        int width = report.OutputWidth;
        string loss = LossName(spec.Loss);
        if (d.Labels is { } labels)
        {
            int max = labels.Length == 0 ? -1 : labels.Max();
            if (spec.Loss == LossKind.Mse)
                errors.Add(new SpecError("loss", "mse needs float targets, the dataset has class labels (load it as regression)"));
            else if (spec.Loss == LossKind.SigmoidBinaryCrossEntropy && width == 1)
            {
                if (labels.Any(l => l is not (0 or 1))) errors.Add(new SpecError("loss", $"{loss} with one output needs labels 0 or 1, the dataset has labels up to {max}"));
            }
            else if (Math.Max(d.Classes, max + 1) > width)
                errors.Add(new SpecError("loss", $"the dataset has {Math.Max(d.Classes, max + 1)} classes, more than the final width {width}"));
        }
        else if (d.TargetWidth != width)
            errors.Add(new SpecError("loss", $"the dataset has targets of width {d.TargetWidth}, the final width is {width}"));
        return errors;
    }

    private static bool IsSpatial(LayerSpec layer) => layer is Conv2dSpec or MaxPool2dSpec or AvgPool2dSpec or GlobalAvgPool2dSpec;

    /// <summary>
    /// A model with convolutions or pooling reads the data's samples as images, so their [C, H, W] must be the spec's
    /// input, not just hold as many values; an [H, W] on either side is one channel (IDX images).
    /// </summary>
    private static SpecError? ImageMismatch(int[] input, int[] sample)
    {
        static int[] Chw(int[] s) => s.Length == 2 ? [1, s[0], s[1]] : s;
        int[] model = Chw(input), data = Chw(sample);
        if (model.AsSpan().SequenceEqual(data)) return null;
        string modelText = $"[{string.Join(", ", model)}]", dataText = $"[{string.Join(", ", sample)}]";
        if (data.Length != 3)
            return new SpecError("input", $"the model's convolution or pooling layers take images {modelText} (channels, height, width); " +
                $"the dataset's samples are {dataText}, not images (upload IDX images [N, H, W] or NPY [N, C, H, W])");
        if (model[1] == data[1] && model[2] == data[2])
            return new SpecError("input", $"the model takes {model[0]} channel{(model[0] == 1 ? "" : "s")} ({modelText}), " +
                $"the dataset's images have {data[0]} ({dataText}); set input to [{data[0]}, {data[1]}, {data[2]}]");
        return new SpecError("input", $"the model takes images {modelText} (channels, height, width), the dataset's samples are {dataText}; " +
            $"set input to [{data[0]}, {data[1]}, {data[2]}]");
    }

    internal static string LossName(LossKind kind) => kind switch
    {
        LossKind.SoftmaxCrossEntropy => "softmax_cross_entropy",
        LossKind.Mse => "mse",
        LossKind.SigmoidBinaryCrossEntropy => "sigmoid_binary_cross_entropy",
        _ => ((int)kind).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static SpecReport Invalid(List<SpecError> errors, SpecError error)
    {
        errors.Add(error);
        return new SpecReport(errors, [], 0, [], 0, 0);
    }
}
