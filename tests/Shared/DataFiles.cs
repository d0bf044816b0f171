using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace Shared;

/// <summary>Data set files the tests and benches upload (IDX, NPY, gzip bombs), and a process's memory as /proc reports it.</summary>
public static class DataFiles
{
    /// <summary>An IDX image header (ubyte, 3 dimensions): <paramref name="count"/> images of <paramref name="side"/>² bytes.</summary>
    public static byte[] IdxImageHeader(int count, int side)
    {
        var header = new byte[16];
        header[2] = 8;
        header[3] = 3;
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(8), side);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(12), side);
        return header;
    }

    /// <summary>An IDX label file declaring <paramref name="count"/> labels, with that many zero labels or none.</summary>
    public static byte[] IdxLabels(int count, bool withData = true)
    {
        var labels = new byte[8 + (withData ? count : 0)];
        labels[2] = 8;
        labels[3] = 1;
        BinaryPrimitives.WriteInt32BigEndian(labels.AsSpan(4), count);
        return labels;
    }

    /// <summary>
    /// A gzip bomb: an IDX header declaring <paramref name="images"/> of 32×32 bytes, then <paramref name="zeroMiB"/>
    /// MiB of zeros, all gzipped (deflate packs zeros about 1000:1, so 1 GiB is about 1 MB).
    /// </summary>
    public static byte[] IdxBomb(int images, int zeroMiB)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write(IdxImageHeader(images, 32));
            var zeros = new byte[1 << 20];
            for (int i = 0; i < zeroMiB; i++) gzip.Write(zeros);
        }
        return output.ToArray();
    }

    /// <summary>An NPY v1.0 file: <see cref="NpyHeader"/>, then <paramref name="data"/>.</summary>
    public static byte[] Npy(string descr, string shape, ReadOnlySpan<byte> data) => [.. NpyHeader(descr, shape), .. data];

    /// <summary>An NPY v1.0 header: magic, version, the header dict (C order, <paramref name="shape"/> as a Python tuple) padded to a multiple of 64 bytes.</summary>
    public static byte[] NpyHeader(string descr, string shape)
    {
        var dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        int length = 10 + dict.Length + 1;
        dict = dict.PadRight(dict.Length + (64 - length % 64) % 64) + "\n";
        return [0x93, .. "NUMPY"u8, 1, 0, (byte)(dict.Length & 0xff), (byte)(dict.Length >> 8), .. Encoding.ASCII.GetBytes(dict)];
    }

    /// <summary>A /proc/&lt;pid&gt;/status figure in bytes: VmRSS (resident now), VmHWM (resident peak).</summary>
    public static long ProcStatusBytes(int pid, string key)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith(key + ":", StringComparison.Ordinal))
                return long.Parse(line[(key.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        throw new InvalidOperationException($"/proc/{pid}/status has no {key}");
    }

    /// <summary>Resets the process's VmHWM to its current VmRSS, so the next reading is the peak from now on.</summary>
    public static Task ResetPeakAsync(int pid) => File.WriteAllTextAsync($"/proc/{pid}/clear_refs", "5");
}
