using System.Diagnostics;
using Engine.Data;
using Engine.Losses;
using Engine.Specs;
using Engine.Tensors;

namespace Engine.Training;

/// <summary>
/// One training run: a network, its optimizer and data, advanced an epoch at a time. All randomness comes
/// from <see cref="TrainingOptions.Seed"/>: initial weights and dropout masks from the network's
/// <see cref="Rng"/>, per-epoch shuffles from a second stream of their own (so variations of a model with
/// the same seed see the same data order), and the validation split from a third, so a seed fixes the run and
/// <see cref="SaveState()"/> / <see cref="Restore"/> continue it bit for bit, even between batches of an epoch.
/// Batch buffers are allocated once; a steady-state epoch allocates nothing per batch. Not thread-safe.
/// </summary>
public sealed partial class TrainingSession
{
    /// <summary>Mixed into the seed for the validation split, so the split does not consume the training stream.</summary>
    private const ulong SplitSalt = 0x5EED_0F5A_11DA_7E00UL;
    /// <summary>Mixed into the seed for the data order, independent of how many draws initialization took.</summary>
    private const ulong ShuffleSalt = 0x0DE2_5F1E_D0A7_A000UL;

    private Rng _shuffle;

    private readonly Optimizer _optimizer;
    private readonly Dataset _train;
    private readonly Dataset? _validation;
    private readonly Tensor _x;
    private readonly int[] _labels;
    private readonly float[] _targets;
    private readonly int[] _order;

    // Position inside the current epoch (0 = not started) and the epoch's running sums, saved with the state.
    private int _batchPos;
    private float _epochLr;
    private double _lossSum, _correctSum;
    // True while every gradient is known zero: the optimizer clears them as it steps, so the next batch skips ZeroGrad.
    private bool _gradientsClear;

    // Early stopping: best monitored loss, epochs without improvement, and the best weights when kept.
    private double _bestMetric = double.PositiveInfinity;
    private int _wait;
    private float[][]? _bestParams, _bestBuffers;

    private TrainingSession(Network network, TrainingOptions options, Optimizer optimizer, Dataset train, Dataset? validation)
    {
        Network = network;
        Options = options;
        _optimizer = optimizer;
        _train = train;
        _validation = validation;
        int rows = Math.Min(options.BatchSize, Math.Max(train.Count, validation?.Count ?? 0));
        _x = new Tensor(rows, network.InputWidth);
        _labels = new int[rows];
        _targets = new float[checked(rows * train.TargetWidth)];
        _order = new int[train.Count];
        _shuffle = new Rng(options.Seed ^ ShuffleSalt);
        _optimizer.ClearsGradients = true;
    }

    public Network Network { get; }
    /// <summary>Indices into the training set in the order the current (or last) epoch visits them.</summary>
    public ReadOnlySpan<int> EpochOrder => _order;
    public TrainingOptions Options { get; }
    public Optimizer Optimizer => _optimizer;
    /// <summary>The samples trained on (after a validation split).</summary>
    public Dataset TrainData => _train;
    /// <summary>The separate validation set or the held-out split; null when there is none.</summary>
    public Dataset? ValidationData => _validation;
    public int CompletedEpochs { get; private set; }
    public bool EarlyStopped { get; private set; }
    public bool IsFinished => EarlyStopped || CompletedEpochs >= Options.Epochs;
    /// <summary>1-based epoch with the best monitored loss so far (0 before the first epoch).</summary>
    public int BestEpoch { get; private set; }
    /// <summary>Batches of the current epoch trained so far: 0 between epochs, more after a cancel between two batches.</summary>
    public int BatchesDoneInEpoch => _batchPos;
    /// <summary>Mini-batches per epoch.</summary>
    public int BatchesPerEpoch => (_train.Count + Options.BatchSize - 1) / Options.BatchSize;

    /// <summary>
    /// A new run. With a separate <paramref name="validation"/> set, <see cref="TrainingOptions.ValidationSplit"/>
    /// is ignored; otherwise that fraction (rounded down, at least one sample) is held out by a permutation
    /// seeded from <see cref="TrainingOptions.Seed"/>. <see cref="Network.Transform"/> is the training set's.
    /// </summary>
    public static TrainingSession Create(ModelSpec spec, TrainingOptions options, Dataset train, Dataset? validation = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        CheckOptions(options);
        ArgumentNullException.ThrowIfNull(train);
        var network = Network.Create(spec, new Rng(options.Seed));
        network.Transform = train.Transform;
        var (t, v) = Split(train, validation, options);
        CheckData(network, t, "train");
        if (v is not null) CheckData(network, v, "validation");
        return new TrainingSession(network, options, Optimizer.Create(options.Optimizer, options.WeightDecay), t, v);
    }

    private static void CheckOptions(TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.Optimizer);
        if (options.Epochs < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Epochs, "Epochs must be at least 1.");
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "Batch size must be at least 1.");
        if (!(options.ValidationSplit is >= 0f and < 1f)) throw new ArgumentOutOfRangeException(nameof(options), options.ValidationSplit, "Validation split must be in [0, 1).");
        if (options.ClipNorm is { } c && !(c > 0f)) throw new ArgumentOutOfRangeException(nameof(options), c, "Clip norm must be positive.");
    }

    private static (Dataset Train, Dataset? Validation) Split(Dataset train, Dataset? validation, TrainingOptions options)
    {
        if (validation is not null || options.ValidationSplit == 0f) return (train, validation);
        int held = Math.Max(1, (int)(train.Count * (double)options.ValidationSplit));
        if (held >= train.Count) throw new ArgumentException($"A validation split of {options.ValidationSplit} leaves no training samples out of {train.Count}.", nameof(options));
        var perm = new int[train.Count];
        for (int i = 0; i < perm.Length; i++) perm[i] = i;
        new Rng(options.Seed ^ SplitSalt).Shuffle(perm);
        // Each part keeps the original sample order, so the split is readable and independent of shuffling.
        var val = perm.AsSpan(0, held);
        var rest = perm.AsSpan(held);
        val.Sort();
        rest.Sort();
        return (train.Subset(rest), train.Subset(val));
    }

    private static void CheckData(Network network, Dataset d, string name)
    {
        if (d.Count == 0) throw new ArgumentException($"The {name} set is empty.");
        if (d.FeatureSize != network.InputWidth) throw new ArgumentException($"The {name} set has {d.FeatureSize} features per sample; the model takes {network.InputWidth}.");
        if (d.Labels is not null)
        {
            if (network.Spec.Loss == LossKind.Mse) throw new ArgumentException($"The {name} set has class labels; the mse loss needs float targets.");
            foreach (int l in d.Labels)
                if ((uint)l >= (uint)network.OutputWidth) throw new ArgumentException($"The {name} set has class {l}; the model outputs {network.OutputWidth} classes.");
        }
        else if (d.TargetWidth != network.OutputWidth)
            throw new ArgumentException($"The {name} set has targets of width {d.TargetWidth}; the model outputs {network.OutputWidth}.");
    }

    /// <summary>
    /// Trains one epoch (or the rest of a partly done one after <see cref="Restore"/>), then evaluates the
    /// validation set in evaluation mode and applies early stopping. The token is checked before every batch,
    /// so cancellation leaves the session between batches, where <see cref="SaveState()"/> can still capture it.
    /// </summary>
    public EpochMetrics RunEpoch(CancellationToken ct = default, Action<BatchProgress>? onBatch = null)
    {
        if (IsFinished) throw new InvalidOperationException("Training is finished.");
        long start = Stopwatch.GetTimestamp();
        int epoch = CompletedEpochs + 1, n = _train.Count, bs = Options.BatchSize, batches = BatchesPerEpoch;
        if (_batchPos == 0)
        {
            // Checked before the shuffle draws from its stream: a session cancelled here is still at the epoch's start,
            // so the state saved now restores to the same shuffle.
            ct.ThrowIfCancellationRequested();
            _epochLr = LearningRateSchedule.At(Options.Schedule, Options.Optimizer.LearningRate, CompletedEpochs, Options.Epochs);
            for (int i = 0; i < n; i++) _order[i] = i;
            _shuffle.Shuffle(_order);
            _lossSum = _correctSum = 0;
        }
        _optimizer.LearningRate = _epochLr;
        var ps = Network.Parameters;
        bool hasAccuracy = Network.Loss.HasAccuracy;
        int startBatch = _batchPos;
        for (int b = startBatch; b < batches; b++)
        {
            // Batch 0's check is the one before the shuffle.
            if (b > 0) ct.ThrowIfCancellationRequested();
            int first = b * bs, rows = Math.Min(bs, n - first);
            var targets = Gather(_train, _order.AsSpan(first, rows));
            if (!_gradientsClear) Network.ZeroGrad();
            _gradientsClear = false;
            var output = Network.Forward(_x, training: true);
            float loss = Network.ComputeLoss(output, targets);
            if (!float.IsFinite(loss)) throw new TrainingDivergedException(epoch, b + 1, loss);
            if (hasAccuracy) _correctSum += Network.Loss.CountCorrect(output, targets);
            Network.Backward();
            if (Options.ClipNorm is { } clip) Optimizer.ClipGlobalNorm(ps, clip);
            _optimizer.Step(ps);
            _gradientsClear = true;
            _lossSum += (double)loss * rows;
            _batchPos = b + 1;
            onBatch?.Invoke(new BatchProgress(epoch, b + 1, batches, loss));
        }

        float trainLoss = (float)(_lossSum / n);
        float? trainAccuracy = hasAccuracy ? (float)(_correctSum / n) : null;
        float? valLoss = null, valAccuracy = null;
        if (_validation is not null) (valLoss, valAccuracy) = EvaluateCore(_validation);
        _batchPos = 0;
        CompletedEpochs++;
        bool isBest = UpdateEarlyStopping(valLoss ?? trainLoss);
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        int trained = n - Math.Min(n, startBatch * bs);
        return new EpochMetrics(CompletedEpochs, trainLoss, trainAccuracy, valLoss, valAccuracy, _epochLr, seconds,
            seconds > 0 ? trained / seconds : 0, isBest);
    }

    /// <summary>Runs epochs until <see cref="IsFinished"/>; returns the metrics of the epochs this call ran.</summary>
    public IReadOnlyList<EpochMetrics> Run(Action<EpochMetrics>? onEpoch = null, Action<BatchProgress>? onBatch = null, CancellationToken ct = default)
    {
        var all = new List<EpochMetrics>();
        while (!IsFinished)
        {
            var m = RunEpoch(ct, onBatch);
            all.Add(m);
            onEpoch?.Invoke(m);
        }
        return all;
    }

    /// <summary>Mean loss and accuracy (null for regression) of <paramref name="d"/> in evaluation mode.</summary>
    public (float Loss, float? Accuracy) Evaluate(Dataset d)
    {
        ArgumentNullException.ThrowIfNull(d);
        if (d.Count > 0) CheckData(Network, d, "evaluated");
        if (d.TargetWidth != _train.TargetWidth) throw new ArgumentException($"The evaluated set has targets of width {d.TargetWidth}, the training set {_train.TargetWidth}.", nameof(d));
        return EvaluateCore(d);
    }

    private (float Loss, float? Accuracy) EvaluateCore(Dataset d)
    {
        if (d.Count == 0) return (0f, Network.Loss.HasAccuracy ? 0f : null);
        double loss = 0, correct = 0;
        int step = _labels.Length;
        for (int first = 0; first < d.Count; first += step)
        {
            int rows = Math.Min(step, d.Count - first);
            var targets = GatherRange(d, first, rows);
            var output = Network.Forward(_x, training: false);
            loss += (double)Network.ComputeLoss(output, targets) * rows;
            if (Network.Loss.HasAccuracy) correct += Network.Loss.CountCorrect(output, targets);
        }
        return ((float)(loss / d.Count), Network.Loss.HasAccuracy ? (float)(correct / d.Count) : null);
    }

    private bool UpdateEarlyStopping(double monitored)
    {
        var es = Options.EarlyStopping;
        double minDelta = es?.MinDelta ?? 0;
        if (double.IsFinite(monitored) && monitored < _bestMetric - minDelta)
        {
            _bestMetric = monitored;
            BestEpoch = CompletedEpochs;
            _wait = 0;
            if (es is { RestoreBestWeights: true }) SnapshotBest();
            return true;
        }
        _wait++;
        if (es is not null && _wait >= es.Patience)
        {
            EarlyStopped = true;
            if (es.RestoreBestWeights && _bestParams is not null) RestoreBest();
        }
        return false;
    }

    private void SnapshotBest()
    {
        var ps = Network.Parameters;
        var bs = Network.Buffers;
        _bestParams ??= [.. ps.Select(p => new float[p.Value.Length])];
        _bestBuffers ??= [.. bs.Select(b => new float[b.Value.Length])];
        for (int i = 0; i < ps.Count; i++) ps[i].Value.CopyTo(_bestParams[i], 0);
        for (int i = 0; i < bs.Count; i++) bs[i].Value.CopyTo(_bestBuffers[i], 0);
    }

    private void RestoreBest()
    {
        var ps = Network.Parameters;
        var bs = Network.Buffers;
        for (int i = 0; i < ps.Count; i++) _bestParams![i].CopyTo(ps[i].Value, 0);
        for (int i = 0; i < bs.Count; i++) _bestBuffers![i].CopyTo(bs[i].Value, 0);
    }

    /// <summary>Copies the samples at <paramref name="indices"/> into the batch buffers; the targets view them without copying again.</summary>
    private Targets Gather(Dataset d, ReadOnlySpan<int> indices)
    {
        int rows = indices.Length, fs = d.FeatureSize, tw = d.TargetWidth;
        _x.Resize(rows, fs);
        d.CopySamples(indices, _x.Span);
        if (d.Labels is { } labels)
        {
            for (int i = 0; i < rows; i++) _labels[i] = labels[indices[i]];
            return Targets.FromLabels(_labels.AsMemory(0, rows));
        }
        for (int i = 0; i < rows; i++) d.Targets.AsSpan(indices[i] * tw, tw).CopyTo(_targets.AsSpan(i * tw));
        return Targets.FromRows(_targets.AsMemory(0, rows * tw), tw);
    }

    private Targets GatherRange(Dataset d, int first, int rows)
    {
        int fs = d.FeatureSize, tw = d.TargetWidth;
        _x.Resize(rows, fs);
        d.Features.AsSpan(first * fs, rows * fs).CopyTo(_x.Span);
        if (d.Labels is { } labels)
        {
            labels.AsSpan(first, rows).CopyTo(_labels);
            return Targets.FromLabels(_labels.AsMemory(0, rows));
        }
        d.Targets.AsSpan(first * tw, rows * tw).CopyTo(_targets);
        return Targets.FromRows(_targets.AsMemory(0, rows * tw), tw);
    }
}
