using System.Globalization;
using System.Text;

namespace Engine.Data;

/// <summary>How to read a CSV file.</summary>
/// <param name="LabelColumn">Header name, or 0-based index, of the label column; null for the last column.
/// A header name takes precedence over reading the text as an index.</param>
/// <param name="HasHeader">Whether the first record is a header; null detects it (a header has a non-numeric field).</param>
/// <param name="Regression">Force float targets. Otherwise labels that are all integers in
/// [0, <see cref="CsvLoader.MaxAutoClasses"/>) give classification with classes = max + 1, and any other
/// numeric labels give regression targets.</param>
public sealed record CsvOptions(string? LabelColumn = null, bool? HasHeader = null, bool Regression = false);

/// <summary>
/// Loads numeric CSV (RFC 4180 quoting, UTF-8 with or without BOM, invariant-culture numbers) into a
/// dataset with sample shape [D]: every column except the label is a feature. Errors name the 1-based
/// line and column (and the header name when there is one).
/// </summary>
public static class CsvLoader
{
    /// <summary>Integer labels at or above this are taken as regression values, not class indices.</summary>
    public const int MaxAutoClasses = 10_000;

    public static Dataset Load(Stream csv, CsvOptions options)
    {
        ArgumentNullException.ThrowIfNull(csv);
        ArgumentNullException.ThrowIfNull(options);
        // Sizing the arrays from a count of the file's lines lets them be allocated once at their final size,
        // so parsing a large file holds the data set once instead of up to three times over (List doubling).
        var size = csv.CanSeek ? CountLines(csv) : default;
        using var text = new StreamReader(csv, new UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: true, 1 << 16, leaveOpen: true);
        var rows = new CsvRecordReader(text);
        try
        {
            return Load(rows, options, size);
        }
        catch (DecoderFallbackException e)
        {
            throw new DataFormatException($"csv: near line {rows.Line}: the file is not valid UTF-8 (byte offset {e.Index} of a read block)");
        }
    }

    /// <summary>
    /// Line breaks, counted on the bytes (a fraction of the parse's cost): one record a line in the usual
    /// file. Blank lines and quoted line breaks make it high (the arrays are trimmed), mixed CR and LF low (they grow).
    /// </summary>
    private static (long Lines, long Bytes) CountLines(Stream csv)
    {
        long start = csv.Position, lf = 0, cr = 0;
        byte last = 0;
        var buffer = new byte[1 << 16];
        int read;
        while ((read = csv.Read(buffer)) > 0)
        {
            var block = buffer.AsSpan(0, read);
            lf += block.Count((byte)'\n');
            cr += block.Count((byte)'\r');
            last = block[^1];
        }
        long bytes = csv.Position - start;
        csv.Position = start;
        return (Math.Max(lf, cr) + (last is (byte)'\n' or (byte)'\r' ? 0 : 1), bytes);
    }

    private static Dataset Load(CsvRecordReader rows, CsvOptions options, (long Lines, long Bytes) size)
    {
        if (!rows.Next()) throw new DataFormatException("csv: the file has no records");
        int columns = rows.FieldCount, firstLine = rows.Line;
        bool header = options.HasHeader ?? !AllNumeric(rows);
        string[]? names = header ? [.. Enumerable.Range(0, columns).Select(i => rows.Field(i).Trim().ToString())] : null;
        if (columns < 2) throw new DataFormatException($"csv: line {firstLine}: needs at least two columns (features and a label), found {columns}");
        int label = ResolveLabel(options.LabelColumn, names, columns);
        if (header && !rows.Next()) throw new DataFormatException($"csv: no data rows after the header on line {firstLine}");

        // A record takes at least two bytes a column ("1,2\n"), so a file of blank lines cannot make the
        // estimate allocate more than a file of real records of its size would need.
        long expected = Math.Clamp(Math.Min(size.Lines - (header ? 1 : 0), size.Bytes / (2 * columns)), 0, Array.MaxLength);
        // Too many to hold: start small, so the limit is reported at its line below rather than met by one huge allocation.
        if (expected * (columns - 1) > Array.MaxLength) expected = 0;
        var features = new Growable(expected * (columns - 1));
        // Labels as float, with what is needed to tell class indices from regression values noted as they are read.
        var labels = new Growable(expected);
        bool classIndices = !options.Regression;
        int count = 0;
        do
        {
            if (rows.FieldCount != columns)
                throw new DataFormatException($"csv: line {rows.Line}: has {rows.FieldCount} fields, expected {columns} (as on line {firstLine})");
            if (count == int.MaxValue || (long)features.Count + columns > Array.MaxLength)
                throw new DataFormatException($"csv: line {rows.Line}: more values than one array can hold");
            for (int j = 0; j < columns; j++)
            {
                var field = rows.Field(j);
                if (!double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
                    throw Bad(rows, j, names, field, "is not a number");
                float f = (float)v;
                if (!float.IsFinite(f)) throw Bad(rows, j, names, field, "is outside the float32 range");
                if (j == label)
                {
                    // Class indices below MaxAutoClasses are exact in float32.
                    classIndices &= v >= 0 && v < MaxAutoClasses && v == Math.Floor(v);
                    labels.Add(f);
                }
                else features.Add(f);
            }
            count++;
        } while (rows.Next());

        var x = features.ToArray();
        var t = labels.ToArray();
        if (classIndices)
        {
            var y = new int[t.Length];
            for (int i = 0; i < y.Length; i++) y[i] = (int)t[i];
            return new Dataset(x, [columns - 1], count, y, null, 1, y.Max() + 1);
        }
        return new Dataset(x, [columns - 1], count, null, t, 1, 0);
    }

    /// <summary>
    /// A float list whose array is handed over as is when it was sized right from the start; it doubles
    /// only when the input was not counted or had more records than lines.
    /// </summary>
    private sealed class Growable(long capacity)
    {
        private float[] _items = new float[capacity];

        public int Count { get; private set; }

        public void Add(float value)
        {
            if (Count == _items.Length)
                Array.Resize(ref _items, (int)Math.Clamp(2L * _items.Length, 1024, Array.MaxLength));
            _items[Count++] = value;
        }

        public float[] ToArray() => Count == _items.Length ? _items : _items[..Count];
    }

    private static bool AllNumeric(CsvRecordReader rows)
    {
        for (int j = 0; j < rows.FieldCount; j++)
            if (!double.TryParse(rows.Field(j), NumberStyles.Float, CultureInfo.InvariantCulture, out _)) return false;
        return true;
    }

    private static int ResolveLabel(string? column, string[]? names, int columns)
    {
        if (column is null) return columns - 1;
        if (names is not null)
        {
            int byName = Array.IndexOf(names, column.Trim());
            if (byName < 0) byName = Array.FindIndex(names, n => string.Equals(n, column.Trim(), StringComparison.OrdinalIgnoreCase));
            if (byName >= 0) return byName;
        }
        if (int.TryParse(column, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            return index < columns ? index : throw new DataFormatException($"csv: label column index {index} is outside the {columns} columns (indices are 0-based)");
        throw new DataFormatException(names is null
            ? $"csv: label column '{column}' is a name, but the file has no header; give a 0-based index"
            : $"csv: label column '{column}' is not in the header ({string.Join(", ", names)})");
    }

    private static DataFormatException Bad(CsvRecordReader rows, int column, string[]? names, ReadOnlySpan<char> field, string problem)
    {
        string col = names is null ? $"{column + 1}" : $"{column + 1} ('{names[column]}')";
        string what = field.IsWhiteSpace() ? "empty value, expected a number" : $"{CsvRecordReader.Quote(field)} {problem}";
        return new DataFormatException($"csv: line {rows.Line}, column {col}: {what}");
    }
}
