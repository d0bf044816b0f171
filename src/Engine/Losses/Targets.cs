namespace Engine.Losses;

/// <summary>
/// The targets of one batch: either class indices (one per row) or float rows of a fixed width
/// (one-hot, soft labels, regression values, multi-label 0/1). Holds memory, not spans, so a trainer
/// can keep one instance per batch buffer; no copy is made.
/// </summary>
public readonly struct Targets
{
    private Targets(ReadOnlyMemory<int> labels, ReadOnlyMemory<float> values, int width, int count)
    {
        Labels = labels;
        Values = values;
        Width = width;
        Count = count;
    }

    /// <summary>One class index per row.</summary>
    public static Targets FromLabels(ReadOnlyMemory<int> labels) => new(labels, default, 0, labels.Length);

    /// <summary>Row-major float targets, <paramref name="width"/> values per row.</summary>
    public static Targets FromRows(ReadOnlyMemory<float> values, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if (values.Length % width != 0) throw new ArgumentException($"{values.Length} values do not form rows of width {width}.", nameof(values));
        return new(default, values, width, values.Length / width);
    }

    /// <summary>True when the targets are class indices.</summary>
    public bool HasLabels => Width == 0;
    public ReadOnlyMemory<int> Labels { get; }
    public ReadOnlyMemory<float> Values { get; }
    /// <summary>Width of a float row; 0 for class indices.</summary>
    public int Width { get; }
    /// <summary>Number of rows (samples).</summary>
    public int Count { get; }

    /// <summary>
    /// Row <paramref name="r"/> as floats of width <paramref name="scratch"/>.Length: the stored row, or a
    /// one-hot row written into <paramref name="scratch"/> for class indices. One code path then serves both forms.
    /// </summary>
    public ReadOnlySpan<float> Row(int r, Span<float> scratch)
    {
        if (!HasLabels) return Values.Span.Slice(r * Width, Width);
        int c = Label(r, scratch.Length);
        scratch.Clear();
        scratch[c] = 1f;
        return scratch;
    }

    /// <summary>The class index of row <paramref name="r"/>, checked against the number of <paramref name="classes"/>.</summary>
    public int Label(int r, int classes)
    {
        int c = Labels.Span[r];
        if ((uint)c >= (uint)classes) throw new ArgumentException($"Class index {c} at row {r} is outside [0, {classes}).");
        return c;
    }
}
