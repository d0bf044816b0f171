namespace Engine.Specs;

/// <summary>One broken rule: where (<c>layers[3].rate</c>, <c>input</c>, <c>loss</c>, <c>optimizer.learningRate</c>) and what.</summary>
/// <param name="LimitExceeded">True when the spec is well formed but too large for this service (parameters, layers, width).</param>
public sealed record SpecError(string Path, string Message, bool LimitExceeded = false)
{
    /// <summary>"path: message", the form shown to users.</summary>
    public override string ToString() => Path.Length == 0 ? Message : $"{Path}: {Message}";
}

/// <summary>Shape inference for one layer.</summary>
/// <param name="Type">The layer's JSON type name (<c>dense</c>, <c>relu</c>, ...).</param>
/// <param name="OutputShape">Per-sample output shape; dense layers flatten to <c>[units]</c>, others keep their input's shape.</param>
/// <param name="Parameters">Learnable values (dense: in·units + units; batchnorm: 2·width).</param>
public sealed record LayerReport(int Index, string Type, int[] OutputShape, long Parameters)
{
    /// <summary>Forward floating-point operations per sample (a multiply-add counts two).</summary>
    public long Flops { get; init; }
}

/// <summary>
/// Result of <see cref="SpecValidator.Validate"/>. The shape figures are meaningful only when
/// <see cref="IsValid"/>; for an invalid spec they cover the layers inferred before the first shape-breaking error.
/// </summary>
/// <param name="ParameterBytes">float32 bytes of the learnable parameters (4 · <see cref="TotalParameters"/>).</param>
/// <param name="ActivationBytesPerSample">
/// Training-time bytes per sample: the input row, and for every layer its output row and the gradient row
/// it passes back (its input width), plus the normalized input of batchnorm and the mask of dropout.
/// </param>
public sealed record SpecReport(
    IReadOnlyList<SpecError> Errors,
    IReadOnlyList<LayerReport> Layers,
    long TotalParameters,
    int[] OutputShape,
    long ParameterBytes,
    long ActivationBytesPerSample)
{
    /// <summary>Optimizer slots per parameter assumed by <see cref="EstimateBytes(int)"/>: Adam's two moments, the largest of any optimizer.</summary>
    public const int DefaultOptimizerSlots = 2;

    public bool IsValid => Errors.Count == 0;

    /// <summary>Bytes of non-learnable state (batchnorm running mean and variance).</summary>
    public long BufferBytes { get; init; }

    /// <summary>Forward floating-point operations per sample over all layers (a multiply-add counts two).</summary>
    public long FlopsPerSample { get; init; }

    /// <summary>Width of the final output (product of <see cref="OutputShape"/>).</summary>
    public int OutputWidth => OutputShape.Aggregate(1, (a, d) => a * d);

    /// <summary>Training memory estimate with the worst-case optimizer (<see cref="DefaultOptimizerSlots"/>).</summary>
    public long EstimateBytes(int batchSize) => EstimateBytes(batchSize, DefaultOptimizerSlots);

    /// <summary>
    /// Weights + gradients + <paramref name="optimizerSlots"/> optimizer values per weight + buffers +
    /// activations × batch. Saturates at <see cref="long.MaxValue"/> instead of overflowing.
    /// </summary>
    public long EstimateBytes(int batchSize, int optimizerSlots)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegative(optimizerSlots);
        try
        {
            return checked(ParameterBytes * (2L + optimizerSlots) + BufferBytes + ActivationBytesPerSample * batchSize);
        }
        catch (OverflowException)
        {
            return long.MaxValue;
        }
    }
}

/// <summary>Size limits a spec must respect before anything is allocated for it.</summary>
/// <param name="MaxParameters">Learnable values in the whole model.</param>
/// <param name="MaxLayers">Entries of <see cref="ModelSpec.Layers"/>.</param>
/// <param name="MaxWidth">Values per sample at any point (input product, dense units).</param>
public sealed record SpecLimits(long MaxParameters = 100_000_000, int MaxLayers = 256, int MaxWidth = 1_000_000)
{
    public static SpecLimits Default { get; } = new();
}
