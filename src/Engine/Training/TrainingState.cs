using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using Engine.Data;
using Engine.Specs;
using Engine.Tensors;

namespace Engine.Training;

/// <summary>
/// The training-state blob, documented in docs/training-state.md. Layout, all little-endian:
/// <code>
/// "NNTS" | i32 version (1) | i64 payload length | sections... | SHA-256 of everything before it (32 bytes)
/// section = 4 ASCII tag bytes | i32 length | content
/// </code>
/// Version 1 has, in this order: SPEC (model spec JSON), OPTS (training options JSON), XFRM (input transform),
/// PARM (weights), BUFS (BatchNorm running statistics), OPTM (optimizer state), RNG_ (two 32-byte xoshiro states: network, data order),
/// POSN (epoch and batch position, running sums, shuffle order) and BEST (early-stopping counters and best weights).
/// Any truncation, corruption, version or consistency problem raises <see cref="InvalidTrainingStateException"/>;
/// the checksum is verified before any section is interpreted.
/// </summary>
public static class TrainingState
{
    public const int Version = 1;
    private static ReadOnlySpan<byte> Magic => "NNTS"u8;
    private const int HeaderSize = 16, HashSize = 32;

    internal static readonly string[] SectionTags = ["SPEC", "OPTS", "XFRM", "PARM", "BUFS", "OPTM", "RNG_", "POSN", "BEST"];

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The model spec stored in the state.</summary>
    public static ModelSpec ReadSpec(ReadOnlySpan<byte> state) => ParseSpec(Sections(state)[0], state);

    /// <summary>A network with the state's current weights, running statistics and input transform, for evaluation-mode use.</summary>
    public static Network LoadNetwork(ReadOnlySpan<byte> state) => Parse(state).Network;

    /// <summary>Checks the whole blob (header, checksum, every section against the spec); throws <see cref="InvalidTrainingStateException"/> if anything is wrong.</summary>
    public static void Verify(ReadOnlySpan<byte> state) => Parse(state);

    /// <summary>Section contents as (offset, length) in <paramref name="state"/>, after checking header and checksum.</summary>
    internal static (int Offset, int Length)[] Sections(ReadOnlySpan<byte> state)
    {
        if (state.Length < HeaderSize + HashSize)
            throw new InvalidTrainingStateException($"Training state is truncated: {state.Length} bytes is shorter than the header and checksum ({HeaderSize + HashSize}).");
        if (!state[..4].SequenceEqual(Magic)) throw new InvalidTrainingStateException("Not a training state (bad magic bytes).");
        int version = BinaryPrimitives.ReadInt32LittleEndian(state[4..]);
        if (version != Version) throw new InvalidTrainingStateException($"Training state version {version} is not supported (this build reads version {Version}).");
        long payload = BinaryPrimitives.ReadInt64LittleEndian(state[8..]);
        long expected = HeaderSize + payload + HashSize;
        if (payload < 0 || expected != state.Length)
            throw new InvalidTrainingStateException(payload >= 0 && state.Length < expected
                ? $"Training state is truncated: {state.Length} bytes, the header says {expected}."
                : $"Training state length {state.Length} does not match its header ({expected}); the blob is corrupted.");
        var body = state[..(int)(HeaderSize + payload)];
        Span<byte> hash = stackalloc byte[HashSize];
        SHA256.HashData(body, hash);
        if (!hash.SequenceEqual(state[^HashSize..])) throw new InvalidTrainingStateException("Training state checksum mismatch: the blob is corrupted.");

        var result = new (int, int)[SectionTags.Length];
        var r = new StateReader(body[HeaderSize..], "section table");
        for (int i = 0; i < SectionTags.Length; i++)
        {
            int offset = HeaderSize + r.Position;
            string tag = System.Text.Encoding.ASCII.GetString(r.ReadBytes(4));
            if (tag != SectionTags[i]) throw new InvalidTrainingStateException($"Expected section {SectionTags[i]} at byte {offset}, found '{tag}'.");
            int length = r.ReadInt32();
            int contentOffset = HeaderSize + r.Position;
            r.ReadBytes(length);
            result[i] = (contentOffset, length);
        }
        r.EnsureEnd();
        return result;
    }

    /// <summary>Everything in a blob, checked and decoded.</summary>
    internal sealed class Parsed
    {
        public required ModelSpec Spec { get; init; }
        public required TrainingOptions Options { get; init; }
        public required Network Network { get; init; }
        public required byte[] OptimizerState { get; init; }
        public required byte[] Rng { get; init; }
        public int CompletedEpochs, BatchPos, TrainCount, ValCount, BestEpoch, Wait;
        public bool EarlyStopped;
        public float EpochLr;
        public double LossSum, CorrectSum, BestMetric;
        public int[] Order = [];
        public float[][]? BestParams, BestBuffers;
    }

    internal static Parsed Parse(ReadOnlySpan<byte> state)
    {
        var s = Sections(state);
        var spec = ParseSpec(s[0], state);
        var options = ParseJson<TrainingOptions>(state.Slice(s[1].Offset, s[1].Length), "options");
        Network network;
        try { network = Network.Create(spec, new Rng(0)); }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        { throw new InvalidTrainingStateException($"The stored model spec cannot be built: {e.Message}"); }
        network.Transform = ReadTransform(state.Slice(s[2].Offset, s[2].Length), network.InputWidth);
        ReadArrays(state.Slice(s[3].Offset, s[3].Length), "weights", network.Parameters.Select(p => (p.Name, p.Value)).ToList());
        ReadArrays(state.Slice(s[4].Offset, s[4].Length), "buffers", network.Buffers.Select(b => (b.Name, b.Value)).ToList());
        if (s[6].Length != 2 * Rng.StateSize) throw new InvalidTrainingStateException($"The RNG section has {s[6].Length} bytes, expected {2 * Rng.StateSize}.");
        var parsed = new Parsed
        {
            Spec = spec, Options = options, Network = network,
            OptimizerState = state.Slice(s[5].Offset, s[5].Length).ToArray(), Rng = state.Slice(s[6].Offset, s[6].Length).ToArray(),
        };
        // The optimizer section is checked against the parameters here so Verify rejects a bad one too.
        var optimizer = Optimizer.Create(options.Optimizer, options.WeightDecay);
        optimizer.ReadState(parsed.OptimizerState, network.Parameters);
        network.BatchesTrained = optimizer.Steps;
        ReadPosition(state.Slice(s[7].Offset, s[7].Length), parsed);
        ReadBest(state.Slice(s[8].Offset, s[8].Length), parsed, network);
        return parsed;
    }

    private static ModelSpec ParseSpec((int Offset, int Length) section, ReadOnlySpan<byte> state)
    {
        var spec = ParseJson<ModelSpec>(state.Slice(section.Offset, section.Length), "model spec");
        if (spec.Input is null || spec.Layers is null || spec.Layers.Any(l => l is null))
            throw new InvalidTrainingStateException("The stored model spec is incomplete.");
        return spec;
    }

    private static T ParseJson<T>(ReadOnlySpan<byte> utf8, string what) where T : class
    {
        try { return JsonSerializer.Deserialize<T>(utf8, Json) ?? throw new InvalidTrainingStateException($"The stored {what} is null."); }
        catch (JsonException e) { throw new InvalidTrainingStateException($"The stored {what} is not valid JSON: {e.Message}"); }
    }

    private static InputTransform? ReadTransform(ReadOnlySpan<byte> data, int width)
    {
        var r = new StateReader(data, "input transform");
        InputTransform? t = null;
        if (r.ReadBool())
        {
            int kind = r.ReadInt32();
            if (!Enum.IsDefined((NormalizationKind)kind)) throw new InvalidTrainingStateException($"Unknown normalization kind {kind}.");
            t = new InputTransform((NormalizationKind)kind, r.ReadFloats(width, "offset"), r.ReadFloats(width, "factor"));
        }
        r.EnsureEnd();
        return t;
    }

    internal static void WriteTransform(Stream s, InputTransform? t)
    {
        s.WriteByte(t is null ? (byte)0 : (byte)1);
        if (t is null) return;
        StateIO.WriteInt32(s, (int)t.Kind);
        StateIO.WriteFloats(s, t.Offset);
        StateIO.WriteFloats(s, t.Factor);
    }

    /// <summary>i32 count, then per array its name and values; names and lengths must match the network's exactly.</summary>
    private static void ReadArrays(ReadOnlySpan<byte> data, string section, List<(string Name, float[] Value)> into)
    {
        var r = new StateReader(data, section);
        int count = r.ReadInt32();
        if (count != into.Count) throw new InvalidTrainingStateException($"The {section} section has {count} tensors, the model {into.Count}.");
        foreach (var (name, value) in into)
        {
            string stored = r.ReadString();
            if (stored != name) throw new InvalidTrainingStateException($"The {section} section has '{stored}' where '{name}' was expected.");
            r.ReadFloats(value.Length, name).CopyTo(value, 0);
        }
        r.EnsureEnd();
    }

    internal static void WriteArrays(Stream s, IEnumerable<(string Name, float[] Value)> arrays)
    {
        var list = arrays.ToList();
        StateIO.WriteInt32(s, list.Count);
        foreach (var (name, value) in list)
        {
            StateIO.WriteString(s, name);
            StateIO.WriteFloats(s, value);
        }
    }

    private static void ReadPosition(ReadOnlySpan<byte> data, Parsed p)
    {
        var r = new StateReader(data, "position");
        p.CompletedEpochs = r.ReadInt32();
        p.EarlyStopped = r.ReadBool();
        p.BatchPos = r.ReadInt32();
        p.EpochLr = r.ReadSingle();
        p.LossSum = r.ReadDouble();
        p.CorrectSum = r.ReadDouble();
        p.TrainCount = r.ReadInt32();
        p.ValCount = r.ReadInt32();
        p.Order = r.ReadInts(p.BatchPos > 0 ? p.TrainCount : 0, "shuffle order");
        r.EnsureEnd();
        if (p.CompletedEpochs < 0 || p.BatchPos < 0 || p.TrainCount < 1 || p.ValCount < 0)
            throw new InvalidTrainingStateException("The position section has negative or empty counts.");
        // A permutation check: a damaged order would silently train on the wrong samples.
        var seen = new bool[p.Order.Length];
        foreach (int i in p.Order)
        {
            if ((uint)i >= (uint)seen.Length || seen[i]) throw new InvalidTrainingStateException("The stored shuffle order is not a permutation.");
            seen[i] = true;
        }
    }

    private static void ReadBest(ReadOnlySpan<byte> data, Parsed p, Network network)
    {
        var r = new StateReader(data, "best");
        p.BestMetric = r.ReadDouble();
        p.BestEpoch = r.ReadInt32();
        p.Wait = r.ReadInt32();
        if (r.ReadBool())
        {
            var ps = network.Parameters;
            var bs = network.Buffers;
            p.BestParams = new float[ps.Count][];
            p.BestBuffers = new float[bs.Count][];
            for (int i = 0; i < ps.Count; i++) p.BestParams[i] = r.ReadFloats(ps[i].Value.Length, ps[i].Name);
            for (int i = 0; i < bs.Count; i++) p.BestBuffers[i] = r.ReadFloats(bs[i].Value.Length, bs[i].Name);
        }
        r.EnsureEnd();
    }

    /// <summary>Writes header, sections (each produced by a writer) and the checksum.</summary>
    /// <param name="reuse">An array to write the state into if it has exactly that size (a spare from an earlier state).</param>
    /// <param name="sizeHint">The expected size otherwise, e.g. the previous state's: a stream that never grows and a
    /// buffer returned as it is save copying megabytes (on the large-object heap) at every checkpoint.</param>
    /// <param name="sha256">The SHA-256 of the whole state, checksum included: what storing or publishing it needs, from
    /// the same pass over the bytes as the checksum (a second pass over megabytes costs as much as the first).</param>
    internal static byte[] Write(IReadOnlyList<Action<Stream>> sections, out byte[] sha256, byte[]? reuse = null, int sizeHint = 0)
    {
        if (sections.Count != SectionTags.Length) throw new ArgumentException("One writer per section is required.", nameof(sections));
        if (reuse is not null)
        {
            try
            {
                // Not expandable: a state larger than the spare stops with NotSupportedException and is written anew below.
                if (WriteTo(new MemoryStream(reuse, 0, reuse.Length, writable: true, publiclyVisible: true), sections, out sha256) == reuse.Length)
                    return reuse;
            }
            catch (NotSupportedException)
            {
            }
        }
        var ms = new MemoryStream(sizeHint);
        int length = WriteTo(ms, sections, out sha256);
        var buffer = ms.GetBuffer();
        return buffer.Length == length ? buffer : ms.ToArray();
    }

    /// <returns>The state's length: the stream's position, since a stream over a given array is as long as the array.</returns>
    private static int WriteTo(MemoryStream ms, IReadOnlyList<Action<Stream>> sections, out byte[] sha256)
    {
        ms.Write(Magic);
        StateIO.WriteInt32(ms, Version);
        StateIO.WriteInt64(ms, 0); // payload length, patched below
        for (int i = 0; i < sections.Count; i++)
        {
            ms.Write(System.Text.Encoding.ASCII.GetBytes(SectionTags[i]));
            long lengthAt = ms.Position;
            StateIO.WriteInt32(ms, 0);
            sections[i](ms);
            long sectionEnd = ms.Position;
            ms.Position = lengthAt;
            StateIO.WriteInt32(ms, checked((int)(sectionEnd - lengthAt - 4)));
            ms.Position = sectionEnd;
        }
        long end = ms.Position;
        ms.Position = 8;
        StateIO.WriteInt64(ms, end - HeaderSize);
        ms.Position = end;
        // The checksum is the hash of everything before it; hashing on through it gives the whole state's.
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(ms.GetBuffer(), 0, checked((int)end));
        Span<byte> checksum = stackalloc byte[HashSize];
        hash.GetCurrentHash(checksum);
        ms.Write(checksum);
        hash.AppendData(checksum);
        sha256 = hash.GetHashAndReset();
        return checked((int)ms.Position);
    }
}
