namespace Engine.Tensors;

/// <summary>
/// A batch-first, row-major float32 matrix (rows = samples). The backing array is owned by the
/// tensor and only grows: <see cref="Resize"/> reuses it when the capacity suffices, so layers can
/// keep one output buffer per layer and allocate nothing per batch in steady state.
/// </summary>
public sealed class Tensor
{
    private float[] _data;

    public Tensor(int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        _data = new float[checked(rows * cols)];
        Rows = rows;
        Cols = cols;
    }

    /// <summary>Wraps an existing array (no copy); its length must be at least rows·cols.</summary>
    public Tensor(float[] data, int rows, int cols)
    {
        if (data.Length < (long)rows * cols) throw new ArgumentException("Array is smaller than rows·cols.", nameof(data));
        _data = data;
        Rows = rows;
        Cols = cols;
    }

    public int Rows { get; private set; }
    public int Cols { get; private set; }
    public int Length => Rows * Cols;

    /// <summary>The backing array; may be longer than <see cref="Length"/>.</summary>
    public float[] Data => _data;

    public Span<float> Span => _data.AsSpan(0, Length);
    public Span<float> Row(int r) => _data.AsSpan(r * Cols, Cols);

    public float this[int r, int c]
    {
        get => _data[r * Cols + c];
        set => _data[r * Cols + c] = value;
    }

    /// <summary>Sets the shape, growing the backing array only if it is too small. Contents are unspecified afterwards.</summary>
    public Tensor Resize(int rows, int cols)
    {
        int needed = checked(rows * cols);
        if (_data.Length < needed) _data = new float[needed];
        Rows = rows;
        Cols = cols;
        return this;
    }

    public void Clear() => Span.Clear();

    public static Tensor FromRows(float[][] rows)
    {
        var t = new Tensor(rows.Length, rows.Length == 0 ? 0 : rows[0].Length);
        for (int r = 0; r < rows.Length; r++) rows[r].CopyTo(t.Row(r));
        return t;
    }
}
