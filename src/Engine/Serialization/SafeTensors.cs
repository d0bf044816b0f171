using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Engine.Serialization;

/// <summary>
/// The safetensors format (https://github.com/huggingface/safetensors), float32 tensors and int64 scalars (BatchNorm's
/// <c>num_batches_tracked</c>, which PyTorch's state dicts hold): an 8-byte
/// little-endian header length, a JSON header mapping each name to
/// <c>{"dtype":"F32","shape":[..],"data_offsets":[begin,end]}</c> (offsets relative to the data section)
/// plus an optional <c>"__metadata__"</c> string map, padded with spaces to 8-byte alignment, then the
/// tensors' little-endian bytes in name order. Files come from users, so <see cref="Read(ReadOnlySpan{byte})"/>
/// checks every length and offset and reports problems as <see cref="InvalidDataException"/>.
/// </summary>
public static class SafeTensors
{
    /// <summary>Same cap as the reference implementation: a larger header is not a real model.</summary>
    public const int MaxHeaderBytes = 100_000_000;
    private const string MetadataKey = "__metadata__";

    public static byte[] Write(IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null,
        IReadOnlyList<NamedInt64>? scalars = null)
    {
        var (head, ordered, dataBytes) = Header(tensors, metadata, scalars);
        var result = new byte[checked(head.Length + dataBytes)];
        head.CopyTo(result, 0);
        var data = result.AsSpan(head.Length);
        foreach (var (_, t, scalar) in ordered)
        {
            if (t is not null)
            {
                WriteLittleEndian(t.Data, data);
                data = data[(t.Data.Length * sizeof(float))..];
            }
            else
            {
                BinaryPrimitives.WriteInt64LittleEndian(data, scalar!.Value);
                data = data[sizeof(long)..];
            }
        }
        return result;
    }

    /// <summary>The same file written to <paramref name="stream"/> tensor by tensor, never as one buffer.</summary>
    public static async Task WriteAsync(Stream stream, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null,
        IReadOnlyList<NamedInt64>? scalars = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var (head, ordered, _) = Header(tensors, metadata, scalars);
        await stream.WriteAsync(head, ct);
        const int ChunkValues = 1 << 14;
        var chunk = new byte[ChunkValues * sizeof(float)];
        foreach (var (_, t, scalar) in ordered)
        {
            if (t is null)
            {
                BinaryPrimitives.WriteInt64LittleEndian(chunk, scalar!.Value);
                await stream.WriteAsync(chunk.AsMemory(0, sizeof(long)), ct);
                continue;
            }
            for (int i = 0; i < t.Data.Length; i += ChunkValues)
            {
                int n = Math.Min(ChunkValues, t.Data.Length - i);
                WriteLittleEndian(t.Data.AsSpan(i, n), chunk);
                await stream.WriteAsync(chunk.AsMemory(0, n * sizeof(float)), ct);
            }
        }
    }

    /// <summary>The 8-byte length and the padded JSON header, the entries in file order and the data section's size.</summary>
    private static (byte[] Head, List<(string Name, NamedTensor? Tensor, NamedInt64? Scalar)> Ordered, long DataBytes) Header(
        IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata, IReadOnlyList<NamedInt64>? scalars)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        // Float tensors and int64 scalars share one name order, as the reference writer sorts every entry.
        var ordered = tensors.Select(t => (t.Name, Tensor: (NamedTensor?)t, Scalar: (NamedInt64?)null))
            .Concat((scalars ?? []).Select(c => (c.Name, Tensor: (NamedTensor?)null, Scalar: (NamedInt64?)c)))
            .OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
        var header = new MemoryStream();
        long offset = 0;
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal)) json.WriteString(key, value);
                json.WriteEndObject();
            }
            string? previous = null;
            foreach (var (name, t, scalar) in ordered)
            {
                if (string.IsNullOrEmpty(name) || name == MetadataKey) throw new ArgumentException($"Invalid tensor name '{name}'.", nameof(tensors));
                if (name == previous) throw new ArgumentException($"Tensor '{name}' appears more than once.", nameof(tensors));
                previous = name;
                json.WriteStartObject(name);
                if (t is not null)
                {
                    long count = NamedTensor.ElementCount(t.Shape);
                    if (count != t.Data.Length) throw new ArgumentException($"Tensor '{name}' has {t.Data.Length} values for shape [{string.Join(", ", t.Shape)}].", nameof(tensors));
                    json.WriteString("dtype", "F32");
                    json.WriteStartArray("shape");
                    foreach (var d in t.Shape) json.WriteNumberValue(d);
                    json.WriteEndArray();
                    WriteOffsets(json, offset, offset += count * sizeof(float));
                }
                else
                {
                    json.WriteString("dtype", "I64");
                    json.WriteStartArray("shape");
                    json.WriteEndArray();
                    WriteOffsets(json, offset, offset += sizeof(long));
                }
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        // Pad so the data section starts 8-byte aligned (8 + header length ≡ 0 mod 8).
        int headerLength = checked((int)(header.Length + 7) / 8 * 8);
        var head = new byte[8 + headerLength];
        BinaryPrimitives.WriteUInt64LittleEndian(head, (ulong)headerLength);
        header.GetBuffer().AsSpan(0, (int)header.Length).CopyTo(head.AsSpan(8));
        head.AsSpan(8 + (int)header.Length).Fill((byte)' ');
        return (head, ordered, offset);
    }

    private static void WriteOffsets(Utf8JsonWriter json, long begin, long end)
    {
        json.WriteStartArray("data_offsets");
        json.WriteNumberValue(begin);
        json.WriteNumberValue(end);
        json.WriteEndArray();
    }

    public static IReadOnlyList<NamedTensor> Read(ReadOnlySpan<byte> bytes) => Read(bytes, out _);

    /// <summary>Reads the float tensors (in name order) and the <c>__metadata__</c> map (empty if absent); int64 scalars are skipped.</summary>
    public static IReadOnlyList<NamedTensor> Read(ReadOnlySpan<byte> bytes, out IReadOnlyDictionary<string, string> metadata) =>
        Read(bytes, out metadata, out _);

    /// <summary>
    /// Reads the float tensors (in name order), the int64 scalars (PyTorch's <c>num_batches_tracked</c>) and the
    /// <c>__metadata__</c> map (empty if absent).
    /// </summary>
    public static IReadOnlyList<NamedTensor> Read(ReadOnlySpan<byte> bytes, out IReadOnlyDictionary<string, string> metadata,
        out IReadOnlyList<NamedInt64> scalars)
    {
        if (bytes.Length < 8) throw new InvalidDataException($"File is {bytes.Length} bytes, too short for the 8-byte header length.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > MaxHeaderBytes) throw new InvalidDataException($"Header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit.");
        if (headerLength > (ulong)(bytes.Length - 8)) throw new InvalidDataException($"Header length {headerLength} runs past the end of the {bytes.Length}-byte file.");
        var data = bytes[(8 + (int)headerLength)..];

        var headerBytes = bytes.Slice(8, (int)headerLength);
        // JsonDocument accepts invalid UTF-8 inside strings and only fails later, when a name is read.
        if (!System.Text.Unicode.Utf8.IsValid(headerBytes)) throw new InvalidDataException("Header is not valid UTF-8.");
        JsonDocument document;
        try { document = JsonDocument.Parse(headerBytes.ToArray()); }
        catch (JsonException e) { throw new InvalidDataException($"Header is not valid JSON: {e.Message}", e); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException("Header is not a JSON object.");
            var entries = new List<(string Name, int[] Shape, long Begin, long End, bool Int64)>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            var meta = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!names.Add(property.Name)) throw new InvalidDataException($"Header names '{property.Name}' more than once.");
                if (property.Name == MetadataKey) ReadMetadata(property.Value, meta);
                else entries.Add(ReadEntry(property.Name, property.Value));
            }
            metadata = meta;

            // The reference writer packs tensors back to back; anything else (gaps, overlap, trailing bytes) is rejected.
            long expectedBegin = 0;
            foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
            {
                if (e.Begin != expectedBegin)
                    throw new InvalidDataException($"Tensor '{e.Name}' starts at byte {e.Begin} of the data section, expected {expectedBegin} (overlapping or gapped offsets).");
                expectedBegin = e.End;
            }
            if (expectedBegin != data.Length)
                throw new InvalidDataException($"Tensors cover {expectedBegin} bytes but the data section has {data.Length}.");

            var result = new List<NamedTensor>(entries.Count);
            var int64 = new List<NamedInt64>();
            foreach (var e in entries.OrderBy(e => e.Name, StringComparer.Ordinal))
            {
                if (e.Int64)
                {
                    int64.Add(new NamedInt64(e.Name, BinaryPrimitives.ReadInt64LittleEndian(data[(int)e.Begin..])));
                    continue;
                }
                var values = new float[(e.End - e.Begin) / sizeof(float)];
                ReadLittleEndian(data[(int)e.Begin..(int)e.End], values);
                result.Add(new NamedTensor(e.Name, e.Shape, values));
            }
            scalars = int64;
            return result;
        }
    }

    private static void ReadMetadata(JsonElement element, Dictionary<string, string> metadata)
    {
        if (element.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"'{MetadataKey}' is not a JSON object.");
        foreach (var p in element.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String) throw new InvalidDataException($"Metadata value '{p.Name}' is not a string.");
            if (!metadata.TryAdd(p.Name, p.Value.GetString()!)) throw new InvalidDataException($"Metadata key '{p.Name}' appears more than once.");
        }
    }

    private static (string, int[], long, long, bool) ReadEntry(string name, JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"Tensor '{name}': entry is not a JSON object.");
        if (!element.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"Tensor '{name}': missing dtype.");
        bool int64 = dtype.GetString() == "I64";
        if (dtype.GetString() != "F32" && !int64)
            throw new InvalidDataException($"Tensor '{name}': dtype {dtype.GetString()} is not supported (only F32, and I64 scalars).");

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

        if (!element.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw new InvalidDataException($"Tensor '{name}': data_offsets must be an array of two integers.");
        if (offsets[0].ValueKind != JsonValueKind.Number || !offsets[0].TryGetInt64(out long begin) ||
            offsets[1].ValueKind != JsonValueKind.Number || !offsets[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw new InvalidDataException($"Tensor '{name}': data_offsets [{offsets[0]}, {offsets[1]}] are not 0 ≤ begin ≤ end.");

        if (int64 && shape.Length != 0) throw new InvalidDataException($"Tensor '{name}': I64 is supported for scalars only (shape []), not [{string.Join(", ", shape)}].");
        long bytes;
        try { bytes = checked(NamedTensor.ElementCount(shape) * (int64 ? sizeof(long) : sizeof(float))); }
        catch (OverflowException) { throw new InvalidDataException($"Tensor '{name}': shape [{string.Join(", ", shape)}] is too large."); }
        if (end - begin != bytes)
            throw new InvalidDataException($"Tensor '{name}': shape [{string.Join(", ", shape)}] needs {bytes} bytes but data_offsets span {end - begin}.");
        if (bytes / sizeof(float) > Array.MaxLength) throw new InvalidDataException($"Tensor '{name}' is too large.");
        return (name, shape, begin, end, int64);
    }

    private static void WriteLittleEndian(ReadOnlySpan<float> values, Span<byte> destination)
    {
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(values).CopyTo(destination);
        else for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(destination[(i * 4)..], values[i]);
    }

    private static void ReadLittleEndian(ReadOnlySpan<byte> source, Span<float> values)
    {
        if (BitConverter.IsLittleEndian) source.CopyTo(MemoryMarshal.AsBytes(values));
        else for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(i * 4)..]);
    }
}
