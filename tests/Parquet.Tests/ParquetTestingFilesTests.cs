using System.Globalization;
using Dreamer.Parquet.Tests.Support;

namespace Dreamer.Parquet.Tests;

/// <summary>Files written by other implementations (apache/parquet-testing) read with the values their docs or DuckDB give.</summary>
public class ParquetTestingFilesTests
{
    internal static readonly string Dir = Path.Combine(DuckDb.RepoRoot, "..", "shared", "parquet-testing");

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Dir, "*.parquet").Order()) data.Add(Path.GetFileName(f));
        return data;
    }

    // One DuckDB process for every file.
    private static readonly Lazy<Dictionary<string, DuckResult>> Expected = new(() =>
    {
        var files = Directory.GetFiles(Dir, "*.parquet").Order().ToArray();
        var sql = files.Select(f =>
        {
            using var r = ParquetReader.OpenFileAsync(f).GetAwaiter().GetResult();
            return PeerCheck.SelectSql(r.Schema, f);
        }).ToArray();
        var results = DuckDb.Run(sql);
        return files.Select((f, i) => (f, results[i])).ToDictionary(x => Path.GetFileName(x.f), x => x.Item2);
    });

    private static string PathOf(string name) => Path.Combine(Dir, name);

    [Fact]
    public void TheSharedFolderHoldsTheTestFiles() =>
        Assert.True(Directory.GetFiles(Dir, "*.parquet").Length >= 15, $"expected the parquet-testing files in {Dir}");

    [Theory]
    [MemberData(nameof(Files))]
    public async Task ReadsLikeDuckDb(string file)
    {
        var diffs = await PeerCheck.DiffAsync(PathOf(file), Expected.Value[file]);
        Assert.True(diffs.Count == 0, string.Join("\n", diffs));
    }

    [Fact]
    public async Task DeltaBinaryPackedMatchesTheExpectedCsv()
    {
        var lines = File.ReadAllLines(PathOf("delta_binary_packed_expect.csv"));
        var header = lines[0].Split(',');
        using var reader = await ParquetReader.OpenFileAsync(PathOf("delta_binary_packed.parquet"));
        var columns = await reader.ReadAllAsync(reader.Schema.Select(header));
        Assert.Equal(200, lines.Length - 1);
        for (int c = 0; c < header.Length; c++)
        {
            for (int r = 0; r < 200; r++)
            {
                string expected = lines[r + 1].Split(',')[c];
                string actual = columns[c].Values is int[] ints ? ints[r].ToString(CultureInfo.InvariantCulture) : columns[c].GetValues<long>()[r].ToString(CultureInfo.InvariantCulture);
                Assert.True(expected == actual, $"{header[c]} row {r}: expected {expected}, got {actual}");
            }
        }
    }

    [Fact]
    public async Task FixedLengthByteArrayMatchesItsDoc()
    {
        // fixed_length_byte_array.md: 1000 values, 105 nulls, min 0x00000001, max 0x000003E8, written in descending order.
        using var reader = await ParquetReader.OpenFileAsync(PathOf("fixed_length_byte_array.parquet"));
        var col = (await reader.ReadAllAsync())[0];
        Assert.Equal(1000, col.Count);
        Assert.Equal(4, col.FixedWidth);
        Assert.Equal(105, Enumerable.Range(0, 1000).Count(col.IsNull));
        var values = Enumerable.Range(0, 1000).Where(i => !col.IsNull(i)).Select(i => System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(col.GetBytes(i))).ToList();
        Assert.Equal(1, values.Min());
        Assert.Equal(1000, values.Max());
        Assert.Equal(values.OrderByDescending(v => v), values);
    }

    [Fact]
    public async Task Int32WithNullPagesMatchesItsDoc()
    {
        // int32_with_null_pages.md: 1000 values, 275 nulls, min -2136906554, max 2145722375; page 2 is all nulls (rows 200..299 hold 100 nulls).
        using var reader = await ParquetReader.OpenFileAsync(PathOf("int32_with_null_pages.parquet"));
        var col = (await reader.ReadAllAsync())[0];
        Assert.Equal(1000, col.Count);
        Assert.Equal(275, Enumerable.Range(0, 1000).Count(col.IsNull));
        var values = col.GetValues<int>().ToArray();
        var present = Enumerable.Range(0, 1000).Where(i => !col.IsNull(i)).Select(i => values[i]).ToList();
        Assert.Equal(-2136906554, present.Min());
        Assert.Equal(2145722375, present.Max());
    }

    [Fact]
    public async Task OldListStructureIsAListOfLists()
    {
        // old_list_structure.md: one row, LIST<LIST<INT32>> [[1, 2], [3, 4]] in the legacy 2-level layout.
        using var reader = await ParquetReader.OpenFileAsync(PathOf("old_list_structure.parquet"));
        var col = (await reader.ReadAllAsync())[0];
        Assert.Equal("[[1,2],[3,4]]", Canonical.Row(reader.Schema.Columns[0], col, 0));
    }

    [Fact]
    public async Task ProjectionAndRowGroupSelectionReadOnlyWhatIsAsked()
    {
        var path = PathOf("alltypes_plain.parquet");
        var counting = new CountingSource(new IO.FileSource(path));
        // No coalescing: the reads must be exactly the footer and the two projected chunks.
        using var reader = await ParquetReader.OpenAsync(counting, path, new ParquetReaderOptions { CoalesceGapBytes = -1 }, ownsSource: true);
        long afterFooter = counting.BytesRead;
        var cols = await reader.ReadRowGroupAsync(0, ["id", "string_col"]);
        Assert.Equal(2, cols.Count);
        Assert.Equal(8, cols[0].Count);
        long chunkBytes = new[] { "id", "string_col" }.Sum(n => reader.Metadata.RowGroups[0].Columns[reader.Schema.Column(n).Index].MetaData!.TotalCompressedSize);
        Assert.Equal(chunkBytes, counting.BytesRead - afterFooter);
        Assert.Equal(counting.Length <= 64 << 10 ? counting.Length : (64 << 10) + 4, afterFooter);
    }
}
