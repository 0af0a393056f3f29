using Dreamer.Parquet.IO;
using Dreamer.Parquet.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using TestData = Dreamer.Parquet.Tests.Support.TestData;

namespace Dreamer.Parquet.Tests;

/// <summary>Random schemas, values and writer settings round-trip through our writer and reader.</summary>
public class RoundTripPropertyTests
{
    public sealed record ColumnSpec(Kind Kind, bool Nullable, bool IsList, bool ListNullable, bool LowCardinality);

    public sealed record Case(ColumnSpec[] Columns, int Rows, int Seed, CompressionCodec Codec, bool Dictionary, int PageBytes, int RowGroupBytes, int Batches)
    {
        public int PageVersion { get; init; } = 1;
        public bool Delta { get; init; }
        public int Threads { get; init; } = 1;

        public override string ToString() =>
            $"rows={Rows} seed={Seed} codec={Codec} dict={Dictionary} page={PageBytes} rowgroup={RowGroupBytes} batches={Batches} " +
            $"v{PageVersion} delta={Delta} threads={Threads} columns=[{string.Join(", ", Columns.Select(c => c.ToString()))}]";
    }

    private static readonly Gen<bool> Bool = Gen.Elements(true, false);

    private static readonly Gen<ColumnSpec> ColumnGen =
        from kind in Gen.Elements(TestData.AllKinds)
        from nullable in Bool
        from isList in Gen.Frequency((3, Gen.Constant(false)), (1, Gen.Constant(true)))
        from listNullable in Bool
        from low in Bool
        select new ColumnSpec(kind, nullable, isList, listNullable, low);

    private static readonly Gen<Case> CaseGen =
        from columns in Gen.Choose(1, 6).SelectMany(n => ColumnGen.ArrayOf(n))
        from rows in Gen.Frequency((1, Gen.Constant(0)), (1, Gen.Choose(1, 5)), (6, Gen.Choose(6, 400)))
        from seed in Gen.Choose(0, int.MaxValue)
        from codec in Gen.Elements(CompressionCodec.Uncompressed, CompressionCodec.Snappy, CompressionCodec.Gzip, CompressionCodec.Zstd)
        from dict in Bool
        from page in Gen.Elements(64, 1024, 1 << 20)
        from rowGroup in Gen.Elements(2048, 64 << 10, 128 << 20)
        from batches in Gen.Choose(1, 3)
        from version in Gen.Elements(1, 2)
        from delta in Bool
        from threads in Gen.Elements(1, 2, 4)
        select new Case(columns, rows, seed, codec, dict, page, rowGroup, batches) { PageVersion = version, Delta = delta, Threads = threads };

    private static void RoundTrip(Case c)
    {
        var rnd = new Random(c.Seed);
        var fields = new List<ParquetField>();
        var data = new List<ColumnData>();
        for (int i = 0; i < c.Columns.Length; i++)
        {
            var s = c.Columns[i];
            var field = TestData.Field(s.Kind, $"c{i}", s.Nullable);
            if (s.IsList)
            {
                fields.Add(ParquetField.List($"c{i}", field, s.ListNullable));
                data.Add(TestData.List(s.Kind, rnd, c.Rows, s.ListNullable, s.Nullable, s.LowCardinality));
            }
            else
            {
                fields.Add(field);
                data.Add(TestData.Values(s.Kind, rnd, c.Rows, TestData.Validity(rnd, c.Rows, s.Nullable), s.LowCardinality));
            }
        }
        var schema = new ParquetSchema(fields);
        var columns = data.ToArray();
        var options = new ParquetWriterOptions
        {
            Compression = c.Codec, EnableDictionary = c.Dictionary, PageTargetBytes = c.PageBytes,
            RowGroupTargetBytes = c.RowGroupBytes, DictionaryPageSizeLimit = 512,
            DataPageVersion = c.PageVersion, DeltaEncodeIntegers = c.Delta, MaxDegreeOfParallelism = c.Threads,
        };
        using var ms = new MemoryStream();
        using (var w = new ParquetWriter(ms, schema, options, leaveOpen: true))
        {
            int step = Math.Max(1, (c.Rows + c.Batches - 1) / c.Batches);
            for (int r = 0; r < c.Rows; r += step) w.Write(WriterInteropTests.Slice(columns, r, Math.Min(c.Rows, r + step)));
        }
        using var reader = ParquetReader.OpenAsync(new MemorySource(ms.ToArray()), "property.parquet",
            new ParquetReaderOptions { MaxDegreeOfParallelism = c.Threads }).GetAwaiter().GetResult();
        var read = reader.ReadAllAsync().GetAwaiter().GetResult();
        if (reader.RowCount != c.Rows) throw new Exception($"{reader.RowCount} rows read, {c.Rows} written");
        for (int i = 0; i < columns.Length; i++)
        {
            var desc = schema.Columns[i];
            if (read[i].RowCount != c.Rows) throw new Exception($"{desc}: {read[i].RowCount} rows read, {c.Rows} written");
            for (int r = 0; r < c.Rows; r++)
            {
                string expected = Canonical.Row(desc, columns[i], r), actual = Canonical.Row(reader.Schema.Columns[i], read[i], r);
                if (expected != actual) throw new Exception($"{desc} row {r}: wrote {expected}, read {actual}");
            }
        }
    }

    [Fact]
    public void RandomSchemasRoundTrip() =>
        Prop.ForAll(CaseGen.ToArbitrary(), (Action<Case>)RoundTrip)
            .Check(Config.QuickThrowOnFailure.WithMaxTest(150).WithQuietOnSuccess(true));
}
