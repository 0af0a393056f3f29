using System.Globalization;
using System.Text;

namespace Dreamer.Parquet;

/// <summary>A human-readable description of a file (what `dreamer parquet schema` prints).</summary>
public static class ParquetInspect
{
    /// <summary>
    /// The schema tree (in Parquet's message notation), row and row group counts, per-column codecs, encodings
    /// and sizes, per-row-group sizes, and the key-value metadata.
    /// </summary>
    public static string Describe(ParquetReader reader, string? displayName = null)
    {
        var sb = new StringBuilder();
        var meta = reader.Metadata;
        Line(sb, $"file: {displayName ?? reader.Name}");
        Line(sb, $"created by: {meta.CreatedBy ?? "(unknown)"}");
        Line(sb, $"rows: {meta.NumRows:N0}");
        Line(sb, $"row groups: {meta.RowGroups.Count:N0}");
        var codecs = meta.RowGroups.SelectMany(g => g.Columns).Select(c => c.MetaData!.Codec).Distinct().Select(Name);
        Line(sb, $"codecs: {string.Join(", ", codecs.DefaultIfEmpty("(none)"))}");
        sb.AppendLine();

        Line(sb, "schema:");
        Line(sb, "  message schema {");
        foreach (var f in reader.Schema.Fields) Field(sb, f, 2);
        Line(sb, "  }");
        sb.AppendLine();

        Line(sb, "columns:");
        var rows = new List<string[]> { new[] { "column", "type", "codec", "encodings", "compressed", "uncompressed", "values", "nulls" } };
        foreach (var c in reader.Schema.Columns)
        {
            var chunks = meta.RowGroups.Select(g => g.Columns[c.Index].MetaData!).ToList();
            long? nulls = chunks.All(m => m.Statistics?.NullCount != null) ? chunks.Sum(m => m.Statistics!.NullCount!.Value) : null;
            rows.Add([
                c.DottedPath,
                Name(c.PhysicalType) + (c.Field.TypeLength > 0 ? $"({c.Field.TypeLength})" : ""),
                string.Join(",", chunks.Select(m => Name(m.Codec)).Distinct()),
                string.Join(",", chunks.SelectMany(m => m.Encodings).Distinct().Select(Name)),
                Bytes(chunks.Sum(m => m.TotalCompressedSize)),
                Bytes(chunks.Sum(m => m.TotalUncompressedSize)),
                chunks.Sum(m => m.NumValues).ToString("N0", CultureInfo.InvariantCulture),
                nulls?.ToString("N0", CultureInfo.InvariantCulture) ?? "?",
            ]);
        }
        Table(sb, rows);
        sb.AppendLine();

        Line(sb, "row groups:");
        var groups = new List<string[]> { new[] { "#", "rows", "compressed", "uncompressed" } };
        for (int g = 0; g < meta.RowGroups.Count; g++)
        {
            var rg = meta.RowGroups[g];
            groups.Add([
                g.ToString(CultureInfo.InvariantCulture),
                rg.NumRows.ToString("N0", CultureInfo.InvariantCulture),
                Bytes(rg.Columns.Sum(c => c.MetaData!.TotalCompressedSize)),
                Bytes(rg.Columns.Sum(c => c.MetaData!.TotalUncompressedSize)),
            ]);
        }
        Table(sb, groups);
        sb.AppendLine();

        Line(sb, "key-value metadata:");
        if (meta.KeyValueMetadata is not { Count: > 0 } kvs) Line(sb, "  (none)");
        else
            foreach (var kv in kvs)
            {
                string value = kv.Value ?? "(null)";
                if (value.Length > 200) value = value[..200] + $"... ({value.Length:N0} characters)";
                Line(sb, $"  {kv.Key} = {value.ReplaceLineEndings(" ")}");
            }
        return sb.ToString();
    }

    private static void Line(StringBuilder sb, FormattableString text) => sb.AppendLine(text.ToString(CultureInfo.InvariantCulture));
    private static void Line(StringBuilder sb, string text) => sb.AppendLine(text);

    private static void Field(StringBuilder sb, ParquetField f, int indent)
    {
        var pad = new string(' ', indent * 2);
        string rep = f.Repetition.ToString().ToLowerInvariant();
        string annotation = Annotation(f);
        if (f.IsGroup)
        {
            sb.Append(pad).Append(rep).Append(" group ").Append(f.Name).Append(annotation).AppendLine(" {");
            foreach (var c in f.Children) Field(sb, c, indent + 1);
            sb.Append(pad).AppendLine("}");
            return;
        }
        string type = f.PhysicalType switch
        {
            PhysicalType.ByteArray => "binary",
            PhysicalType.FixedLenByteArray => $"fixed_len_byte_array({f.TypeLength})",
            var t => t!.Value.ToString().ToLowerInvariant(),
        };
        sb.Append(pad).Append(rep).Append(' ').Append(type).Append(' ').Append(f.Name).Append(annotation).AppendLine(";");
    }

    private static string Annotation(ParquetField f)
    {
        if (f.LogicalType is { } lt)
            return " (" + lt.Kind switch
            {
                LogicalTypeKind.Integer => $"INTEGER({lt.BitWidth},{(lt.IsSigned ? "true" : "false")})",
                LogicalTypeKind.Decimal => $"DECIMAL({lt.Precision},{lt.Scale})",
                LogicalTypeKind.Timestamp => $"TIMESTAMP({Name(lt.Unit)},{(lt.IsAdjustedToUtc ? "true" : "false")})",
                LogicalTypeKind.Time => $"TIME({Name(lt.Unit)},{(lt.IsAdjustedToUtc ? "true" : "false")})",
                var k => Name(k),
            } + ")";
        return f.ConvertedType is { } ct ? $" ({ConvertedName(ct)})" : "";
    }

    private static string ConvertedName(ConvertedType ct) => ct switch
    {
        ConvertedType.UInt8 => "UINT_8", ConvertedType.UInt16 => "UINT_16", ConvertedType.UInt32 => "UINT_32", ConvertedType.UInt64 => "UINT_64",
        ConvertedType.Int8 => "INT_8", ConvertedType.Int16 => "INT_16", ConvertedType.Int32 => "INT_32", ConvertedType.Int64 => "INT_64",
        _ => Name(ct),
    };

    // Names as the Parquet specification spells them: ByteArray -> BYTE_ARRAY, RleDictionary -> RLE_DICTIONARY.
    private static string Name<T>(T value) where T : struct, Enum
    {
        var s = value.ToString();
        var sb = new StringBuilder();
        for (int i = 0; i < s.Length; i++)
        {
            if (i > 0 && char.IsUpper(s[i]) && (char.IsLower(s[i - 1]) || (i + 1 < s.Length && char.IsLower(s[i + 1])))) sb.Append('_');
            sb.Append(char.ToUpperInvariant(s[i]));
        }
        return sb.ToString();
    }

    private static string Bytes(long n) => n switch
    {
        >= 1L << 30 => FormattableString.Invariant($"{n / (double)(1L << 30):F2} GiB"),
        >= 1L << 20 => FormattableString.Invariant($"{n / (double)(1L << 20):F1} MiB"),
        >= 1L << 10 => FormattableString.Invariant($"{n / 1024.0:F1} KiB"),
        _ => FormattableString.Invariant($"{n} B"),
    };

    private static void Table(StringBuilder sb, List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        foreach (var r in rows)
        {
            sb.Append("  ");
            for (int i = 0; i < r.Length; i++)
            {
                // Text left-aligned, numbers right-aligned.
                bool numeric = i > 0 && r[i].Length > 0 && (char.IsDigit(r[i][0]) || r[i] == "?");
                sb.Append(numeric ? r[i].PadLeft(widths[i]) : r[i].PadRight(widths[i]));
                if (i < r.Length - 1) sb.Append("  ");
            }
            sb.AppendLine();
        }
    }
}
