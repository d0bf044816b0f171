using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Engine.Data;

/// <summary>
/// A dataset as one binary file, so an upload is parsed once and stored ready to train on.
/// </summary>
/// <remarks>
/// Layout, all little-endian:
/// <code>
/// "NNDS"                 magic, 4 bytes
/// u16 version (1), u16 flags (0)
/// i32 rank (1–4), i32[rank] sample shape
/// i32 count
/// u8  kind: 0 = class labels, 1 = float targets
/// i32 target width (1 for labels), i32 classes (0 for targets)
/// u8  transform present (0/1); if 1: u8 NormalizationKind, f32[D] offset, f32[D] factor
/// i32[count] labels, or f32[count·width] targets
/// f32[count·D] features (already transformed)
/// 32 bytes SHA-256 of every byte before it
/// </code>
/// Every field is validated as read and arrays grow only as data arrives, so a corrupt or truncated
/// file is a <see cref="DataFormatException"/> naming the byte offset, never a huge allocation or a wrong dataset.
/// </remarks>
public static class DatasetFile
{
    public const ushort Version = 1;
    private const int MaxRank = 4;
    private const int ChunkValues = 1 << 14;
    private static ReadOnlySpan<byte> Magic => "NNDS"u8;

    /// <summary>The size <see cref="Write"/> gives <paramref name="d"/>, known before writing (for storage quotas).</summary>
    public static long EstimateBytes(Dataset d)
    {
        ArgumentNullException.ThrowIfNull(d);
        long head = 4 + 2 + 2 + 4 + 4L * d.SampleShape.Length + 4 + 1 + 4 + 4 + 1 + (d.Transform is null ? 0 : 1);
        long transform = d.Transform is { } t ? 4L * (t.Offset.Length + t.Factor.Length) : 0;
        long targets = 4L * (d.Labels?.Length ?? d.Targets!.Length);
        return head + transform + targets + 4L * d.Features.Length + 32;
    }

    public static void Write(Stream s, Dataset d)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(d);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var head = new List<byte>(64);
        head.AddRange(Magic);
        AddU16(head, Version);
        AddU16(head, 0);
        AddI32(head, d.SampleShape.Length);
        foreach (var dim in d.SampleShape) AddI32(head, dim);
        AddI32(head, d.Count);
        head.Add(d.Labels is null ? (byte)1 : (byte)0);
        AddI32(head, d.TargetWidth);
        AddI32(head, d.Classes);
        head.Add(d.Transform is null ? (byte)0 : (byte)1);
        if (d.Transform is { } t) head.Add((byte)t.Kind);
        Emit(s, hash, [.. head]);

        var buffer = new byte[ChunkValues * 4];
        if (d.Transform is { } tr)
        {
            WriteFloats(s, hash, tr.Offset, buffer);
            WriteFloats(s, hash, tr.Factor, buffer);
        }
        if (d.Labels is { } labels)
        {
            for (int i = 0; i < labels.Length; i += ChunkValues)
            {
                int n = Math.Min(ChunkValues, labels.Length - i);
                for (int j = 0; j < n; j++) BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(4 * j), labels[i + j]);
                Emit(s, hash, buffer.AsSpan(0, 4 * n));
            }
        }
        else WriteFloats(s, hash, d.Targets!, buffer);
        WriteFloats(s, hash, d.Features, buffer);
        s.Write(hash.GetHashAndReset());
    }

    public static Dataset Read(Stream s)
    {
        var input = BinaryInput.Open(s, "dataset", detectGzip: false);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        input.Hash = hash;

        Span<byte> magic = stackalloc byte[4];
        input.ReadExactly(magic, "the magic");
        if (!magic.SequenceEqual(Magic)) throw input.Error("not a dataset file: the magic \"NNDS\" is missing", 0);
        int version = U16(input, "the version");
        if (version != Version) throw input.Error($"version {version} is not supported (this reader knows {Version})", 4);
        if (U16(input, "the flags") != 0) throw input.Error("unknown flags are set", 6);
        int rank = I32(input, "the rank");
        if (rank is < 1 or > MaxRank) throw input.Error($"rank {rank} is not in [1, {MaxRank}]", input.Offset - 4);
        var shape = new int[rank];
        long size = 1;
        for (int i = 0; i < rank; i++)
        {
            shape[i] = I32(input, "the sample shape");
            if (shape[i] < 1) throw input.Error($"dimension {i} of the sample shape is {shape[i]}", input.Offset - 4);
            size *= shape[i];
            if (size > Array.MaxLength) throw input.Error("the sample shape holds more values than one array can", input.Offset - 4);
        }
        int count = I32(input, "the count");
        if (count < 0 || count * size > Array.MaxLength) throw input.Error($"count {count} is negative or too large for the sample size {size}", input.Offset - 4);
        int kind = Byte(input, "the target kind");
        if (kind > 1) throw input.Error($"target kind {kind} is not 0 (labels) or 1 (targets)", input.Offset - 1);
        int width = I32(input, "the target width");
        if (width < 1 || (kind == 0 && width != 1) || (long)width * count > Array.MaxLength) throw input.Error($"target width {width} is invalid", input.Offset - 4);
        int classes = I32(input, "the class count");
        if (classes < 0 || (kind == 1 && classes != 0)) throw input.Error($"class count {classes} is invalid", input.Offset - 4);

        InputTransform? transform = null;
        int hasTransform = Byte(input, "the transform flag");
        if (hasTransform > 1) throw input.Error($"transform flag {hasTransform} is not 0 or 1", input.Offset - 1);
        if (hasTransform == 1)
        {
            var tk = (NormalizationKind)Byte(input, "the normalization kind");
            if (!Enum.IsDefined(tk)) throw input.Error($"normalization kind {(int)tk} is unknown", input.Offset - 1);
            transform = new InputTransform(tk, ReadFloats(input, size, "the transform offsets"), ReadFloats(input, size, "the transform factors"));
        }

        int[]? labels = null;
        float[]? targets = null;
        if (kind == 0) labels = ReadLabels(input, count, classes);
        else targets = ReadFloats(input, (long)count * width, "the targets");
        var features = ReadFloats(input, count * size, "the features");

        input.Hash = null;
        var expected = hash.GetHashAndReset();
        Span<byte> actual = stackalloc byte[32];
        input.ReadExactly(actual, "the SHA-256 checksum");
        if (!actual.SequenceEqual(expected)) throw input.Error("checksum mismatch: the file is corrupted", input.Offset - 32);
        return new Dataset(features, shape, count, labels, targets, width, classes, transform);
    }

    private static int[] ReadLabels(BinaryInput input, int count, int classes)
    {
        var result = BinaryInput.StartArray<int>(count);
        var chunk = new byte[ChunkValues * 4];
        for (int done = 0; done < count;)
        {
            int n = Math.Min(ChunkValues, count - done);
            long at = input.Offset;
            input.ReadExactly(chunk.AsSpan(0, 4 * n), "the labels");
            BinaryInput.Grow(ref result, done + n, count);
            for (int j = 0; j < n; j++)
            {
                int v = BinaryPrimitives.ReadInt32LittleEndian(chunk.AsSpan(4 * j));
                if (v < 0 || v >= classes) throw input.Error($"label {done + j} is {v}, outside [0, {classes})", at + 4 * j);
                result[done + j] = v;
            }
            done += n;
        }
        return result;
    }

    private static float[] ReadFloats(BinaryInput input, long total, string what)
    {
        var result = BinaryInput.StartArray<float>(total);
        var chunk = new byte[ChunkValues * 4];
        for (long done = 0; done < total;)
        {
            int n = (int)Math.Min(ChunkValues, total - done);
            input.ReadExactly(chunk.AsSpan(0, 4 * n), what);
            BinaryInput.Grow(ref result, done + n, total);
            for (int j = 0; j < n; j++) result[done + j] = BinaryPrimitives.ReadSingleLittleEndian(chunk.AsSpan(4 * j));
            done += n;
        }
        return result;
    }

    private static void WriteFloats(Stream s, IncrementalHash hash, float[] values, byte[] buffer)
    {
        for (int i = 0; i < values.Length; i += ChunkValues)
        {
            int n = Math.Min(ChunkValues, values.Length - i);
            for (int j = 0; j < n; j++) BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(4 * j), values[i + j]);
            Emit(s, hash, buffer.AsSpan(0, 4 * n));
        }
    }

    private static void Emit(Stream s, IncrementalHash hash, ReadOnlySpan<byte> bytes)
    {
        s.Write(bytes);
        hash.AppendData(bytes);
    }

    private static void AddU16(List<byte> b, ushort v) { b.Add((byte)v); b.Add((byte)(v >> 8)); }

    private static void AddI32(List<byte> b, int v)
    {
        Span<byte> four = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(four, v);
        b.AddRange(four);
    }

    private static int Byte(BinaryInput input, string what)
    {
        Span<byte> one = stackalloc byte[1];
        input.ReadExactly(one, what);
        return one[0];
    }

    private static int U16(BinaryInput input, string what)
    {
        Span<byte> two = stackalloc byte[2];
        input.ReadExactly(two, what);
        return BinaryPrimitives.ReadUInt16LittleEndian(two);
    }

    private static int I32(BinaryInput input, string what)
    {
        Span<byte> four = stackalloc byte[4];
        input.ReadExactly(four, what);
        return BinaryPrimitives.ReadInt32LittleEndian(four);
    }
}
