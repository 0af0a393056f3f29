namespace Dreamer.Parquet.Tests.Support;

/// <summary>Compares what our reader returns for a file with what DuckDB returns for the same file.</summary>
public static class PeerCheck
{
    /// <summary>
    /// One DuckDB expression per leaf column: struct leaves are extracted field by field; a leaf
    /// under lists is compared through its top-level list column (lists of primitives).
    /// </summary>
    public static string SelectSql(ParquetSchema schema, string path)
    {
        var exprs = schema.Columns.Select(c =>
        {
            if (c.MaxRepetitionLevel > 0) return Ident(c.Path[0]);
            string e = Ident(c.Path[0]);
            for (int i = 1; i < c.Path.Count; i++) e = $"struct_extract({e}, {DuckDb.Quote(c.Path[i])})";
            return e;
        });
        return $"SELECT {string.Join(", ", exprs)} FROM read_parquet({DuckDb.Quote(path)})";
    }

    private static string Ident(string name) => "\"" + name.Replace("\"", "\"\"") + "\"";

    /// <summary>All differences between our values and DuckDB's (empty when identical).</summary>
    public static async Task<List<string>> DiffAsync(string path, DuckResult duck)
    {
        using var reader = await ParquetReader.OpenFileAsync(path);
        var columns = await reader.ReadAllAsync();
        var diffs = new List<string>();
        if (duck.Rows.Length != reader.RowCount) diffs.Add($"row count: DuckDB {duck.Rows.Length}, ours {reader.RowCount}");
        for (int c = 0; c < columns.Count; c++)
        {
            var desc = reader.Schema.Columns[c];
            var data = columns[c];
            if (data.RowCount != duck.Rows.Length) { diffs.Add($"{desc}: {data.RowCount} rows, DuckDB {duck.Rows.Length}"); continue; }
            for (int r = 0; r < data.RowCount && diffs.Count < 20; r++)
            {
                string ours = Canonical.Row(desc, data, r);
                string theirs = Canonical.FromJson(duck.Rows[r][c]);
                if (ours != theirs) diffs.Add($"{Path.GetFileName(path)} {desc} row {r}: ours {ours}, DuckDB {theirs}");
            }
        }
        return diffs;
    }
}
