using Dreamer.Parquet.Tests.Support;

namespace Dreamer.Parquet.Tests;

/// <summary>Files DuckDB writes (several codecs, v1 and v2 pages, lists, structs, nulls) read with DuckDB's values.</summary>
public sealed class DuckDbWrittenFilesTests : IClassFixture<DuckDbWrittenFilesTests.Written>
{
    public static readonly (string Name, string Options)[] Variants =
    [
        ("zstd", "COMPRESSION zstd, ROW_GROUP_SIZE 2048"),
        ("snappy", "COMPRESSION snappy"),
        ("gzip", "COMPRESSION gzip, ROW_GROUP_SIZE 1000"),
        ("uncompressed", "COMPRESSION uncompressed"),
        // Format v2: DATA_PAGE_V2, DELTA_BINARY_PACKED / DELTA_LENGTH_BYTE_ARRAY, BYTE_STREAM_SPLIT.
        ("v2-zstd", "COMPRESSION zstd, PARQUET_VERSION v2"),
        ("v2-snappy", "COMPRESSION snappy, PARQUET_VERSION v2, ROW_GROUP_SIZE 3000"),
    ];

    private const string Table = """
        CREATE TABLE t AS SELECT
          i::INTEGER AS i32,
          CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1000003 END::BIGINT AS i64_opt,
          (i % 5)::TINYINT AS i8, (i % 300 - 150)::SMALLINT AS i16,
          (i * 13 % 256)::UTINYINT AS u8, (i * 7 % 65536)::USMALLINT AS u16, (i::UBIGINT * 797003 % 4294967296)::UINTEGER AS u32,
          (i::UBIGINT * 3000000000000003)::UBIGINT AS u64,
          (i / 7.0)::FLOAT AS f32,
          CASE WHEN i % 11 = 0 THEN 'nan'::DOUBLE WHEN i % 13 = 0 THEN NULL WHEN i % 17 = 0 THEN '-inf'::DOUBLE ELSE i / 3.0 END AS f64,
          'category-' || (i % 50) AS s_dict,
          CASE WHEN i % 3 = 0 THEN NULL ELSE md5(i::VARCHAR) || repeat('é', i % 4) END AS s_opt,
          md5(i::VARCHAR)::BLOB AS b,
          (i % 2 = 0) AS flag,
          CASE WHEN i % 5 = 0 THEN NULL ELSE i % 3 = 0 END AS flag_opt,
          TIMESTAMP '2024-01-01' + to_seconds(i * 37) AS ts,
          TIMESTAMPTZ '2001-02-03 04:05:06+00' + to_microseconds(i * 1234567) AS tstz,
          DATE '2020-01-01' + i::INTEGER AS d,
          CASE WHEN i % 9 = 0 THEN NULL ELSE list_slice([i, NULL, i + 1, i * 2], 1, i % 5) END::BIGINT[] AS list_i,
          CASE WHEN i % 6 = 0 THEN NULL WHEN i % 6 = 1 THEN [] ELSE ['a' || i, NULL, 'c'] END AS list_s,
          [[i], [], [i, i + 1]]::INTEGER[][] AS list_list,
          CASE WHEN i % 8 = 0 THEN NULL ELSE {'x': i, 'y': 'v' || i} END AS st,
          [i / 2.0, i / 4.0]::FLOAT[] AS vec
        FROM range(6000) r(i)
        """;

    public sealed class Written : IDisposable
    {
        public readonly TempDir Dir = new();
        public readonly Dictionary<string, DuckResult> Results = [];

        public Written()
        {
            var write = new List<string> { Table };
            foreach (var (name, options) in Variants)
                write.Add($"COPY t TO {DuckDb.Quote(Dir.File(name + ".parquet"))} (FORMAT parquet, {options})");
            DuckDb.Run(write);
            var read = Variants.Select(v =>
            {
                using var r = ParquetReader.OpenFileAsync(Dir.File(v.Name + ".parquet")).GetAwaiter().GetResult();
                return PeerCheck.SelectSql(r.Schema, Dir.File(v.Name + ".parquet"));
            }).ToList();
            var results = DuckDb.Run(read);
            for (int i = 0; i < Variants.Length; i++) Results[Variants[i].Name] = results[i];
        }

        public void Dispose() => Dir.Dispose();
    }

    private readonly Written _w;

    public DuckDbWrittenFilesTests(Written w) => _w = w;

    public static TheoryData<string> Names()
    {
        var d = new TheoryData<string>();
        foreach (var v in Variants) d.Add(v.Name);
        return d;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public async Task WeReadWhatDuckDbWrote(string name)
    {
        var path = _w.Dir.File(name + ".parquet");
        Assert.Equal(6000, _w.Results[name].Rows.Length);
        var diffs = await PeerCheck.DiffAsync(path, _w.Results[name]);
        Assert.True(diffs.Count == 0, string.Join("\n", diffs));
    }

    [Fact]
    public async Task TheV2FilesReallyUseV2PagesAndDeltaEncodings()
    {
        using var reader = await ParquetReader.OpenFileAsync(_w.Dir.File("v2-zstd.parquet"));
        var encodings = reader.Metadata.RowGroups.SelectMany(g => g.Columns).SelectMany(c => c.MetaData!.Encodings).ToHashSet();
        Assert.Contains(ParquetEncoding.DeltaBinaryPacked, encodings);
    }
}
