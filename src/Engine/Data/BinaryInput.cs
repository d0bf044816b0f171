using System.IO.Compression;

namespace Engine.Data;

/// <summary>
/// Forward-only reading of a binary data stream for the loaders: tracks the byte offset for error
/// messages, turns a premature end into a <see cref="DataFormatException"/>, and transparently
/// decompresses gzip (detected by the 1f 8b magic, so the caller need not know).
/// </summary>
internal sealed class BinaryInput
{
    /// <summary>Arrays for declared sizes start at most this long and grow as data actually arrives,
    /// so a header claiming billions of values cannot make us allocate before the data is there.</summary>
    private const int InitialElements = 1 << 20;

    private readonly Stream _stream;
    /// <summary>The caller's stream and where this input started in it, when it can seek; null otherwise.</summary>
    private readonly Stream? _raw;
    private long _rawStart;

    private BinaryInput(Stream stream, string name, bool gzip, long maxBytes, Stream? raw = null)
    {
        _stream = stream;
        if (raw is { CanSeek: true })
        {
            _raw = raw;
            _rawStart = raw.Position;
        }
        Name = name;
        IsGzip = gzip;
        MaxBytes = maxBytes;
    }

    /// <summary>Most (decompressed) bytes this input may declare or deliver; counted on every read.</summary>
    public long MaxBytes { get; }

    /// <summary>Role of the stream in messages, e.g. "images" or "labels".</summary>
    public string Name { get; }
    public bool IsGzip { get; }
    /// <summary>When set, every byte read is also appended to it (for checksummed formats).</summary>
    public System.Security.Cryptography.IncrementalHash? Hash { get; set; }
    /// <summary>Bytes consumed so far (of the decompressed data for gzip).</summary>
    public long Offset { get; private set; }

    public static BinaryInput Open(Stream stream, string name, bool detectGzip, long maxBytes = long.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!detectGzip) return new BinaryInput(stream, name, false, maxBytes);
        long start = stream.CanSeek ? stream.Position : 0;
        var prefix = new byte[2];
        int n = ReadAtLeast(stream, prefix, name);
        var replay = new PrefixStream(prefix.AsMemory(0, n), stream);
        var input = n == 2 && prefix[0] == 0x1f && prefix[1] == 0x8b
            ? new BinaryInput(new GZipStream(replay, CompressionMode.Decompress), name, true, maxBytes, stream)
            : new BinaryInput(replay, name, false, maxBytes, stream);
        if (input._raw is not null) input._rawStart = start;
        return input;
    }

    /// <summary>
    /// Before anything is allocated for the <paramref name="declared"/> bytes after the header: checks that the file
    /// holds exactly that many, in a second, counting-only pass over a seekable stream (decompressing gzip again), so a
    /// header that lies about its data is refused with memory flat. Forward-only streams are checked while reading.
    /// </summary>
    public void CheckRemaining(long declared, string what)
    {
        if (_raw is null) return;
        long resume = _raw.Position;
        long present;
        try
        {
            if (!IsGzip) present = _raw.Length - _rawStart - Offset;
            else
            {
                _raw.Position = _rawStart;
                using var again = new GZipStream(_raw, CompressionMode.Decompress, leaveOpen: true);
                present = CountUpTo(again, Offset + declared + 1) - Offset;
            }
        }
        finally
        {
            _raw.Position = resume;
        }
        if (present < declared)
            throw Error($"unexpected end of data: {what} needs {declared} bytes after the header, the file holds {present}");
        if (present > declared) throw Error($"unexpected data after the {what}", Offset + declared);
    }

    /// <summary>Bytes <paramref name="source"/> delivers, counting no further than <paramref name="limit"/>.</summary>
    private long CountUpTo(Stream source, long limit)
    {
        var buffer = new byte[1 << 16];
        long total = 0;
        try
        {
            int n;
            while (total < limit && (n = source.Read(buffer, 0, (int)Math.Min(buffer.Length, limit - total))) > 0) total += n;
        }
        catch (InvalidDataException e)
        {
            throw Error($"corrupt gzip data ({e.Message})", total);
        }
        return total;
    }

    /// <summary>Rejects a header that declares more data than allowed, before any of it is read or allocated.</summary>
    public void CheckDeclared(long bytes, string what)
    {
        if (bytes > MaxBytes)
            throw new DataLimitException($"{Name}: {what} is {bytes} bytes{(IsGzip ? " decompressed" : "")}, more than the limit of {MaxBytes}");
    }

    public DataFormatException Error(string message, long? offset = null) =>
        new($"{Name}: {message} (byte offset {offset ?? Offset}{(IsGzip ? " after decompression" : "")})");

    /// <summary>Fills <paramref name="buffer"/> or throws naming <paramref name="what"/> was being read.</summary>
    public void ReadExactly(Span<byte> buffer, string what)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = ReadSome(buffer[done..]);
            if (n == 0) throw Error($"unexpected end of data while reading {what}: {done} of {buffer.Length} bytes present", Offset);
            done += n;
        }
    }

    /// <summary>Reads up to <paramref name="buffer"/>.Length bytes; fewer only at the end of the stream.</summary>
    public int ReadUpTo(Span<byte> buffer)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = ReadSome(buffer[done..]);
            if (n == 0) break;
            done += n;
        }
        return done;
    }

    /// <summary>Throws when anything follows the declared data: a count that disagrees with the file is corruption.</summary>
    public void ExpectEnd(string what)
    {
        Span<byte> one = stackalloc byte[1];
        if (ReadSome(one) != 0) throw Error($"unexpected data after the {what}", Offset - 1);
    }

    private int ReadSome(Span<byte> buffer)
    {
        int n;
        try
        {
            n = _stream.Read(buffer);
        }
        catch (InvalidDataException e)
        {
            throw Error($"corrupt gzip data ({e.Message})");
        }
        Offset += n;
        // Counted as it arrives, so even data a header does not account for cannot expand without bound.
        if (Offset > MaxBytes)
            throw new DataLimitException($"{Name}: more than the limit of {MaxBytes} bytes{(IsGzip ? " after decompression" : "")}");
        Hash?.AppendData(buffer[..n]);
        return n;
    }

    private static int ReadAtLeast(Stream s, byte[] buffer, string name)
    {
        try
        {
            return s.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException($"{name}: {e.Message}");
        }
    }

    /// <summary>A new array for <paramref name="total"/> elements, at first only as large as is safe to allocate unseen.</summary>
    public static T[] StartArray<T>(long total) => new T[Math.Min(total, InitialElements)];

    /// <summary>Ensures room for <paramref name="needed"/> elements, doubling up to <paramref name="total"/>.</summary>
    public static void Grow<T>(ref T[] array, long needed, long total)
    {
        if (needed <= array.Length) return;
        long size = Math.Max(needed, Math.Min(total, 2L * array.Length));
        Array.Resize(ref array, (int)size);
    }

    /// <summary>Bytes already read (<paramref name="prefix"/>) followed by the rest of <paramref name="inner"/>.</summary>
    private sealed class PrefixStream(ReadOnlyMemory<byte> prefix, Stream inner) : Stream
    {
        private ReadOnlyMemory<byte> _prefix = prefix;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            if (_prefix.IsEmpty) return inner.Read(buffer);
            int n = Math.Min(buffer.Length, _prefix.Length);
            _prefix.Span[..n].CopyTo(buffer);
            _prefix = _prefix[n..];
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
