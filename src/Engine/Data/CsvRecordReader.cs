using System.Text;

namespace Engine.Data;

/// <summary>
/// Streams RFC 4180 records: comma-separated fields, optionally in double quotes with "" for a quote and
/// line breaks allowed inside; records end at LF, CRLF or CR; blank lines are skipped. Field text is kept
/// in one reused buffer, so reading a large file allocates per record nothing but what the caller keeps.
/// </summary>
internal sealed class CsvRecordReader(TextReader reader)
{
    /// <summary>A longer record is treated as a malformed file rather than grown into memory.</summary>
    private const int MaxRecordChars = 1 << 24;

    private readonly char[] _input = new char[1 << 16];
    private int _pos, _len;
    private char[] _record = new char[1024];
    private int _recordLength;
    private int _line = 1;
    private readonly List<(int Start, int Length)> _fields = [];

    /// <summary>1-based physical line on which the current record starts.</summary>
    public int Line { get; private set; }
    public int FieldCount => _fields.Count;
    public ReadOnlySpan<char> Field(int i) => _record.AsSpan(_fields[i].Start, _fields[i].Length);

    /// <summary>Moves to the next non-blank record; false at the end of the input.</summary>
    public bool Next()
    {
        while (true)
        {
            _fields.Clear();
            _recordLength = 0;
            if (Peek() < 0) return false;
            Line = _line;
            ReadRecord();
            if (_fields.Count == 1 && Field(0).IsWhiteSpace()) continue;
            return true;
        }
    }

    private void ReadRecord()
    {
        while (true)
        {
            int start = _recordLength;
            int column = _fields.Count + 1;
            if (Peek() == '"') ReadQuoted(column);
            else
            {
                for (int c = Peek(); c >= 0 && c is not (',' or '\r' or '\n'); c = Peek())
                {
                    if (c == '"') throw Error(_line, column, "a quote inside an unquoted field (quote the whole field and double the quote)");
                    Append((char)Read(), column);
                }
            }
            _fields.Add((start, _recordLength - start));
            int end = Read();
            if (end == ',') continue;
            if (end == '\r' && Peek() == '\n') Read();
            if (end >= 0) _line++;
            return;
        }
    }

    private void ReadQuoted(int column)
    {
        int openedOn = _line;
        Read();
        while (true)
        {
            int c = Read();
            if (c < 0) throw Error(openedOn, column, "a quoted field is never closed");
            if (c == '"')
            {
                if (Peek() != '"') break;
                Read();
            }
            else if (c == '\n' || (c == '\r' && Peek() != '\n')) _line++;
            Append((char)c, column);
        }
        int next = Peek();
        if (next >= 0 && next is not (',' or '\r' or '\n'))
            throw Error(_line, column, $"unexpected '{(char)next}' after a closing quote");
    }

    private void Append(char c, int column)
    {
        if (_recordLength == _record.Length)
        {
            if (_record.Length >= MaxRecordChars) throw Error(Line, column, $"record longer than {MaxRecordChars} characters");
            Array.Resize(ref _record, _record.Length * 2);
        }
        _record[_recordLength++] = c;
    }

    private int Peek()
    {
        if (_pos == _len)
        {
            _len = reader.Read(_input, 0, _input.Length);
            _pos = 0;
            if (_len == 0) return -1;
        }
        return _input[_pos];
    }

    private int Read()
    {
        int c = Peek();
        if (c >= 0) _pos++;
        return c;
    }

    public static DataFormatException Error(int line, int column, string message) => new($"csv: line {line}, column {column}: {message}");

    public static string Quote(ReadOnlySpan<char> value)
    {
        var sb = new StringBuilder("'");
        sb.Append(value.Length > 40 ? $"{value[..40]}…" : value);
        return sb.Append('\'').ToString();
    }
}
