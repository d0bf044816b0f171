using System.Text.Json.Serialization;

namespace TrainingService.Contracts;

/// <summary>A model as data: an input shape, an ordered list of layers and a loss.</summary>
/// <param name="Input">Shape of one sample, e.g. <c>[784]</c> or <c>[1, 28, 28]</c>; dense layers flatten it.</param>
/// <param name="Layers">Layers applied in order.</param>
/// <param name="Loss">Loss applied to the last layer's output.</param>
public sealed record ModelSpec(int[] Input, IReadOnlyList<LayerSpec> Layers, LossKind Loss);

/// <summary>One layer of a model; the JSON property <c>type</c> selects the kind.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(DenseSpec), "dense")]
[JsonDerivedType(typeof(ReluSpec), "relu")]
[JsonDerivedType(typeof(LeakyReluSpec), "leaky_relu")]
[JsonDerivedType(typeof(SigmoidSpec), "sigmoid")]
[JsonDerivedType(typeof(TanhSpec), "tanh")]
[JsonDerivedType(typeof(BatchNormSpec), "batchnorm")]
[JsonDerivedType(typeof(DropoutSpec), "dropout")]
[JsonDerivedType(typeof(Conv2dSpec), "conv2d")]
[JsonDerivedType(typeof(MaxPool2dSpec), "maxpool2d")]
[JsonDerivedType(typeof(AvgPool2dSpec), "avgpool2d")]
[JsonDerivedType(typeof(GlobalAvgPool2dSpec), "globalavgpool2d")]
[JsonDerivedType(typeof(FlattenSpec), "flatten")]
public abstract record LayerSpec
{
    /// <summary>The discriminator this layer is written with (<c>dense</c>, <c>relu</c>, ...).</summary>
    [JsonIgnore]
    public abstract string TypeName { get; }
}

/// <summary>Fully connected layer Y = X·W + b.</summary>
/// <param name="Units">Output width.</param>
/// <param name="Init">Weight initializer; biases start at zero.</param>
/// <param name="Std">Standard deviation for <see cref="InitKind.Normal"/>.</param>
public sealed record DenseSpec(int Units, InitKind Init = InitKind.He, float? Std = null) : LayerSpec
{
    [JsonIgnore] public override string TypeName => "dense";
}

public sealed record ReluSpec : LayerSpec
{
    [JsonIgnore] public override string TypeName => "relu";
}

/// <param name="Alpha">Slope for negative inputs.</param>
public sealed record LeakyReluSpec(float Alpha = 0.01f) : LayerSpec
{
    [JsonIgnore] public override string TypeName => "leaky_relu";
}

public sealed record SigmoidSpec : LayerSpec
{
    [JsonIgnore] public override string TypeName => "sigmoid";
}

public sealed record TanhSpec : LayerSpec
{
    [JsonIgnore] public override string TypeName => "tanh";
}

/// <summary>Batch normalization over the batch dimension with learnable γ (1) and β (0).</summary>
/// <param name="Momentum">running = momentum·running + (1 − momentum)·batch statistic.</param>
/// <param name="Epsilon">Added to the variance before the square root.</param>
public sealed record BatchNormSpec(float Momentum = 0.9f, float Epsilon = 1e-5f) : LayerSpec
{
    [JsonIgnore] public override string TypeName => "batchnorm";
}

/// <summary>Inverted dropout: scales kept units by 1/(1 − rate) in training, identity in evaluation.</summary>
/// <param name="Rate">Probability of dropping a unit, in [0, 1).</param>
public sealed record DropoutSpec(float Rate) : LayerSpec
{
    [JsonIgnore] public override string TypeName => "dropout";
}

[JsonConverter(typeof(JsonStringEnumConverter<LossKind>))]
public enum LossKind
{
    /// <summary>Softmax fused with cross entropy; targets are class indices or one-hot/soft rows.</summary>
    [JsonStringEnumMemberName("softmax_cross_entropy")] SoftmaxCrossEntropy,
    /// <summary>½·mean of squared errors, for regression.</summary>
    [JsonStringEnumMemberName("mse")] Mse,
    /// <summary>Sigmoid fused with binary cross entropy, for multi-label targets.</summary>
    [JsonStringEnumMemberName("sigmoid_binary_cross_entropy")] SigmoidBinaryCrossEntropy,
}

/// <summary>Weight initializers. "Xavier" is Glorot: N(0, 2/(n_in + n_out)); see README.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<InitKind>))]
public enum InitKind
{
    /// <summary>N(0, 2/n_in).</summary>
    [JsonStringEnumMemberName("he")] He,
    /// <summary>U(−√(6/n_in), √(6/n_in)).</summary>
    [JsonStringEnumMemberName("he_uniform")] HeUniform,
    /// <summary>Glorot normal N(0, 2/(n_in + n_out)).</summary>
    [JsonStringEnumMemberName("xavier")] Xavier,
    /// <summary>Glorot uniform U(−√(6/(n_in + n_out)), +).</summary>
    [JsonStringEnumMemberName("xavier_uniform")] XavierUniform,
    /// <summary>N(0, std²) with the layer's <c>std</c>.</summary>
    [JsonStringEnumMemberName("normal")] Normal,
}
