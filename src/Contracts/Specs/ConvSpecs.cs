using System.Text.Json;
using System.Text.Json.Serialization;

namespace TrainingService.Contracts;

/// <summary>2-D convolution over NCHW images (cross-correlation, as <c>torch.nn.Conv2d</c>).</summary>
/// <param name="Filters">Output channels.</param>
/// <param name="Kernel">Square kernel size.</param>
/// <param name="Stride">Step between kernel positions.</param>
/// <param name="Padding">Zeros added on every side, or <c>"same"</c> (stride 1, odd kernel): output size equals input size.</param>
/// <param name="Bias">Whether a per-filter bias is learned.</param>
/// <param name="Init">Weight initializer with fan-in C·k² and fan-out filters·k²; the bias starts at zero.</param>
/// <param name="Std">Standard deviation for <see cref="InitKind.Normal"/>.</param>
public sealed record Conv2dSpec(int Filters, int Kernel, int Stride = 1, ConvPadding Padding = default, bool Bias = true,
    InitKind Init = InitKind.He, float? Std = null) : LayerSpec
{
    [JsonIgnore] public override string TypeName => "conv2d";
}

/// <summary>Maximum over size×size windows of each channel.</summary>
/// <param name="Stride">Step between windows; defaults to <paramref name="Size"/>.</param>
public sealed record MaxPool2dSpec(int Size, int? Stride = null) : LayerSpec
{
    [JsonIgnore] public override string TypeName => "maxpool2d";
}

/// <summary>Mean over size×size windows of each channel.</summary>
/// <param name="Stride">Step between windows; defaults to <paramref name="Size"/>.</param>
public sealed record AvgPool2dSpec(int Size, int? Stride = null) : LayerSpec
{
    [JsonIgnore] public override string TypeName => "avgpool2d";
}

/// <summary>Mean of each channel over the whole image: [C, H, W] → [C, 1, 1].</summary>
public sealed record GlobalAvgPool2dSpec : LayerSpec
{
    [JsonIgnore] public override string TypeName => "globalavgpool2d";
}

/// <summary>[C, H, W] → [C·H·W], the order of NCHW memory (as <c>torch.nn.Flatten</c>).</summary>
public sealed record FlattenSpec : LayerSpec
{
    [JsonIgnore] public override string TypeName => "flatten";
}

/// <summary>A convolution's padding: a number of zeros per side, or <c>"same"</c>. JSON: a number or the string "same" / "valid".</summary>
[JsonConverter(typeof(ConvPaddingConverter))]
public readonly record struct ConvPadding(int Value, bool Same)
{
    public static ConvPadding SameSize => new(0, true);

    public static implicit operator ConvPadding(int value) => new(value, false);

    /// <summary>Zeros per side for a kernel of size <paramref name="kernel"/>.</summary>
    public int Resolve(int kernel) => Same ? (kernel - 1) / 2 : Value;

    public override string ToString() => Same ? "same" : Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

internal sealed class ConvPaddingConverter : JsonConverter<ConvPadding>
{
    public override ConvPadding Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out int value)) return new ConvPadding(value, false);
        if (reader.TokenType == JsonTokenType.String)
        {
            switch (reader.GetString())
            {
                case "same": return ConvPadding.SameSize;
                case "valid": return new ConvPadding(0, false);
            }
        }
        throw new JsonException("padding must be a whole number of zeros per side, \"same\" or \"valid\".");
    }

    public override void Write(Utf8JsonWriter writer, ConvPadding value, JsonSerializerOptions options)
    {
        if (value.Same) writer.WriteStringValue("same");
        else writer.WriteNumberValue(value.Value);
    }
}
