namespace Engine.Diagnostics;

/// <summary>
/// Settings of <see cref="GradientChecker"/>. The defaults suit float32 forward passes: with h = 1e-2
/// the O(h²) truncation error is about 1e-4 relative and the float rounding of the loss about
/// 1e-7·|loss|/h ≈ 1e-5 absolute, so a correct gradient entry is within 1e-4 absolute or 2 % relative,
/// while a wrong formula (missing term, wrong sign or scale) misses both by far.
/// </summary>
public sealed record GradientCheckOptions
{
    public double Step { get; init; } = 1e-2;
    public double AbsoluteTolerance { get; init; } = 1e-4;
    public double RelativeTolerance { get; init; } = 2e-2;
    /// <summary>Entries checked per parameter tensor at most (sampled without replacement); bounds the cost.</summary>
    public int MaxEntriesPerParameter { get; init; } = 64;
    /// <summary>Chooses the sampled entries and the frozen dropout masks.</summary>
    public ulong Seed { get; init; } = 1;

    internal void Validate()
    {
        if (!(Step is > 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(Step), Step, "Step must be in (0, 1).");
        if (!(AbsoluteTolerance >= 0) || !(RelativeTolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(AbsoluteTolerance), "Tolerances must be non-negative.");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxEntriesPerParameter);
    }
}

/// <summary>One parameter tensor's comparison.</summary>
/// <param name="LayerIndex">Position of the layer in the network.</param>
/// <param name="Layer">Layer type, e.g. <c>Dense</c>.</param>
/// <param name="Parameter">Parameter name within the layer, e.g. <c>weight</c>.</param>
/// <param name="Size">Entries in the tensor.</param>
/// <param name="MaxAbsError">max |analytic − numerical| over the checked entries.</param>
/// <param name="MaxRelError">max |analytic − numerical| / max(|analytic|, |numerical|).</param>
/// <param name="Checked">Entries compared.</param>
/// <param name="Skipped">Sampled entries skipped because a ±h pass crossed a ReLU kink.</param>
/// <param name="Passed">Every checked entry is within the absolute or the relative tolerance.</param>
public sealed record GradientCheckResult(int LayerIndex, string Layer, string Parameter, int Size,
    double MaxAbsError, double MaxRelError, int Checked, int Skipped, bool Passed);

/// <summary>The whole check: one result per parameter tensor, in layer order.</summary>
public sealed record GradientCheckReport(IReadOnlyList<GradientCheckResult> Results,
    double AbsoluteTolerance, double RelativeTolerance, bool Passed, int BatchSize, double Loss);
