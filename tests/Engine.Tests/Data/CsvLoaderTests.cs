using System.Text;
using Engine.Data;

namespace Engine.Tests.DataLoading; // not Engine.Tests.Data: that would shadow Engine.Data for "Data.X" in sibling test namespaces

public class CsvLoaderTests
{
    private static Dataset Load(string text, CsvOptions? options = null) =>
        CsvLoader.Load(new MemoryStream(Encoding.UTF8.GetBytes(text)), options ?? new CsvOptions());

    private static string Fails(string text, CsvOptions? options = null) =>
        Assert.Throws<DataFormatException>(() => Load(text, options)).Message;

    [Fact]
    public void HeaderIsDetectedAndLastColumnIsTheClassLabel()
    {
        var d = Load("a,b,label\n1,2,0\n3.5,-4e1,2\r\n5,6,1\n");
        Assert.Equal(3, d.Count);
        Assert.Equal([2], d.SampleShape);
        Assert.Equal([1f, 2f, 3.5f, -40f, 5f, 6f], d.Features);
        Assert.Equal([0, 2, 1], d.Labels!);
        Assert.Equal(3, d.Classes);
        Assert.Null(d.Targets!);
    }

    [Fact]
    public void ASeekableStreamIsReadFromItsPositionAndGivesTheSameDataAsAForwardOnlyOne()
    {
        // 3000 rows: more than the forward-only path's first 1024-value array, so it grows; the seekable one is sized from its lines.
        var text = "\uFEFFx,y,label\n" + string.Concat(Enumerable.Range(0, 3000).Select(i => $"{i},{-i * 0.5},{i % 3}\n"));
        var bytes = Encoding.UTF8.GetBytes("skip" + text);
        var seekable = new MemoryStream(bytes) { Position = 4 };
        var counted = CsvLoader.Load(seekable, new CsvOptions());
        var streamed = CsvLoader.Load(new ForwardOnly(bytes.AsMemory(4).ToArray()), new CsvOptions());
        foreach (var d in new[] { counted, streamed })
        {
            Assert.Equal(3000, d.Count);
            Assert.Equal(6000, d.Features.Length);
            Assert.Equal([2999f, -1499.5f], d.Features[^2..]);
            Assert.Equal(3000, d.Labels!.Length);
            Assert.Equal(2, d.Labels[^1]);
        }
        Assert.Equal(counted.Features, streamed.Features);
    }

    [Theory]
    [InlineData("1,2,0\n\n\n3,4,1\n\n")] // blank lines: more lines than records, the arrays are trimmed
    [InlineData("\"1\n\",2,0\n3,4,1")] // a quoted line break, no final one
    [InlineData("1,2,0\r3,4,1\n5,6,2\r\n")] // CR, LF and CRLF mixed: fewer lines counted than records, the arrays grow
    public void LineCountsThatMissTheRecordCountStillGiveExactArrays(string text)
    {
        var d = Load(text);
        int count = text.StartsWith("1,2,0\r", StringComparison.Ordinal) ? 3 : 2;
        Assert.Equal(count, d.Count);
        Assert.Equal(2 * count, d.Features.Length);
        Assert.Equal(count, d.Labels!.Length);
        Assert.Equal([3f, 4f], d.Features[2..4]);
        Assert.Equal(1, d.Labels[1]);
    }

    private sealed class ForwardOnly(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }

    [Fact]
    public void WithoutHeaderTheFirstRowIsData()
    {
        var d = Load("1,2,1\n3,4,0");
        Assert.Equal(2, d.Count);
        Assert.Equal([1, 0], d.Labels!);
    }

    [Fact]
    public void ForcedHeaderSkipsANumericFirstRow()
    {
        var d = Load("1,2,3\n4,5,1\n", new CsvOptions(HasHeader: true));
        Assert.Equal(1, d.Count);
        Assert.Equal([4f, 5f], d.Features);
    }

    [Fact]
    public void LabelColumnByNameOrIndex()
    {
        const string text = "y,x1,x2\n1,10,20\n0,30,40\n";
        var byName = Load(text, new CsvOptions("y"));
        Assert.Equal([1, 0], byName.Labels!);
        Assert.Equal([10f, 20f, 30f, 40f], byName.Features);
        Assert.Equal(byName.Features, Load(text, new CsvOptions("Y")).Features);
        var byIndex = Load("1,10,20\n0,30,40\n", new CsvOptions("0"));
        Assert.Equal([1, 0], byIndex.Labels!);
        Assert.Equal([10f, 20f, 30f, 40f], byIndex.Features);
    }

    [Fact]
    public void FractionalNegativeOrHugeLabelsBecomeRegressionTargets()
    {
        var d = Load("x,y\n1,0.5\n2,1.5\n");
        Assert.Null(d.Labels!);
        Assert.Equal([0.5f, 1.5f], d.Targets!);
        Assert.Equal(0, d.Classes);
        Assert.Null(Load("x,y\n1,-1\n2,1\n").Labels);
        Assert.Null(Load("x,y\n1,250000\n2,1\n").Labels);
    }

    [Fact]
    public void RegressionOptionForcesTargetsForIntegerLabels()
    {
        var d = Load("x,y\n1,3\n2,4\n", new CsvOptions(Regression: true));
        Assert.Equal([3f, 4f], d.Targets!);
        Assert.Equal(1, d.TargetWidth);
    }

    [Fact]
    public void QuotedFieldsWithEscapesAndLineBreaksAreRead()
    {
        var d = Load("\"a, b\",\"say \"\"y\"\"\",\"l\nabel\"\n\" 1 \",2,1\n3,\"4\",0\n");
        Assert.Equal([1f, 2f, 3f, 4f], d.Features);
        Assert.Equal([1, 0], d.Labels!);
    }

    [Fact]
    public void BlankLinesAndABomAreIgnored()
    {
        var bytes = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes("a,b\n\n1,0\r\n\r\n2,1\n\n")).ToArray();
        var d = CsvLoader.Load(new MemoryStream(bytes), new CsvOptions());
        Assert.Equal([1f, 2f], d.Features);
    }

    [Fact]
    public void BadNumberNamesLineAndColumn()
    {
        string m = Fails("a,b,c\n1,2,0\n1,x,0\n");
        Assert.Contains("line 3", m);
        Assert.Contains("column 2 ('b')", m);
        Assert.Contains("'x' is not a number", m);
        Assert.Contains("line 2, column 1: empty value", Fails("1,2\n,3\n"));
        Assert.Contains("line 1, column 2: 'NaN' is not a number", Fails("1,NaN\n", new CsvOptions(HasHeader: false)));
        Assert.Contains("line 2, column 1: '1e39' is outside the float32 range", Fails("1,2\n1e39,3\n"));
        Assert.Contains("line 2, column 2: '-1e39' is outside the float32 range", Fails("1,2\n1,-1e39\n"));
    }

    [Fact]
    public void LineNumbersCountLineBreaksInsideQuotes()
    {
        Assert.Contains("line 4", Fails("a,b\n\"1\n\",2\nz,1\n"));
    }

    [Fact]
    public void RaggedRowIsReportedWithItsLine()
    {
        Assert.Equal("csv: line 3: has 2 fields, expected 3 (as on line 1)", Fails("a,b,c\n1,2,3\n4,5\n"));
    }

    [Theory]
    [InlineData("", "no records")]
    [InlineData("\n\n", "no records")]
    [InlineData("a,b\n", "no data rows after the header on line 1")]
    [InlineData("a\n1\n", "at least two columns")]
    [InlineData("a,b\n\"1,2\n", "line 2, column 1: a quoted field is never closed")]
    [InlineData("a,b\n\"1\"x,2\n", "line 2, column 1: unexpected 'x' after a closing quote")]
    [InlineData("a,b\n1\"2,3\n", "line 2, column 1: a quote inside an unquoted field")]
    public void MalformedFilesFailWithWhatAndWhere(string text, string expected)
    {
        Assert.Contains(expected, Fails(text));
    }

    [Fact]
    public void UnknownLabelColumnIsReported()
    {
        Assert.Contains("label column 'z' is not in the header (a, b)", Fails("a,b\n1,0\n", new CsvOptions("z")));
        Assert.Contains("label column index 5 is outside the 2 columns", Fails("a,b\n1,0\n", new CsvOptions("5")));
        Assert.Contains("no header", Fails("1,0\n", new CsvOptions("name")));
    }

    [Fact]
    public void InvalidUtf8IsAFormatError()
    {
        var bytes = Encoding.UTF8.GetBytes("a,b\n1,0\n").Concat(new byte[] { 0xff, 0xfe, 0x31, 0x0a }).ToArray();
        var e = Assert.Throws<DataFormatException>(() => CsvLoader.Load(new MemoryStream(bytes), new CsvOptions()));
        Assert.Contains("UTF-8", e.Message);
    }

    [Fact]
    public void RandomGarbageOnlyEverThrowsDataFormatException()
    {
        var rng = new Random(7);
        const string alphabet = "0123456789,.-e\"\n\r ax";
        for (int trial = 0; trial < 2000; trial++)
        {
            var chars = new char[rng.Next(0, 40)];
            for (int i = 0; i < chars.Length; i++) chars[i] = alphabet[rng.Next(alphabet.Length)];
            try
            {
                var d = Load(new string(chars));
                Assert.True(d.Count > 0);
            }
            catch (DataFormatException)
            {
            }
        }
    }
}
