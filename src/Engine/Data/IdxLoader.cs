using System.Buffers.Binary;

namespace Engine.Data;

/// <summary>
/// MNIST-style IDX files: an images file (unsigned bytes, N × H × W or any 1–3 sample dimensions) and a
/// labels file (unsigned bytes, N). Either may be gzip-compressed (detected by the 1f 8b magic).
/// Pixels are returned raw (0..255 as floats); use <see cref="Normalization"/> to scale them.
/// </summary>
/// <remarks>Header: 0x00 0x00, a type byte (0x08 = unsigned byte), a rank byte, then one big-endian int32 per dimension.</remarks>
public static class IdxLoader
{
    private const byte UnsignedByte = 0x08;
    private const int ChunkBytes = 1 << 16;

    /// <param name="maxBytes">Most bytes either file may hold once decompressed; more throws <see cref="DataLimitException"/>.</param>
    public static Dataset Load(Stream images, Stream labels, long maxBytes = long.MaxValue)
    {
        var img = BinaryInput.Open(images, "images", detectGzip: true, maxBytes);
        var lab = BinaryInput.Open(labels, "labels", detectGzip: true, maxBytes);
        int[] imageDims = ReadHeader(img, minRank: 2, maxRank: 4);
        int[] labelDims = ReadHeader(lab, minRank: 1, maxRank: 1);
        int count = imageDims[0];
        if (labelDims[0] != count) throw lab.Error($"the labels file holds {labelDims[0]} labels but the images file holds {count} images", 4);

        int[] sampleShape = imageDims[1..];
        long sampleSize = 1;
        foreach (var d in sampleShape) sampleSize = Math.Min(sampleSize * d, Array.MaxLength + 1L); // saturate: (2^31)^3 would overflow long
        long total = sampleSize * count;
        if (sampleSize > Array.MaxLength || total > Array.MaxLength)
            throw img.Error($"{count} images of {string.Join("×", sampleShape)} pixels are more values than one array can hold", 4);
        img.CheckDeclared(total, $"{count} images of {string.Join("×", sampleShape)} pixels");
        lab.CheckRemaining(count, $"{count} labels");
        img.CheckRemaining(total, $"{count} images");

        var labelBytes = new byte[count <= ChunkBytes ? count : ChunkBytes];
        var labelValues = BinaryInput.StartArray<int>(count);
        int classes = 0;
        for (int done = 0; done < count;)
        {
            int n = Math.Min(labelBytes.Length, count - done);
            lab.ReadExactly(labelBytes.AsSpan(0, n), $"labels ({done} of {count} read)");
            BinaryInput.Grow(ref labelValues, done + n, count);
            for (int i = 0; i < n; i++)
            {
                labelValues[done + i] = labelBytes[i];
                classes = Math.Max(classes, labelBytes[i] + 1);
            }
            done += n;
        }
        lab.ExpectEnd($"{count} labels");

        var features = BinaryInput.StartArray<float>(total);
        var chunk = new byte[(int)Math.Min(total, ChunkBytes)];
        for (long done = 0; done < total;)
        {
            int n = (int)Math.Min(chunk.Length, total - done);
            img.ReadExactly(chunk.AsSpan(0, n), $"pixels of image {done / sampleSize} of {count}");
            BinaryInput.Grow(ref features, done + n, total);
            for (int i = 0; i < n; i++) features[done + i] = chunk[i];
            done += n;
        }
        img.ExpectEnd($"{count} images");
        return new Dataset(features, sampleShape, count, labelValues, null, 1, classes);
    }

    /// <summary>Reads magic, type and dimensions; every dimension must be at least 1.</summary>
    private static int[] ReadHeader(BinaryInput input, int minRank, int maxRank)
    {
        Span<byte> magic = stackalloc byte[4];
        input.ReadExactly(magic, "the IDX header");
        if (magic[0] != 0 || magic[1] != 0) throw input.Error($"not an IDX file: the first two bytes are 0x{magic[0]:X2} 0x{magic[1]:X2}, expected 0x00 0x00", 0);
        if (magic[2] != UnsignedByte) throw input.Error($"data type 0x{magic[2]:X2} is not supported, only unsigned byte (0x08)", 2);
        int rank = magic[3];
        if (rank < minRank || rank > maxRank)
        {
            string expected = minRank == maxRank ? $"{minRank}" : $"{minRank} to {maxRank}";
            throw input.Error($"has {rank} dimensions, expected {expected}", 3);
        }
        var dims = new int[rank];
        Span<byte> four = stackalloc byte[4];
        for (int i = 0; i < rank; i++)
        {
            input.ReadExactly(four, $"dimension {i} of the header");
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(four);
            if (dims[i] < 1) throw input.Error($"dimension {i} is {dims[i]}, must be at least 1", 4 + 4 * i);
        }
        return dims;
    }
}
