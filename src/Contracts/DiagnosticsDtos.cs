namespace TrainingService.Contracts;

/// <summary>One layer at one epoch end, measured on the fixed probe batch (the first 256 training samples).</summary>
/// <param name="GradToWeight">GradNorm / WeightNorm.</param>
/// <param name="DeadFraction">ReLU layers: units that output 0 for every probe sample (after a conv, a unit is a channel: a filter
/// that never fires anywhere in the image); null for other layers.</param>
/// <param name="Histogram">20 equal bins of the layer's output activations between HistogramMin and HistogramMax.</param>
public sealed record LayerStatsDto(int Index, string Type, double? WeightNorm, double? GradNorm, double? GradToWeight,
    double Mean, double Std, double? DeadFraction, double HistogramMin, double HistogramMax, int[] Histogram);

/// <summary>All layers of one epoch.</summary>
public sealed record EpochDiagnosticsDto(int Epoch, LayerStatsDto[] Layers);

/// <summary>Hub event with one epoch's layer diagnostics.</summary>
public sealed record LayerStatsEvent(long JobId, int Epoch, LayerStatsDto[] Layers) : IJobEvent;

/// <summary>Gradient check of a stored model.</summary>
/// <param name="DatasetId">Data set the batch is drawn from (normalized as training would).</param>
/// <param name="BatchSize">Samples in the batch, 1 to 64; default 8.</param>
/// <param name="Seed">Initial weights, which samples, which parameter entries and the dropout masks; default 1.</param>
public sealed record GradientCheckRequest(long? DatasetId, int? BatchSize = null, ulong? Seed = null);

/// <summary>Gradient check of an inline spec; the other fields as in <see cref="GradientCheckRequest"/>.</summary>
public sealed record InlineGradientCheckRequest(ModelSpec? Spec, long? DatasetId, int? BatchSize = null, ulong? Seed = null);

/// <summary>One parameter tensor: errors over the checked entries and whether all were within tolerance.</summary>
/// <param name="Skipped">Sampled entries left out because a ±h pass crossed a ReLU kink, where the derivative does not exist.</param>
public sealed record GradientCheckEntryDto(int LayerIndex, string Layer, string Parameter, int Size,
    double MaxAbsError, double MaxRelError, int Checked, int Skipped, bool Passed);

/// <summary>The tolerance an entry must meet: |a − n| ≤ absolute, or |a − n| / max(|a|, |n|) ≤ relative.</summary>
public sealed record GradientToleranceDto(double Absolute, double Relative, double Step, int MaxEntriesPerParameter);

public sealed record GradientCheckDto(bool Passed, GradientToleranceDto Tolerance, int BatchSize, double Loss, GradientCheckEntryDto[] Results);
