using System.Buffers.Binary;
using System.IO.Compression;
using Engine.Data;

namespace Engine.Tests.DataLoading;

public class IdxLoaderTests
{
    internal static byte[] Idx(byte type, int[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        bytes[2] = type;
        bytes[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    internal static byte[] Gzip(byte[] data)
    {
        var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return output.ToArray();
    }

    private static readonly byte[] Pixels = [.. Enumerable.Range(0, 3 * 2 * 2).Select(i => (byte)(i * 20))];
    private static readonly byte[] Images = Idx(0x08, [3, 2, 2], Pixels);
    private static readonly byte[] Labels = Idx(0x08, [3], [4, 0, 9]);

    private static Dataset Load(byte[] images, byte[] labels) => IdxLoader.Load(new MemoryStream(images), new MemoryStream(labels));

    private static string Fails(byte[] images, byte[] labels) =>
        Assert.Throws<DataFormatException>(() => Load(images, labels)).Message;

    [Fact]
    public void PlainFilesGiveRawPixelsAndClassLabels()
    {
        var d = Load(Images, Labels);
        Assert.Equal(3, d.Count);
        Assert.Equal([2, 2], d.SampleShape);
        Assert.Equal(Pixels.Select(p => (float)p), d.Features);
        Assert.Equal([4, 0, 9], d.Labels!);
        Assert.Equal(10, d.Classes);
    }

    [Fact]
    public void GzipIsDetectedByMagicInEitherFile()
    {
        var plain = Load(Images, Labels);
        var gz = Load(Gzip(Images), Gzip(Labels));
        Assert.Equal(plain.Features, gz.Features);
        Assert.Equal(plain.Labels!, gz.Labels!);
        Assert.Equal(plain.Features, Load(Images, Gzip(Labels)).Features);
    }

    [Fact]
    public void NonSeekableStreamsAreRead()
    {
        var d = IdxLoader.Load(new ForwardOnlyStream(Gzip(Images)), new ForwardOnlyStream(Labels));
        Assert.Equal(3, d.Count);
    }

    [Fact]
    public void BadMagicNamesTheFileAndOffset()
    {
        var bad = (byte[])Images.Clone();
        bad[0] = 0x50;
        Assert.Equal("images: not an IDX file: the first two bytes are 0x50 0x00, expected 0x00 0x00 (byte offset 0)", Fails(bad, Labels));
    }

    [Fact]
    public void UnsupportedTypeAndRankAreRejected()
    {
        Assert.Contains("images: data type 0x0D is not supported", Fails(Idx(0x0D, [3, 2, 2], new byte[48]), Labels));
        Assert.Contains("labels: has 2 dimensions, expected 1 (byte offset 3)", Fails(Images, Idx(0x08, [3, 1], [1, 2, 3])));
        Assert.Contains("images: has 1 dimensions, expected 2 to 4", Fails(Idx(0x08, [3], [1, 2, 3]), Labels));
        Assert.Contains("dimension 1 is 0, must be at least 1 (byte offset 8)", Fails(Idx(0x08, [3, 0, 2], []), Labels));
        Assert.Contains("dimension 0 is -5", Fails(Idx(0x08, [-5, 2, 2], []), Labels));
    }

    [Fact]
    public void CountMismatchIsReported()
    {
        Assert.Contains("labels: the labels file holds 2 labels but the images file holds 3 images", Fails(Images, Idx(0x08, [2], [1, 2])));
    }

    [Fact]
    public void TruncatedDataNamesTheByteOffset()
    {
        string m = Fails(Images[..^3], Labels);
        // Checked against the header before anything is read or allocated: 3 images of 2×2 need 12 bytes.
        Assert.StartsWith("images: unexpected end of data: 3 images", m);
        Assert.Contains("needs 12 bytes after the header, the file holds 9", m);
        Assert.Contains("labels: unexpected end of data", Fails(Images, Labels[..^1]));
        Assert.Contains("while reading the IDX header", Fails(Images[..3], Labels));
        Assert.Contains("after decompression", Fails(Gzip(Images[..^3]), Labels));
    }

    [Fact]
    public void TrailingDataIsRejected()
    {
        Assert.Contains("images: unexpected data after the 3 images (byte offset 28)", Fails([.. Images, 7], Labels));
    }

    [Fact]
    public void CorruptGzipIsAFormatError()
    {
        var gz = Gzip(Images);
        for (int i = 10; i < gz.Length - 8; i++) gz[i] ^= 0x5a;
        Assert.Throws<DataFormatException>(() => Load(gz, Labels));
    }

    [Fact]
    public void HugeDeclaredSizesFailWithoutAllocatingThem()
    {
        Assert.Contains("more values than one array can hold", Fails(Idx(0x08, [int.MaxValue, 1000, 1000], []), Idx(0x08, [int.MaxValue], [])));
        Assert.Contains("more values than one array can hold", Fails(Idx(0x08, [1, int.MaxValue, int.MaxValue, int.MaxValue], []), Idx(0x08, [1], [0])));
        // Plausible size but no data: fails at the first missing byte instead of allocating 1.6 GB first.
        Assert.Contains("unexpected end of data", Fails(Idx(0x08, [2_000_000, 28, 28], []), Idx(0x08, [2_000_000], [])));
    }

    [Fact]
    public void RandomCorruptionOnlyEverThrowsDataFormatException()
    {
        var rng = new Random(3);
        for (int trial = 0; trial < 2000; trial++)
        {
            byte[][] files = [(byte[])Images.Clone(), (byte[])Labels.Clone()];
            int k = rng.Next(2);
            files[k][rng.Next(files[k].Length)] = (byte)rng.Next(256);
            if (rng.Next(4) == 0) files[k] = files[k][..rng.Next(files[k].Length)];
            if (rng.Next(3) == 0) files[k] = Gzip(files[k]);
            try
            {
                Load(files[0], files[1]);
            }
            catch (DataFormatException)
            {
            }
        }
    }
}

/// <summary>A stream that can only be read forward, like an HTTP request body.</summary>
internal sealed class ForwardOnlyStream(byte[] data) : Stream
{
    private readonly MemoryStream _inner = new(data);
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 7));
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
