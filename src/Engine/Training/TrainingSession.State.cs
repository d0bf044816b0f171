using System.Text.Json;
using Engine.Data;
using Engine.Specs;
using Engine.Tensors;

namespace Engine.Training;

public sealed partial class TrainingSession
{
    /// <summary>
    /// Everything needed to continue this run exactly (see <see cref="TrainingState"/> for the format):
    /// spec, options, input transform, weights, BatchNorm statistics, optimizer state, RNG state, epoch and
    /// batch position with the epoch's running sums, and early-stopping counters with the best weights.
    /// </summary>
    public byte[] SaveState() => SaveState(out _);

    /// <inheritdoc cref="SaveState()"/>
    /// <param name="sha256">The SHA-256 of the returned bytes, to store or publish with them; computed in the pass that
    /// writes the state's own checksum, so it costs no second pass over the state.</param>
    public byte[] SaveState(out byte[] sha256)
    {
        var net = Network;
        Action<Stream>[] sections =
        [
            s => JsonSerializer.Serialize(s, net.Spec, TrainingState.Json),
            s => JsonSerializer.Serialize(s, Options, TrainingState.Json),
            s => TrainingState.WriteTransform(s, net.Transform),
            s => TrainingState.WriteArrays(s, net.Parameters.Select(p => (p.Name, p.Value))),
            s => TrainingState.WriteArrays(s, net.Buffers.Select(b => (b.Name, b.Value))),
            _optimizer.WriteState,
            s =>
            {
                Span<byte> rng = stackalloc byte[2 * Rng.StateSize];
                net.Rng.WriteState(rng);
                _shuffle.WriteState(rng[Rng.StateSize..]);
                s.Write(rng);
            },
            WritePosition,
            WriteBest,
        ];
        var spare = _spareState;
        _spareState = null;
        var state = TrainingState.Write(sections, out sha256, spare?.Length == _stateBytes ? spare : null, _stateBytes);
        _stateBytes = state.Length;
        return state;
    }

    /// <summary>
    /// Gives back a state from <see cref="SaveState()"/> that nothing reads any more (e.g. once it is stored): the
    /// next state of the same size is written into it instead of a new array. States at epoch ends all have one
    /// size, so a caller that saves every epoch and recycles each state once stored allocates nothing for them.
    /// </summary>
    public void RecycleState(byte[] state) => _spareState = state ?? throw new ArgumentNullException(nameof(state));

    // The last state's size (at epoch ends it stays the same) and an array of that size given back for the next.
    private int _stateBytes;
    private byte[]? _spareState;

    private void WritePosition(Stream s)
    {
        StateIO.WriteInt32(s, CompletedEpochs);
        s.WriteByte(EarlyStopped ? (byte)1 : (byte)0);
        StateIO.WriteInt32(s, _batchPos);
        StateIO.WriteInt32(s, BitConverter.SingleToInt32Bits(_epochLr));
        StateIO.WriteDouble(s, _lossSum);
        StateIO.WriteDouble(s, _correctSum);
        StateIO.WriteInt32(s, _train.Count);
        StateIO.WriteInt32(s, _validation?.Count ?? 0);
        // The order only matters mid-epoch; a new epoch rebuilds it from the RNG.
        StateIO.WriteInts(s, _batchPos > 0 ? _order : []);
    }

    private void WriteBest(Stream s)
    {
        StateIO.WriteDouble(s, _bestMetric);
        StateIO.WriteInt32(s, BestEpoch);
        StateIO.WriteInt32(s, _wait);
        s.WriteByte(_bestParams is null ? (byte)0 : (byte)1);
        if (_bestParams is null) return;
        foreach (var a in _bestParams) StateIO.WriteFloats(s, a);
        foreach (var a in _bestBuffers!) StateIO.WriteFloats(s, a);
    }

    /// <summary>
    /// Continues a run saved by <see cref="SaveState()"/>. <paramref name="options"/> may differ from the saved ones
    /// in epochs, learning rate, schedule, early stopping, clipping and weight decay; the optimizer type, seed and
    /// validation split must match (they shape the saved state), as must the batch size when resuming mid-epoch,
    /// and the data must have the saved sample counts. The network's transform is the saved one.
    /// </summary>
    public static TrainingSession Restore(ReadOnlySpan<byte> state, TrainingOptions options, Dataset train, Dataset? validation = null)
    {
        CheckOptions(options);
        ArgumentNullException.ThrowIfNull(train);
        var p = TrainingState.Parse(state);
        var saved = p.Options;
        if (saved.Optimizer.Type != options.Optimizer.Type)
            throw new ArgumentException($"The state was saved with optimizer {saved.Optimizer.Type}, the options ask for {options.Optimizer.Type}.", nameof(options));
        if (saved.Seed != options.Seed) throw new ArgumentException($"The state was saved with seed {saved.Seed}, the options have {options.Seed}.", nameof(options));
        if (saved.ValidationSplit != options.ValidationSplit)
            throw new ArgumentException($"The state was saved with validation split {saved.ValidationSplit}, the options have {options.ValidationSplit}.", nameof(options));
        if (p.BatchPos > 0 && saved.BatchSize != options.BatchSize)
            throw new ArgumentException($"The state was saved mid-epoch with batch size {saved.BatchSize}; the options have {options.BatchSize}.", nameof(options));

        var (t, v) = Split(train, validation, options);
        if (t.Count != p.TrainCount || (v?.Count ?? 0) != p.ValCount)
            throw new ArgumentException($"The state was saved with {p.TrainCount} training and {p.ValCount} validation samples; the data give {t.Count} and {v?.Count ?? 0}.", nameof(train));
        var network = p.Network;
        CheckData(network, t, "train");
        if (v is not null) CheckData(network, v, "validation");
        network.Rng = Rng.FromState(p.Rng.AsSpan(0, Rng.StateSize));

        var optimizer = Optimizer.Create(options.Optimizer, options.WeightDecay);
        optimizer.ReadState(p.OptimizerState, network.Parameters);
        var session = new TrainingSession(network, options, optimizer, t, v)
        {
            CompletedEpochs = p.CompletedEpochs,
            EarlyStopped = p.EarlyStopped,
            BestEpoch = p.BestEpoch,
            _batchPos = p.BatchPos,
            _epochLr = p.EpochLr,
            _lossSum = p.LossSum,
            _correctSum = p.CorrectSum,
            _bestMetric = p.BestMetric,
            _wait = p.Wait,
            _bestParams = p.BestParams,
            _bestBuffers = p.BestBuffers,
        };
        if (p.BatchPos > 0) p.Order.CopyTo(session._order, 0);
        session._shuffle = Rng.FromState(p.Rng.AsSpan(Rng.StateSize));
        return session;
    }
}
