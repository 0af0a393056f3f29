using System.Text;
using System.Text.Json.Nodes;
using Dreamer.Parquet.IO;
using Dreamer.Parquet.Tests.Support;

namespace Dreamer.Parquet.Tests;

/// <summary>The JSON rows of `dreamer parquet cat` and the description of `dreamer parquet schema`.</summary>
public class ParquetJsonTests
{
    private static async Task<(ParquetReader Reader, IReadOnlyList<string> Rows)> RoundTrip(ParquetSchema schema, params ColumnData[] columns)
    {
        var ms = new MemoryStream();
        using (var w = new ParquetWriter(ms, schema, new ParquetWriterOptions { Compression = CompressionCodec.Zstd }, leaveOpen: true))
        {
            w.Metadata["dreamer.artifact"] = "art-1";
            w.Write(columns);
        }
        var reader = await ParquetReader.OpenAsync(new MemorySource(ms.ToArray()), "mem.parquet");
        var batches = await reader.ReadAllAsync();
        return (reader, ParquetJson.FormatRows(reader.Schema, reader.Schema.Columns, batches));
    }

    [Fact]
    public async Task ScalarsFollowTheirLogicalTypes()
    {
        var schema = new ParquetSchema(
            ParquetField.Int32("i32"),
            ParquetField.Int64("i64", nullable: true),
            ParquetField.UnsignedInteger("u32", 32),
            ParquetField.UnsignedInteger("u64", 64),
            ParquetField.Boolean("flag"),
            ParquetField.Float("f", nullable: true),
            ParquetField.Double("d"),
            ParquetField.String("s", nullable: true),
            ParquetField.Binary("bin"),
            ParquetField.FixedBinary("fixed", 3),
            ParquetField.Float16("h", nullable: true),
            ParquetField.Timestamp("ts_ms", TimeUnit.Millis),
            ParquetField.Timestamp("ts_us_local", TimeUnit.Micros, utc: false));
        var (reader, rows) = await RoundTrip(schema,
            ColumnData.Primitive([1, -2, int.MaxValue, 0]),
            ColumnData.Primitive([long.MinValue, 0, 9_007_199_254_740_993L, 5], [true, false, true, true]),
            ColumnData.Primitive([uint.MaxValue, 0u, 7u, 1u]),
            ColumnData.Primitive([ulong.MaxValue, 0ul, 1ul, 2ul]),
            ColumnData.Primitive([true, false, true, false]),
            ColumnData.Primitive([float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0.1f], [true, true, true, true]),
            ColumnData.Primitive([0.1, -0.0, 1e300, -2.5]),
            ColumnData.Strings(["plain", "quote \" backslash \\ newline \n tab \t", null, "ünïcødé ✓"]),
            ColumnData.Binary([[0, 1, 2], [], [255], [104, 105]]),
            ColumnData.Fixed([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 3),
            ColumnData.Primitive([(Half)1.5, Half.NaN, (Half)(-2), Half.PositiveInfinity], [true, true, false, true]),
            ColumnData.Primitive([0L, 1_700_000_000_123L, -1L, 86_400_000L]),
            ColumnData.Primitive([0L, 1_700_000_000_123_456L, -1L, 1L]));
        using var _ = reader;
        Assert.Equal(
            """{"i32":1,"i64":-9223372036854775808,"u32":4294967295,"u64":18446744073709551615,"flag":true,"f":"NaN","d":0.1,"s":"plain","bin":"AAEC","fixed":"AQID","h":1.5,"ts_ms":"1970-01-01T00:00:00.000Z","ts_us_local":"1970-01-01T00:00:00.000000"}""",
            rows[0]);
        Assert.Equal(
            """{"i32":-2,"i64":null,"u32":0,"u64":0,"flag":false,"f":"Infinity","d":-0,"s":"quote \" backslash \\ newline \n tab \t","bin":"","fixed":"BAUG","h":"NaN","ts_ms":"2023-11-14T22:13:20.123Z","ts_us_local":"2023-11-14T22:13:20.123456"}""",
            rows[1]);
        Assert.Equal(
            """{"i32":2147483647,"i64":9007199254740993,"u32":7,"u64":1,"flag":true,"f":"-Infinity","d":1E+300,"s":null,"bin":"/w==","fixed":"BwgJ","h":null,"ts_ms":"1969-12-31T23:59:59.999Z","ts_us_local":"1969-12-31T23:59:59.999999"}""",
            rows[2]);
        Assert.Equal(
            """{"i32":0,"i64":5,"u32":1,"u64":2,"flag":false,"f":0.1,"d":-2.5,"s":"ünïcødé ✓","bin":"aGk=","fixed":"CgsM","h":"Infinity","ts_ms":"1970-01-02T00:00:00.000Z","ts_us_local":"1970-01-01T00:00:00.000001"}""",
            rows[3]);
        // Every line is valid JSON.
        foreach (var row in rows) Assert.NotNull(JsonNode.Parse(row));
    }

    [Fact]
    public async Task ListsAreArraysAndNullListsAreNull()
    {
        var schema = new ParquetSchema(
            ParquetField.Int32("id"),
            ParquetField.List("xs", ParquetField.Int64("element", nullable: true), nullable: true),
            ParquetField.List("names", ParquetField.String("element")));
        var xs = ColumnData.List(ColumnData.Primitive([1L, 0, 3, 4], [true, false, true, true]), [0, 3, 3, 3, 4], [true, true, false, true]);
        var names = ColumnData.List(ColumnData.Strings(["a", "b", "c"]), [0, 0, 1, 3, 3]);
        var (reader, rows) = await RoundTrip(schema, ColumnData.Primitive([1, 2, 3, 4]), xs, names);
        using var _ = reader;
        Assert.Equal(
        [
            """{"id":1,"xs":[1,null,3],"names":[]}""",
            """{"id":2,"xs":[],"names":["a"]}""",
            """{"id":3,"xs":null,"names":["b","c"]}""",
            """{"id":4,"xs":[4],"names":[]}""",
        ], rows);
    }

    [Fact]
    public void DecimalsDatesAndTimesWithoutAWriter()
    {
        var dec = new ParquetField("price", Repetition.Required, PhysicalType.Int64, 0, new LogicalType(LogicalTypeKind.Decimal) { Scale = 2, Precision = 12 });
        var decBytes = new ParquetField("big", Repetition.Required, PhysicalType.FixedLenByteArray, 4, new LogicalType(LogicalTypeKind.Decimal) { Scale = 3, Precision = 9 });
        var date = new ParquetField("day", Repetition.Required, PhysicalType.Int32, 0, new LogicalType(LogicalTypeKind.Date));
        var time = new ParquetField("at", Repetition.Required, PhysicalType.Int64, 0, new LogicalType(LogicalTypeKind.Time) { Unit = TimeUnit.Micros });
        var uuid = new ParquetField("id", Repetition.Required, PhysicalType.FixedLenByteArray, 16, new LogicalType(LogicalTypeKind.Uuid));
        var schema = new ParquetSchema(dec, decBytes, date, time, uuid);
        var guid = Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e");
        var rows = ParquetJson.FormatRows(schema, schema.Columns,
        [
            ColumnData.Primitive([12345L, -5L]),
            ColumnData.Fixed([0xFF, 0xFF, 0xFF, 0xFE, 0x00, 0x00, 0x30, 0x39], 4),
            ColumnData.Primitive([19_000, -1]),
            ColumnData.Primitive([3_723_000_001L, 0L]),
            ColumnData.Fixed([.. guid.ToByteArray(bigEndian: true), .. guid.ToByteArray(bigEndian: true)], 16),
        ]);
        Assert.Equal("""{"price":123.45,"big":-0.002,"day":"2022-01-08","at":"01:02:03.000001","id":"0f8fad5b-d9cb-469f-a165-70867728950e"}""", rows[0]);
        Assert.Equal("""{"price":-0.05,"big":12.345,"day":"1969-12-31","at":"00:00:00","id":"0f8fad5b-d9cb-469f-a165-70867728950e"}""", rows[1]);
    }

    [Fact]
    public async Task FilesFromOtherWritersFormatLikeDuckDbSeesThem()
    {
        // old_list_structure.md: one row, [[1, 2], [3, 4]] in the legacy 2-level layout; nulls.snappy: a struct of nulls.
        using var old = await ParquetReader.OpenFileAsync(Path.Combine(ParquetTestingFilesTests.Dir, "old_list_structure.parquet"));
        Assert.Equal("""{"a":[[1,2],[3,4]]}""", ParquetJson.FormatRows(old.Schema, old.Schema.Columns, await old.ReadAllAsync()).Single());
        using var nulls = await ParquetReader.OpenFileAsync(Path.Combine(ParquetTestingFilesTests.Dir, "nulls.snappy.parquet"));
        Assert.All(ParquetJson.FormatRows(nulls.Schema, nulls.Schema.Columns, await nulls.ReadAllAsync()),
            r => Assert.Equal("""{"b_struct":{"b_c_int":null}}""", r));
    }

    [Fact]
    public async Task WriteRowsStopsAtTheLimitAndReadsOnlyTheRowGroupsItNeeds()
    {
        var schema = new ParquetSchema(ParquetField.Int64("n"), ParquetField.String("s"));
        int rows = 20_000;
        var ms = new MemoryStream();
        using (var w = new ParquetWriter(ms, schema, new ParquetWriterOptions { RowGroupTargetBytes = 64 << 10 }, leaveOpen: true))
            w.Write(ColumnData.Primitive(Enumerable.Range(0, rows).Select(i => (long)i).ToArray()),
                ColumnData.Strings(Enumerable.Range(0, rows).Select(i => "v" + i).ToArray()));
        var counting = new CountingSource(new MemorySource(ms.ToArray()));
        using var reader = await ParquetReader.OpenAsync(counting, "limit.parquet");
        Assert.True(reader.RowGroupCount > 4);
        long footer = counting.BytesRead;
        var output = new MemoryStream();
        long n = await ParquetJson.WriteRowsAsync(reader, output, reader.Schema.Select(["s"]), limit: 5);
        Assert.Equal(5, n);
        var lines = Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["""{"s":"v0"}""", """{"s":"v1"}""", """{"s":"v2"}""", """{"s":"v3"}""", """{"s":"v4"}"""], lines);
        // Only the first row group's "s" chunk was fetched after the footer.
        Assert.Equal(reader.Metadata.RowGroups[0].Columns[1].MetaData!.TotalCompressedSize, counting.BytesRead - footer);

        output.SetLength(0);
        Assert.Equal(rows, await ParquetJson.WriteRowsAsync(reader, output));
        lines = Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(rows, lines.Length);
        Assert.Equal("""{"n":19999,"s":"v19999"}""", lines[^1]);
        Assert.Equal(0, await ParquetJson.WriteRowsAsync(reader, output, limit: 0));
    }

    [Fact]
    public async Task DescribeShowsSchemaRowGroupsCodecsAndMetadata()
    {
        var schema = new ParquetSchema(ParquetField.String("episode_id"), ParquetField.FixedBinary("image", 16),
            ParquetField.List("xs", ParquetField.Float("element")), ParquetField.UnsignedInteger("u", 16, nullable: true));
        var (reader, _) = await RoundTrip(schema,
            ColumnData.Strings(["a", "b"]), ColumnData.Fixed(new byte[32], 16),
            ColumnData.List(ColumnData.Primitive([1f, 2f]), [0, 1, 2]), ColumnData.Primitive([1, 2], [true, false]));
        using var _ = reader;
        var text = ParquetInspect.Describe(reader);
        Assert.Contains("file: mem.parquet", text);
        Assert.Contains("rows: 2", text);
        Assert.Contains("row groups: 1", text);
        Assert.Contains("codecs: ZSTD", text);
        Assert.Contains("required binary episode_id (STRING);", text);
        Assert.Contains("required fixed_len_byte_array(16) image;", text);
        Assert.Contains("required group xs (LIST) {", text);
        Assert.Contains("repeated group list {", text);
        Assert.Contains("required float element;", text);
        Assert.Contains("optional int32 u (INTEGER(16,false));", text);
        Assert.Contains("xs.list.element", text);
        Assert.Contains("dreamer.artifact = art-1", text);
    }
}
