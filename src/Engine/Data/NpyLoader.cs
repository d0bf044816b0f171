using System.Buffers.Binary;

namespace Engine.Data;

/// <summary>A dataset loaded from .npy files and the element type its features were stored as.</summary>
/// <param name="FeatureDType">"float32", "float64", "uint8", "int32" or "int64".</param>
public sealed record NpyData(Dataset Dataset, string FeatureDType);

/// <summary>
/// NumPy .npy features and labels (versions 1.0–3.0, C order, little-endian float32, float64, uint8,
/// int32, int64; gzip-compressed files are detected and accepted).
/// Features: (N, D), (N, H, W) or (N, C, H, W), converted to float32; non-finite values are rejected.
/// Labels: integers of shape (N) or (N, 1) are class indices (classes = max + 1, negatives rejected);
/// floats of shape (N) or (N, K), and integers of shape (N, K > 1) (multi-hot), are float targets.
/// </summary>
public static class NpyLoader
{
    private const int ChunkBytes = 1 << 16;

    /// <summary>Most classes integer labels may name unless the caller says otherwise: every class costs a count and an output unit.</summary>
    public const int DefaultMaxClasses = 65_536;

    /// <param name="maxBytes">Most bytes either file may hold once decompressed; more throws <see cref="DataLimitException"/>.</param>
    /// <param name="maxClasses">Class indices must be below this; a larger label is a <see cref="DataFormatException"/>.</param>
    public static NpyData Load(Stream features, Stream labels, long maxBytes = long.MaxValue, int maxClasses = DefaultMaxClasses)
    {
        var fin = BinaryInput.Open(features, "features", detectGzip: true, maxBytes);
        var lin = BinaryInput.Open(labels, "labels", detectGzip: true, maxBytes);
        var fh = NpyHeader.Read(fin);
        var lh = NpyHeader.Read(lin);

        if (fh.Shape.Length is < 2 or > 4)
            throw fin.Error($"shape ({string.Join(", ", fh.Shape)}) is not (N, D), (N, H, W) or (N, C, H, W)", fh.DataOffset);
        long count = fh.Shape[0];
        if (count < 1 || count > int.MaxValue) throw fin.Error($"sample count {count} is not in [1, {int.MaxValue}]", fh.DataOffset);
        long sampleSize = 1;
        foreach (var d in fh.Shape[1..])
        {
            if (d < 1) throw fin.Error($"shape ({string.Join(", ", fh.Shape)}) has an empty dimension", fh.DataOffset);
            if (d > Array.MaxLength / sampleSize) { sampleSize = long.MaxValue; break; } // checked before multiplying: no overflow
            sampleSize *= d;
        }
        if (sampleSize > Array.MaxLength || sampleSize * count > Array.MaxLength)
            throw fin.Error($"shape ({string.Join(", ", fh.Shape)}) holds more values than one array can", fh.DataOffset);

        if (lh.Shape.Length is < 1 or > 2) throw lin.Error($"shape ({string.Join(", ", lh.Shape)}) is not (N) or (N, K)", lh.DataOffset);
        if (lh.Shape[0] != count) throw lin.Error($"holds {lh.Shape[0]} labels but the features hold {count} samples", lh.DataOffset);
        long width = lh.Shape.Length == 2 ? lh.Shape[1] : 1;
        if (width < 1 || width > int.MaxValue || width * count > Array.MaxLength)
            throw lin.Error($"shape ({string.Join(", ", lh.Shape)}) has an unusable label width", lh.DataOffset);

        long total = sampleSize * count;
        // Both products are at most Array.MaxLength × 8 (checked above): no overflow.
        fin.CheckDeclared(total * fh.ItemSize, $"shape ({string.Join(", ", fh.Shape)})");
        lin.CheckDeclared(width * count * lh.ItemSize, $"shape ({string.Join(", ", lh.Shape)})");
        fin.CheckRemaining(total * fh.ItemSize, $"shape ({string.Join(", ", fh.Shape)})");
        lin.CheckRemaining(width * count * lh.ItemSize, $"shape ({string.Join(", ", lh.Shape)})");
        var x = ReadFloats(fin, fh, total, sampleSize, "sample");
        fin.ExpectEnd($"{total} feature values");
        var shape = Array.ConvertAll(fh.Shape[1..], d => (int)d);
        int n = (int)count;

        Dataset dataset;
        if (lh.IsInteger && width == 1)
        {
            var (labelValues, classes) = ReadLabels(lin, lh, n, maxClasses);
            dataset = new Dataset(x, shape, n, labelValues, null, 1, classes);
        }
        else
        {
            var t = ReadFloats(lin, lh, width * count, width, "label row");
            dataset = new Dataset(x, shape, n, null, t, (int)width, 0);
        }
        lin.ExpectEnd("labels");
        return new NpyData(dataset, fh.DTypeName);
    }

    /// <summary>Reads <paramref name="total"/> elements as float32 in 64 KiB chunks; floats must be finite.</summary>
    private static float[] ReadFloats(BinaryInput input, NpyHeader h, long total, long rowSize, string row)
    {
        var result = BinaryInput.StartArray<float>(total);
        var chunk = new byte[ChunkBytes];
        int perChunk = ChunkBytes / h.ItemSize;
        for (long done = 0; done < total;)
        {
            int n = (int)Math.Min(perChunk, total - done);
            long at = input.Offset;
            input.ReadExactly(chunk.AsSpan(0, n * h.ItemSize), $"{row} {done / rowSize} of {total / rowSize}");
            BinaryInput.Grow(ref result, done + n, total);
            var dst = result.AsSpan((int)done, n);
            for (int i = 0; i < n; i++)
            {
                var b = chunk.AsSpan(i * h.ItemSize, h.ItemSize);
                float v = h.Type switch
                {
                    NpyType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(b),
                    NpyType.Float64 => (float)BinaryPrimitives.ReadDoubleLittleEndian(b),
                    NpyType.UInt8 => b[0],
                    NpyType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(b),
                    _ => BinaryPrimitives.ReadInt64LittleEndian(b),
                };
                if (!float.IsFinite(v))
                {
                    long index = done + i;
                    throw input.Error($"value {index % rowSize} of {row} {index / rowSize} is {v} (not finite as float32)", at + (long)i * h.ItemSize);
                }
                dst[i] = v;
            }
            done += n;
        }
        return result;
    }

    private static (int[] Labels, int Classes) ReadLabels(BinaryInput input, NpyHeader h, int count, int maxClasses)
    {
        var labels = BinaryInput.StartArray<int>(count);
        var chunk = new byte[ChunkBytes];
        int perChunk = ChunkBytes / h.ItemSize;
        int max = -1;
        for (int done = 0; done < count;)
        {
            int n = Math.Min(perChunk, count - done);
            long at = input.Offset;
            input.ReadExactly(chunk.AsSpan(0, n * h.ItemSize), $"labels ({done} of {count} read)");
            BinaryInput.Grow(ref labels, done + n, count);
            for (int i = 0; i < n; i++)
            {
                var b = chunk.AsSpan(i * h.ItemSize, h.ItemSize);
                long v = h.Type switch
                {
                    NpyType.UInt8 => b[0],
                    NpyType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(b),
                    _ => BinaryPrimitives.ReadInt64LittleEndian(b),
                };
                if (v < 0 || v >= maxClasses)
                    throw input.Error($"label {done + i} is {v}, class indices must be in [0, {maxClasses})", at + (long)i * h.ItemSize);
                labels[done + i] = (int)v;
                max = Math.Max(max, (int)v);
            }
            done += n;
        }
        return (labels, max + 1);
    }
}
