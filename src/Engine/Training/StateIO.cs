using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Engine.Training;

/// <summary>Little-endian writers shared by the training-state sections.</summary>
internal static class StateIO
{
    public static void WriteInt32(Stream s, int v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, v);
        s.Write(b);
    }

    public static void WriteInt64(Stream s, long v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, v);
        s.Write(b);
    }

    public static void WriteDouble(Stream s, double v) => WriteInt64(s, BitConverter.DoubleToInt64Bits(v));

    /// <summary>i32 length then the floats' exact bits.</summary>
    public static void WriteFloats(Stream s, ReadOnlySpan<float> values)
    {
        WriteInt32(s, values.Length);
        if (BitConverter.IsLittleEndian) { s.Write(MemoryMarshal.AsBytes(values)); return; }
        foreach (var v in values) WriteInt32(s, BitConverter.SingleToInt32Bits(v));
    }

    public static void WriteInts(Stream s, ReadOnlySpan<int> values)
    {
        WriteInt32(s, values.Length);
        foreach (var v in values) WriteInt32(s, v);
    }

    public static void WriteString(Stream s, string value)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(value);
        WriteInt32(s, bytes.Length);
        s.Write(bytes);
    }
}

/// <summary>
/// Bounds-checked little-endian reader: every overrun becomes an <see cref="InvalidTrainingStateException"/>
/// naming the section, never an index exception or a silently short array.
/// </summary>
internal ref struct StateReader(ReadOnlySpan<byte> data, string section)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _pos;

    public readonly int Position => _pos;
    public readonly int Remaining => _data.Length - _pos;

    public ReadOnlySpan<byte> ReadBytes(int n)
    {
        if (n < 0 || n > Remaining) throw new InvalidTrainingStateException($"The {section} section is truncated at byte {_pos} (needs {n} more bytes, has {Remaining}).");
        var result = _data.Slice(_pos, n);
        _pos += n;
        return result;
    }

    public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4));
    public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(ReadBytes(8));
    public float ReadSingle() => BinaryPrimitives.ReadSingleLittleEndian(ReadBytes(4));
    public double ReadDouble() => BinaryPrimitives.ReadDoubleLittleEndian(ReadBytes(8));
    public bool ReadBool() => ReadBytes(1)[0] switch
    {
        0 => false,
        1 => true,
        var b => throw new InvalidTrainingStateException($"The {section} section has an invalid boolean {b} at byte {_pos - 1}."),
    };

    /// <summary>Reads an i32-length-prefixed float array and checks the length is <paramref name="expected"/> (any if negative).</summary>
    public float[] ReadFloats(int expected, string what)
    {
        int n = ReadInt32();
        if (n < 0 || (expected >= 0 && n != expected))
            throw new InvalidTrainingStateException($"The {section} section has {n} values for '{what}', expected {expected}.");
        if ((long)n * 4 > Remaining) throw new InvalidTrainingStateException($"The {section} section is truncated in '{what}'.");
        var bytes = ReadBytes(n * 4);
        var result = new float[n];
        for (int i = 0; i < n; i++) result[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]);
        return result;
    }

    public int[] ReadInts(int expected, string what)
    {
        int n = ReadInt32();
        if (n < 0 || (expected >= 0 && n != expected))
            throw new InvalidTrainingStateException($"The {section} section has {n} values for '{what}', expected {expected}.");
        if ((long)n * 4 > Remaining) throw new InvalidTrainingStateException($"The {section} section is truncated in '{what}'.");
        var result = new int[n];
        for (int i = 0; i < n; i++) result[i] = ReadInt32();
        return result;
    }

    public string ReadString()
    {
        int n = ReadInt32();
        try { return new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(ReadBytes(n)); }
        catch (System.Text.DecoderFallbackException) { throw new InvalidTrainingStateException($"The {section} section has a string that is not valid UTF-8."); }
    }

    public readonly void EnsureEnd()
    {
        if (Remaining != 0) throw new InvalidTrainingStateException($"The {section} section has {Remaining} unexpected trailing bytes.");
    }
}
