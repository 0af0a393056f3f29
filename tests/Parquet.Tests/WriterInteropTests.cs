using System.Buffers.Binary;
using Dreamer.Parquet.Tests.Support;

namespace Dreamer.Parquet.Tests;

/// <summary>
/// Files we write, for every type, codec, nulls and lists, read back identically by our reader
/// and by DuckDB. All variants are written first, then DuckDB reads them in one process.
/// </summary>
public sealed class WriterInteropTests : IClassFixture<WriterInteropTests.Written>
{
    public sealed record Variant(string Name, ParquetWriterOptions Options, int Rows, int Seed);

    /// <summary>The files, the batches they were written from, and DuckDB's reading of each.</summary>
    public sealed class Written : IDisposable
    {
        public readonly TempDir Dir = new();
        public readonly Dictionary<string, (ParquetSchema Schema, ColumnData[] Columns, DuckResult Duck)> Files = [];
        public readonly Dictionary<string, DuckResult> Extra = [];

        public static readonly Variant[] Variants =
        [
            new("uncompressed", new() { Compression = CompressionCodec.Uncompressed }, 2000, 1),
            new("snappy", new() { Compression = CompressionCodec.Snappy }, 2000, 2),
            new("gzip", new() { Compression = CompressionCodec.Gzip }, 2000, 3),
            new("zstd", new() { Compression = CompressionCodec.Zstd }, 2000, 4),
            new("plain-only", new() { Compression = CompressionCodec.Snappy, EnableDictionary = false }, 1500, 5),
            // Tiny pages and row groups: many pages per chunk, many row groups, dictionary fallback mid-chunk.
            new("small-pages", new() { Compression = CompressionCodec.Zstd, PageTargetBytes = 512, RowGroupTargetBytes = 48 << 10, DictionaryPageSizeLimit = 256 }, 5000, 6),
            new("empty", new() { Compression = CompressionCodec.Snappy }, 0, 7),
            new("one-row", new() { Compression = CompressionCodec.Gzip }, 1, 8),
            // Data pages v2 and DELTA_BINARY_PACKED integers (with dictionary fallback, and without dictionaries).
            new("v2-zstd", new() { Compression = CompressionCodec.Zstd, DataPageVersion = 2 }, 2000, 9),
            new("v2-delta-small-pages", new() { Compression = CompressionCodec.Snappy, DataPageVersion = 2, DeltaEncodeIntegers = true,
                PageTargetBytes = 512, RowGroupTargetBytes = 48 << 10, DictionaryPageSizeLimit = 256 }, 5000, 10),
            new("v1-delta-plain", new() { Compression = CompressionCodec.Uncompressed, DeltaEncodeIntegers = true, EnableDictionary = false }, 3000, 11),
            new("v2-uncompressed", new() { Compression = CompressionCodec.Uncompressed, DataPageVersion = 2, EnableDictionary = false }, 1000, 12),
        ];

        public Written()
        {
            var statements = new List<string>();
            var order = new List<string>();
            foreach (var v in Variants)
            {
                var (schema, columns) = Build(v.Rows, v.Seed);
                var path = Dir.File(v.Name + ".parquet");
                using (var fs = File.Create(path))
                using (var w = new ParquetWriter(fs, schema, v.Options))
                {
                    w.Metadata["dreamer.artifact"] = "art-" + v.Name;
                    w.Metadata["dreamer.schema_version"] = "3";
                    // Two batches: row groups and pages must continue across Write calls.
                    int half = v.Rows / 2;
                    w.Write(Slice(columns, 0, half));
                    w.Write(Slice(columns, half, v.Rows));
                }
                Files[v.Name] = (schema, columns, null!);
                statements.Add(PeerCheck.SelectSql(schema, path));
                order.Add(v.Name);
            }
            var snappy = Dir.File("snappy.parquet");
            statements.Add($"SELECT key::VARCHAR, value::VARCHAR FROM parquet_kv_metadata({DuckDb.Quote(snappy)}) ORDER BY 1");
            // Row-group pruning by min/max: wrong statistics would drop matching rows.
            var small = Dir.File("small-pages.parquet");
            foreach (var c in new[] { "int32_req", "int64_opt", "uint32_req", "uint64_opt", "double_req", "string_opt", "tsmicros_req", "float_opt" })
                statements.Add($"SELECT count(*)::BIGINT FROM read_parquet({DuckDb.Quote(small)}) WHERE {c} = (SELECT {c} FROM read_parquet({DuckDb.Quote(small)}) WHERE {c} IS NOT NULL AND {c} = {c} LIMIT 1 OFFSET 3000)");
            statements.Add($"SELECT count(*)::BIGINT, count(DISTINCT row_group_id)::BIGINT FROM parquet_metadata({DuckDb.Quote(small)})");
            var results = DuckDb.Run(statements);
            for (int i = 0; i < order.Count; i++) Files[order[i]] = Files[order[i]] with { Duck = results[i] };
            Extra["kv"] = results[order.Count];
            for (int i = order.Count + 1; i < results.Length; i++) Extra["q" + (i - order.Count - 1)] = results[i];
        }

        public void Dispose() => Dir.Dispose();
    }

    private readonly Written _w;

    public WriterInteropTests(Written w) => _w = w;

    /// <summary>Every kind required and optional, plus lists with required/optional lists and elements.</summary>
    public static (ParquetSchema, ColumnData[]) Build(int rows, int seed)
    {
        var rnd = new Random(seed);
        var fields = new List<ParquetField>();
        var columns = new List<ColumnData>();
        int i = 0;
        foreach (var k in TestData.AllKinds)
        {
            foreach (bool nullable in new[] { false, true })
            {
                string name = $"{k.ToString().ToLowerInvariant()}_{(nullable ? "opt" : "req")}";
                fields.Add(TestData.Field(k, name, nullable));
                // Alternate cardinality so dictionary and PLAIN pages both occur for every kind.
                columns.Add(TestData.Values(k, rnd, rows, TestData.Validity(rnd, rows, nullable), lowCardinality: i++ % 2 == 0));
            }
        }
        foreach (var (k, listNull, elemNull) in new[] { (Kind.Float, false, false), (Kind.Float, true, true), (Kind.String, true, false), (Kind.Int64, false, true), (Kind.Bool, true, true), (Kind.Fixed16, false, true), (Kind.Float16, true, true) })
        {
            fields.Add(ParquetField.List($"list_{k.ToString().ToLowerInvariant()}_{(listNull ? "opt" : "req")}_{(elemNull ? "opt" : "req")}", TestData.Field(k, "x", elemNull), listNull));
            columns.Add(TestData.List(k, rnd, rows, listNull, elemNull, lowCardinality: i++ % 2 == 0));
        }
        return (new ParquetSchema(fields), [.. columns]);
    }

    /// <summary>Rows [from, to) of every column, as new batches.</summary>
    public static ColumnData[] Slice(ColumnData[] columns, int from, int to) => [.. columns.Select(c => SliceOne(c, from, to))];

    private static ColumnData SliceOne(ColumnData c, int from, int to)
    {
        if (c.Lists.Count == 1)
        {
            var level = c.Lists[0];
            int s0 = level.Offsets[from], s1 = level.Offsets[to];
            var inner = SliceFlat(c, s0, s1);
            var offsets = level.Offsets[from..(to + 1)].Select(o => o - s0).ToArray();
            return ColumnData.List(inner, offsets, level.Validity?[from..to]);
        }
        return SliceFlat(c, from, to);
    }

    private static ColumnData SliceFlat(ColumnData c, int from, int to)
    {
        var validity = c.Validity?[from..to];
        if (c.Values != null)
        {
            var arr = Array.CreateInstance(c.Values.GetType().GetElementType()!, to - from);
            Array.Copy(c.Values, from, arr, 0, to - from);
            return arr switch
            {
                bool[] a => ColumnData.Primitive(a, validity),
                int[] a => ColumnData.Primitive(a, validity),
                uint[] a => ColumnData.Primitive(a, validity),
                long[] a => ColumnData.Primitive(a, validity),
                ulong[] a => ColumnData.Primitive(a, validity),
                float[] a => ColumnData.Primitive(a, validity),
                double[] a => ColumnData.Primitive(a, validity),
                Half[] a => ColumnData.Primitive(a, validity),
                _ => throw new NotSupportedException(),
            };
        }
        if (c.Offsets != null)
        {
            int b0 = c.Offsets[from];
            return ColumnData.Binary(c.Bytes![b0..c.Offsets[to]], [.. c.Offsets[from..(to + 1)].Select(o => o - b0)], validity);
        }
        return ColumnData.Fixed(c.Bytes![(from * c.FixedWidth)..(to * c.FixedWidth)], c.FixedWidth, validity);
    }

    public static TheoryData<string> VariantNames()
    {
        var d = new TheoryData<string>();
        foreach (var v in Written.Variants) d.Add(v.Name);
        return d;
    }

    /// <summary>The rows we meant to write, canonical, column by column.</summary>
    private static List<string> Diff(ParquetSchema schema, ColumnData[] expected, Func<int, int, string> actual, int rows, string who)
    {
        var diffs = new List<string>();
        for (int c = 0; c < expected.Length && diffs.Count < 20; c++)
            for (int r = 0; r < rows && diffs.Count < 20; r++)
            {
                string e = Canonical.Row(schema.Columns[c], expected[c], r);
                string a = actual(c, r);
                if (e != a) diffs.Add($"{schema.Columns[c]} row {r}: wrote {e}, {who} read {a}");
            }
        return diffs;
    }

    [Theory]
    [MemberData(nameof(VariantNames))]
    public void DuckDbReadsWhatWeWrote(string variant)
    {
        var (schema, columns, duck) = _w.Files[variant];
        int rows = columns[0].RowCount;
        Assert.Equal(rows, duck.Rows.Length);
        var diffs = Diff(schema, columns, (c, r) => Canonical.FromJson(duck.Rows[r][c]), rows, "DuckDB");
        Assert.True(diffs.Count == 0, string.Join("\n", diffs));
    }

    [Theory]
    [MemberData(nameof(VariantNames))]
    public async Task OurReaderReadsWhatWeWrote(string variant)
    {
        var (schema, columns, _) = _w.Files[variant];
        using var reader = await ParquetReader.OpenFileAsync(_w.Dir.File(variant + ".parquet"));
        var read = await reader.ReadAllAsync();
        int rows = columns[0].RowCount;
        Assert.Equal(rows, reader.RowCount);
        var diffs = Diff(schema, columns, (c, r) => Canonical.Row(reader.Schema.Columns[c], read[c], r), rows, "our reader");
        Assert.True(diffs.Count == 0, string.Join("\n", diffs));
    }

    [Fact]
    public void DuckDbSeesTheKeyValueMetadata()
    {
        var rows = _w.Extra["kv"].Rows.Select(r => $"{r[0]}={r[1]}").ToArray();
        Assert.Equal(["dreamer.artifact=art-snappy", "dreamer.schema_version=3"], rows);
    }

    [Fact]
    public void StatisticsDoNotMakeDuckDbPruneMatchingRowGroups()
    {
        var (schema, columns, _) = _w.Files["small-pages"];
        var names = new[] { "int32_req", "int64_opt", "uint32_req", "uint64_opt", "double_req", "string_opt", "tsmicros_req", "float_opt" };
        for (int q = 0; q < names.Length; q++)
        {
            var c = schema.Column(names[q]);
            var data = columns[c.Index];
            // The value DuckDB picked: the 3001st non-null, non-NaN value in file order.
            var candidates = Enumerable.Range(0, data.Count).Where(i => !data.IsNull(i)).Select(i => Canonical.Scalar(c, data, i)).Where(s => s != "NaN").ToList();
            string picked = candidates[3000];
            long expected = candidates.Count(s => s == picked || (picked is "0" or "-0" && s is "0" or "-0"));
            long counted = long.Parse(_w.Extra["q" + q].Rows[0][0]!.GetValue<string>());
            Assert.True(expected == counted, $"{names[q]} = {picked}: DuckDB counted {counted}, the file has {expected}");
        }
        var groups = _w.Extra["q" + names.Length].Rows[0];
        Assert.True(long.Parse(groups[1]!.GetValue<string>()) > 3, "small-pages should span several row groups");
    }

    [Fact]
    public async Task StatisticsAndColumnOrdersAreWritten()
    {
        var (schema, columns, _) = _w.Files["zstd"];
        using var reader = await ParquetReader.OpenFileAsync(_w.Dir.File("zstd.parquet"));
        Assert.Equal(schema.Columns.Count, reader.Metadata.ColumnOrdersTypeDefined!.Count);
        var c = schema.Column("int64_opt");
        var data = columns[c.Index];
        var values = data.GetValues<long>().ToArray();
        var present = Enumerable.Range(0, data.Count).Where(i => !data.IsNull(i)).Select(i => values[i]).ToList();
        var stats = reader.Metadata.RowGroups[0].Columns[c.Index].MetaData!.Statistics!;
        Assert.Equal(data.Count - present.Count, stats.NullCount);
        Assert.Equal(present.Min(), BinaryPrimitives.ReadInt64LittleEndian(stats.MinValue));
        Assert.Equal(present.Max(), BinaryPrimitives.ReadInt64LittleEndian(stats.MaxValue));
        var u = schema.Column("uint32_req");
        var ustats = reader.Metadata.RowGroups[0].Columns[u.Index].MetaData!.Statistics!;
        // Unsigned order: the minimum is compared as uint, not int.
        Assert.Equal(columns[u.Index].GetValues<uint>().ToArray().Min(), BinaryPrimitives.ReadUInt32LittleEndian(ustats.MinValue));
        foreach (var name in new[] { "double_req", "double_opt" })
        {
            var f = schema.Column(name);
            var fdata = columns[f.Index];
            var fvalues = fdata.GetValues<double>().ToArray();
            var finite = Enumerable.Range(0, fdata.Count).Where(i => !fdata.IsNull(i) && !double.IsNaN(fvalues[i])).Select(i => fvalues[i]).ToList();
            var fstats = reader.Metadata.RowGroups[0].Columns[f.Index].MetaData!.Statistics!;
            // NaN is excluded; a zero bound is written as -0 (min) / +0 (max).
            double min = finite.Min(), max = finite.Max();
            Assert.Equal(Canonical.Double(min == 0 ? -0.0 : min), Canonical.Double(BinaryPrimitives.ReadDoubleLittleEndian(fstats.MinValue)));
            Assert.Equal(Canonical.Double(max == 0 ? 0.0 : max), Canonical.Double(BinaryPrimitives.ReadDoubleLittleEndian(fstats.MaxValue)));
        }
    }

    [Theory]
    [InlineData("v2-delta-small-pages", PageType.DataPageV2, true)]
    [InlineData("v1-delta-plain", PageType.DataPage, true)]
    [InlineData("v2-zstd", PageType.DataPageV2, false)]
    public async Task PageVersionAndDeltaEncodingAreWhatWasAskedFor(string variant, PageType pageType, bool delta)
    {
        var path = _w.Dir.File(variant + ".parquet");
        var bytes = await File.ReadAllBytesAsync(path);
        using var reader = await ParquetReader.OpenFileAsync(path);
        var deltaColumns = new HashSet<string>();
        foreach (var rg in reader.Metadata.RowGroups)
            foreach (var chunk in rg.Columns)
            {
                var m = chunk.MetaData!;
                var header = Format.PageHeader.Read(new Thrift.CompactReader(bytes, (int)m.DataPageOffset, bytes.Length, 0, path));
                Assert.Equal(pageType, header.Type);
                if (m.Encodings.Contains(ParquetEncoding.DeltaBinaryPacked))
                {
                    Assert.True(delta && m.Type is PhysicalType.Int32 or PhysicalType.Int64, $"{string.Join('.', m.PathInSchema)}: {string.Join(",", m.Encodings)}");
                    deltaColumns.Add(m.PathInSchema[0]);
                }
            }
        // High-cardinality integer columns fall back from the dictionary (or never had one): those pages are DELTA.
        if (delta) Assert.Contains("int32_opt", deltaColumns);
        if (delta) Assert.Contains("int64_opt", deltaColumns);
    }

    [Fact]
    public async Task RowGroupsAndPagesFollowTheTargets()
    {
        using var reader = await ParquetReader.OpenFileAsync(_w.Dir.File("small-pages.parquet"));
        Assert.True(reader.RowGroupCount > 3);
        foreach (var rg in reader.Metadata.RowGroups)
            Assert.True(rg.TotalByteSize < (48 << 10) * 2, $"row group of {rg.TotalByteSize} bytes for a 48 KiB target");
        Assert.Equal(5000, reader.Metadata.RowGroups.Sum(g => g.NumRows));
        var md = reader.Metadata.RowGroups[0].Columns[reader.Schema.Column("string_opt").Index].MetaData!;
        Assert.Contains(ParquetEncoding.RleDictionary, md.Encodings);
    }
}
