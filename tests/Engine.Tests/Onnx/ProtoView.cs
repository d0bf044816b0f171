using System.Buffers.Binary;
using Google.Protobuf;

namespace Engine.Tests.Onnx;

/// <summary>
/// A decoded protobuf message for assertions: every field's raw values by number, read with
/// Google.Protobuf's <see cref="CodedInputStream"/>. Length-delimited values stay bytes until a test
/// says whether it expects a string, raw data or a nested message, as a schema-less reader must.
/// </summary>
internal sealed class ProtoView
{
    private readonly Dictionary<int, List<object>> _fields = [];

    public ProtoView(ReadOnlySpan<byte> bytes) : this(ByteString.CopyFrom(bytes)) { }

    private ProtoView(ByteString bytes)
    {
        var input = new CodedInputStream(bytes.ToByteArray());
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            object value = WireFormat.GetTagWireType(tag) switch
            {
                WireFormat.WireType.Varint => input.ReadInt64(),
                WireFormat.WireType.Fixed32 => input.ReadFixed32(),
                WireFormat.WireType.Fixed64 => input.ReadFixed64(),
                WireFormat.WireType.LengthDelimited => input.ReadBytes(),
                var other => throw new InvalidDataException($"Unexpected wire type {other} in field {WireFormat.GetTagFieldNumber(tag)}."),
            };
            int number = WireFormat.GetTagFieldNumber(tag);
            if (!_fields.TryGetValue(number, out var list)) _fields[number] = list = [];
            list.Add(value);
        }
    }

    public bool Has(int field) => _fields.ContainsKey(field);

    private IEnumerable<T> All<T>(int field) => _fields.TryGetValue(field, out var list) ? list.Cast<T>() : [];

    private T Single<T>(int field)
    {
        var values = All<T>(field).ToList();
        Assert.True(values.Count == 1, $"Expected field {field} once, found it {values.Count} times.");
        return values[0];
    }

    public long Int64(int field) => Single<long>(field);
    public long[] Int64s(int field) => [.. All<long>(field)];
    public float Float(int field) => BitConverter.UInt32BitsToSingle(Single<uint>(field));
    public string String(int field) => Single<ByteString>(field).ToStringUtf8();
    public string[] Strings(int field) => [.. All<ByteString>(field).Select(b => b.ToStringUtf8())];
    public byte[] Bytes(int field) => Single<ByteString>(field).ToByteArray();
    public ProtoView Message(int field) => new(Single<ByteString>(field));
    public ProtoView[] Messages(int field) => [.. All<ByteString>(field).Select(b => new ProtoView(b))];

    /// <summary>A length-delimited field read as little-endian float32 values (TensorProto.raw_data).</summary>
    public float[] Floats(int field)
    {
        var bytes = Single<ByteString>(field).Span;
        Assert.Equal(0, bytes.Length % sizeof(float));
        var values = new float[bytes.Length / sizeof(float)];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * sizeof(float))..]);
        return values;
    }
}
