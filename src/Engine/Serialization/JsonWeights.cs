using System.Text.Json;

namespace Engine.Serialization;

/// <summary>
/// Weights as plain JSON for tools without a safetensors reader:
/// <c>{"format":"nn-weights/1","tensors":{"0.weight":{"shape":[out,in],"data":[...]}}}</c>.
/// Floats are written in shortest round-trip form, so Write then Read is exact. JSON has no NaN or
/// infinity, so non-finite weights cannot be written.
/// </summary>
public static class JsonWeights
{
    public const string Format = "nn-weights/1";

    public static byte[] Write(IReadOnlyList<NamedTensor> tensors)
    {
        var buffer = new MemoryStream();
        // A MemoryStream completes every write synchronously.
        WriteAsync(buffer, tensors).GetAwaiter().GetResult();
        return buffer.ToArray();
    }

    /// <summary>
    /// Writes to <paramref name="stream"/> as it goes, flushing every 64 KiB, so a large model never exists as one
    /// JSON buffer. Non-finite values throw before anything is written (<see cref="CheckFinite"/>).
    /// </summary>
    public static async Task WriteAsync(Stream stream, IReadOnlyList<NamedTensor> tensors, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        CheckFinite(tensors);
        const int FlushBytes = 1 << 16;
        await using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("format", Format);
            json.WriteStartObject("tensors");
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var t in tensors)
            {
                if (!names.Add(t.Name)) throw new ArgumentException($"Tensor '{t.Name}' appears more than once.", nameof(tensors));
                if (NamedTensor.ElementCount(t.Shape) != t.Data.Length)
                    throw new ArgumentException($"Tensor '{t.Name}' has {t.Data.Length} values for shape [{string.Join(", ", t.Shape)}].", nameof(tensors));
                json.WriteStartObject(t.Name);
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data");
                for (int i = 0; i < t.Data.Length; i++)
                {
                    json.WriteNumberValue(t.Data[i]);
                    if (json.BytesPending >= FlushBytes) await json.FlushAsync(ct);
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
            json.WriteEndObject();
            await json.FlushAsync(ct);
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first tensor with a value JSON cannot represent (NaN, ±∞).</summary>
    public static void CheckFinite(IReadOnlyList<NamedTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        foreach (var t in tensors)
            if (!System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(t.Data))
                throw new ArgumentException($"Tensor '{t.Name}' contains a non-finite value, which JSON cannot represent.", nameof(tensors));
    }

    /// <summary>Reads the tensors in document order; any deviation from the format is an <see cref="InvalidDataException"/>.</summary>
    public static IReadOnlyList<NamedTensor> Read(ReadOnlySpan<byte> bytes)
    {
        // JsonDocument accepts invalid UTF-8 inside strings and only fails later, when a name is read.
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new InvalidDataException("Not valid UTF-8.");
        JsonDocument document;
        try { document = JsonDocument.Parse(bytes.ToArray()); }
        catch (JsonException e) { throw new InvalidDataException($"Not valid JSON: {e.Message}", e); }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException("Top level is not a JSON object.");
            if (!root.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String || format.GetString() != Format)
                throw new InvalidDataException($"Missing or unknown \"format\"; expected \"{Format}\".");
            if (!root.TryGetProperty("tensors", out var tensors) || tensors.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException("Missing \"tensors\" object.");

            var result = new List<NamedTensor>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in tensors.EnumerateObject())
            {
                if (!names.Add(property.Name)) throw new InvalidDataException($"Tensor '{property.Name}' appears more than once.");
                result.Add(ReadTensor(property.Name, property.Value));
            }
            return result;
        }
    }

    private static NamedTensor ReadTensor(string name, JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"Tensor '{name}' is not a JSON object.");
        if (!element.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"Tensor '{name}': missing shape array.");
        var shape = new int[shapeElement.GetArrayLength()];
        int i = 0;
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out shape[i]) || shape[i] < 0)
                throw new InvalidDataException($"Tensor '{name}': shape entry {d} is not a non-negative 32-bit integer.");
            i++;
        }
        if (!element.TryGetProperty("data", out var dataElement) || dataElement.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"Tensor '{name}': missing data array.");
        long expected;
        try { expected = NamedTensor.ElementCount(shape); }
        catch (OverflowException) { throw new InvalidDataException($"Tensor '{name}': shape [{string.Join(", ", shape)}] is too large."); }
        if (dataElement.GetArrayLength() != expected)
            throw new InvalidDataException($"Tensor '{name}': shape [{string.Join(", ", shape)}] needs {expected} values, data has {dataElement.GetArrayLength()}.");

        var data = new float[expected];
        i = 0;
        foreach (var v in dataElement.EnumerateArray())
        {
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetSingle(out data[i]) || !float.IsFinite(data[i]))
                throw new InvalidDataException($"Tensor '{name}': data[{i}] = {v} is not a finite float.");
            i++;
        }
        return new NamedTensor(name, shape, data);
    }
}
