using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;

namespace Engine.Serialization;

/// <summary>
/// Field numbers and enum values from <c>onnx.proto</c> (the ONNX IR specification), only those the
/// exporter writes. The ONNX schema is proto2; every field used here is a plain scalar, string or
/// embedded message, so the wire format needs no generated code.
/// </summary>
internal static class OnnxFields
{
    public static class Model
    {
        public const int IrVersion = 1, ProducerName = 2, ProducerVersion = 3, DocString = 6, Graph = 7, OpsetImport = 8;
    }

    public static class OperatorSetId
    {
        public const int Domain = 1, Version = 2;
    }

    public static class Graph
    {
        public const int Node = 1, Name = 2, Initializer = 5, Input = 11, Output = 12;
    }

    public static class Node
    {
        public const int Input = 1, Output = 2, Name = 3, OpType = 4, Attribute = 5;
    }

    public static class Attribute
    {
        public const int Name = 1, F = 2, I = 3, Ints = 8, Type = 20;
        /// <summary>AttributeProto.AttributeType values.</summary>
        public const int TypeFloat = 1, TypeInt = 2, TypeInts = 7;
    }

    public static class Tensor
    {
        public const int Dims = 1, DataType = 2, Name = 8, RawData = 9;
        /// <summary>TensorProto.DataType.FLOAT and INT64.</summary>
        public const int DataTypeFloat = 1, DataTypeInt64 = 7;
    }

    public static class ValueInfo
    {
        public const int Name = 1, Type = 2;
    }

    public static class TypeProto
    {
        public const int TensorType = 1;
        /// <summary>Fields of TypeProto.Tensor.</summary>
        public const int TensorElemType = 1, TensorShape = 2;
    }

    public static class TensorShape
    {
        public const int Dim = 1;
        /// <summary>Fields of TensorShapeProto.Dimension.</summary>
        public const int DimValue = 1, DimParam = 2;
    }
}

/// <summary>
/// A protobuf message being built: fields in the order added, each encoded with Google.Protobuf's
/// <see cref="CodedOutputStream"/>. Sizes are computed before writing so the whole model is written once
/// into one exactly-sized array, instead of serializing every nested message (and its weights) separately.
/// </summary>
internal sealed class ProtoMessage
{
    private enum Kind { Varint, Float, String, Bytes, Message }

    private readonly record struct Field(int Number, Kind Kind, long Varint = 0, float Float = 0, string? Text = null,
        ByteString? Bytes = null, ProtoMessage? Message = null);

    private readonly List<Field> _fields = [];
    private long _size = -1;

    /// <summary>An int32, int64 or enum field: non-negative int32 values encode exactly like int64.</summary>
    public ProtoMessage Add(int number, long value) => Append(new Field(number, Kind.Varint, Varint: value));

    public ProtoMessage Add(int number, float value) => Append(new Field(number, Kind.Float, Float: value));

    public ProtoMessage Add(int number, string value) => Append(new Field(number, Kind.String, Text: value));

    public ProtoMessage Add(int number, ByteString value) => Append(new Field(number, Kind.Bytes, Bytes: value));

    public ProtoMessage Add(int number, ProtoMessage value)
    {
        if (ReferenceEquals(value, this)) throw new ArgumentException("A message cannot contain itself.", nameof(value));
        return Append(new Field(number, Kind.Message, Message: value));
    }

    private ProtoMessage Append(Field field)
    {
        _fields.Add(field);
        _size = -1;
        return this;
    }

    /// <summary>Encoded size in bytes (without a length prefix).</summary>
    public long Size
    {
        get
        {
            if (_size >= 0) return _size;
            long size = 0;
            foreach (var f in _fields)
            {
                size += CodedOutputStream.ComputeTagSize(f.Number) + f.Kind switch
                {
                    Kind.Varint => CodedOutputStream.ComputeInt64Size(f.Varint),
                    Kind.Float => CodedOutputStream.ComputeFloatSize(f.Float),
                    Kind.String => CodedOutputStream.ComputeStringSize(f.Text),
                    Kind.Bytes => CodedOutputStream.ComputeBytesSize(f.Bytes),
                    _ => CodedOutputStream.ComputeLengthSize(CheckedLength(f.Message!.Size)) + f.Message!.Size,
                };
            }
            return _size = size;
        }
    }

    /// <summary>Protobuf caps a message at 2 GiB; larger models would need ONNX external data.</summary>
    private static int CheckedLength(long size) => size <= int.MaxValue
        ? (int)size
        : throw new InvalidOperationException($"The ONNX model would be {size} bytes; protobuf messages are limited to 2 GiB.");

    public byte[] ToByteArray()
    {
        var bytes = new byte[CheckedLength(Size)];
        var output = new CodedOutputStream(bytes);
        WriteTo(output);
        output.CheckNoSpaceLeft();
        return bytes;
    }

    private void WriteTo(CodedOutputStream output)
    {
        foreach (var f in _fields)
        {
            switch (f.Kind)
            {
                case Kind.Varint:
                    output.WriteTag(f.Number, WireFormat.WireType.Varint);
                    output.WriteInt64(f.Varint);
                    break;
                case Kind.Float:
                    output.WriteTag(f.Number, WireFormat.WireType.Fixed32);
                    output.WriteFloat(f.Float);
                    break;
                case Kind.String:
                    output.WriteTag(f.Number, WireFormat.WireType.LengthDelimited);
                    output.WriteString(f.Text);
                    break;
                case Kind.Bytes:
                    output.WriteTag(f.Number, WireFormat.WireType.LengthDelimited);
                    output.WriteBytes(f.Bytes);
                    break;
                default:
                    output.WriteTag(f.Number, WireFormat.WireType.LengthDelimited);
                    output.WriteLength(CheckedLength(f.Message!.Size));
                    f.Message!.WriteTo(output);
                    break;
            }
        }
    }

    /// <summary>ONNX raw_data is little-endian whatever the host, as in every ONNX file.</summary>
    public static ByteString LittleEndianBytes(ReadOnlySpan<float> values)
    {
        var bytes = new byte[checked(values.Length * sizeof(float))];
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(values).CopyTo(bytes);
        else
            for (int i = 0; i < values.Length; i++)
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        // The array is fresh and never changed again, so wrapping it without a copy is safe.
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    /// <summary>Little-endian int64 raw_data (shape tensors such as Reshape's).</summary>
    public static ByteString LittleEndianBytes(ReadOnlySpan<long> values)
    {
        var bytes = new byte[checked(values.Length * sizeof(long))];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * sizeof(long)), values[i]);
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }
}
