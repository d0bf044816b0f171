using System.Buffers.Binary;
using System.Text;

namespace Engine.Data;

/// <summary>NPY element types the loaders accept, all read as little-endian.</summary>
internal enum NpyType { Float32, Float64, UInt8, Int32, Int64 }

/// <summary>
/// The header of an .npy file: magic "\x93NUMPY", version (1.0, 2.0 or 3.0), header length
/// (uint16 for v1, uint32 for v2/v3), then a Python dict literal such as
/// <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (3, 4), }</c>. Parsed by hand: the dict uses
/// Python syntax (single quotes, True/False, tuples), which a JSON parser does not accept.
/// </summary>
internal sealed record NpyHeader(NpyType Type, int ItemSize, long[] Shape, long DataOffset)
{
    private const int MaxHeaderBytes = 1 << 20;

    public string DTypeName => Type switch
    {
        NpyType.Float32 => "float32",
        NpyType.Float64 => "float64",
        NpyType.UInt8 => "uint8",
        NpyType.Int32 => "int32",
        _ => "int64",
    };

    public bool IsInteger => Type is NpyType.UInt8 or NpyType.Int32 or NpyType.Int64;

    public static NpyHeader Read(BinaryInput input)
    {
        Span<byte> start = stackalloc byte[8];
        input.ReadExactly(start, "the NPY magic");
        ReadOnlySpan<byte> magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];
        if (!start[..6].SequenceEqual(magic))
            throw input.Error("not an NPY file: the magic \\x93NUMPY is missing", 0);
        int major = start[6];
        if (major is < 1 or > 3) throw input.Error($"NPY version {major}.{start[7]} is not supported (1.0, 2.0, 3.0 are)", 6);

        long length;
        if (major == 1)
        {
            Span<byte> two = stackalloc byte[2];
            input.ReadExactly(two, "the header length");
            length = BinaryPrimitives.ReadUInt16LittleEndian(two);
        }
        else
        {
            Span<byte> four = stackalloc byte[4];
            input.ReadExactly(four, "the header length");
            length = BinaryPrimitives.ReadUInt32LittleEndian(four);
        }
        if (length > MaxHeaderBytes) throw input.Error($"header length {length} is larger than the {MaxHeaderBytes} bytes allowed", 8);
        long textStart = input.Offset;
        var bytes = new byte[length];
        input.ReadExactly(bytes, "the header");
        // v1/v2 headers are latin-1, v3 UTF-8; the keys and values we accept are ASCII either way.
        string text = major == 3 ? Encoding.UTF8.GetString(bytes) : Encoding.Latin1.GetString(bytes);
        return Parse(text, input, textStart);
    }

    private static NpyHeader Parse(string text, BinaryInput input, long textStart)
    {
        var p = new DictParser(text, input, textStart);
        string? descr = null;
        bool? fortran = null;
        long[]? shape = null;
        p.Expect('{');
        while (!p.TryConsume('}'))
        {
            int keyAt = p.Position;
            string key = p.ReadString();
            p.Expect(':');
            switch (key)
            {
                case "descr": descr = p.Peek() == '[' ? throw p.Fail("structured dtypes are not supported") : p.ReadString(); break;
                case "fortran_order": fortran = p.ReadBool(); break;
                case "shape": shape = p.ReadTuple(); break;
                default: throw p.Fail($"unexpected header key '{key}'", keyAt);
            }
            if (!p.TryConsume(',')) { p.Expect('}'); break; }
        }
        if (descr is null || fortran is null || shape is null) throw input.Error("the header lacks one of 'descr', 'fortran_order', 'shape'", textStart);
        if (fortran == true) throw input.Error("fortran_order is True: only C-order (row-major) arrays are supported; save with np.ascontiguousarray", textStart);
        var (type, size) = descr switch
        {
            "<f4" or "=f4" => (NpyType.Float32, 4),
            "<f8" or "=f8" => (NpyType.Float64, 8),
            "|u1" or "<u1" or "=u1" or "u1" => (NpyType.UInt8, 1),
            "<i4" or "=i4" => (NpyType.Int32, 4),
            "<i8" or "=i8" => (NpyType.Int64, 8),
            _ when descr.StartsWith('>') => throw input.Error($"dtype '{descr}' is big-endian; only little-endian data is supported", textStart),
            _ => throw input.Error($"dtype '{descr}' is not supported (float32 <f4, float64 <f8, uint8 |u1, int32 <i4, int64 <i8 are)", textStart),
        };
        return new NpyHeader(type, size, shape, input.Offset);
    }

    private sealed class DictParser(string text, BinaryInput input, long textStart)
    {
        public int Position { get; private set; }

        public DataFormatException Fail(string message, int? at = null) =>
            input.Error($"bad NPY header: {message}", textStart + (at ?? Position));

        public char Peek()
        {
            SkipSpace();
            return Position < text.Length ? text[Position] : '\0';
        }

        public bool TryConsume(char c)
        {
            if (Peek() != c) return false;
            Position++;
            return true;
        }

        public void Expect(char c)
        {
            if (!TryConsume(c)) throw Fail($"expected '{c}'");
        }

        public string ReadString()
        {
            char q = Peek();
            if (q is not ('\'' or '"')) throw Fail("expected a quoted string");
            int end = text.IndexOf(q, Position + 1);
            if (end < 0) throw Fail("unterminated string");
            string s = text[(Position + 1)..end];
            Position = end + 1;
            return s;
        }

        public bool ReadBool()
        {
            Peek();
            if (string.CompareOrdinal(text, Position, "True", 0, 4) == 0) { Position += 4; return true; }
            if (string.CompareOrdinal(text, Position, "False", 0, 5) == 0) { Position += 5; return false; }
            throw Fail("expected True or False");
        }

        public long[] ReadTuple()
        {
            Expect('(');
            var dims = new List<long>();
            while (!TryConsume(')'))
            {
                Peek();
                int start = Position;
                while (Position < text.Length && char.IsAsciiDigit(text[Position])) Position++;
                if (Position == start || Position - start > 12) throw Fail("expected a dimension (a non-negative integer below 10^12)");
                dims.Add(long.Parse(text.AsSpan(start, Position - start), System.Globalization.CultureInfo.InvariantCulture));
                if (dims.Count > 8) throw Fail("more than 8 dimensions");
                if (!TryConsume(',')) { Expect(')'); break; }
            }
            return [.. dims];
        }

        private void SkipSpace()
        {
            while (Position < text.Length && char.IsWhiteSpace(text[Position])) Position++;
        }
    }
}
