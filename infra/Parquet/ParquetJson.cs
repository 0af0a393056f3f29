using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Dreamer.Parquet;

/// <summary>
/// Rows of column batches as JSON objects (what `dreamer parquet cat` prints, one per line). Keys are the
/// top-level fields; values follow the logical type:
/// <list type="bullet">
/// <item>null slots and null lists: null; lists (LIST, legacy 2-level lists, repeated fields): arrays;</item>
/// <item>groups without repetition: objects; groups with several repeated leaves (lists of structs, maps):
/// an object with one entry per leaf (its path under the group), each an array;</item>
/// <item>integers (unsigned ones as unsigned) and floats as numbers; NaN and the infinities as the strings
/// "NaN", "Infinity", "-Infinity"; FLOAT16 as numbers; DECIMAL as exact numbers;</item>
/// <item>TIMESTAMP (and legacy INT96) as ISO-8601 strings (a trailing Z when adjusted to UTC); DATE as
/// yyyy-MM-dd; TIME as HH:mm:ss.fraction; UUID in its 8-4-4-4-12 form;</item>
/// <item>strings (STRING, ENUM, JSON) as strings; other binary as base64.</item>
/// </list>
/// </summary>
public static class ParquetJson
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Non-ASCII text stays readable; quotes, backslashes and control characters are still escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = false,
    };

    /// <summary>How the selected leaf columns of a schema map to the keys of a row object.</summary>
    public sealed class RowLayout
    {
        internal RowLayout(IReadOnlyList<Node> fields) => Fields = fields;
        internal IReadOnlyList<Node> Fields { get; }
    }

    internal abstract record Node(string Name);
    /// <summary>A leaf rendered with its list nesting; Column is the position in the batch list.</summary>
    internal sealed record LeafNode(string Name, int Column) : Node(Name);
    internal sealed record ObjectNode(string Name, IReadOnlyList<Node> Children) : Node(Name);

    /// <summary>The layout for these columns (leaves of the schema, in any order; a subset is fine).</summary>
    public static RowLayout Layout(ParquetSchema schema, IReadOnlyList<ColumnDescriptor> columns)
    {
        var position = new Dictionary<ColumnDescriptor, int>();
        for (int i = 0; i < columns.Count; i++) position.TryAdd(columns[i], i);
        var fields = new List<Node>();
        foreach (var field in schema.Fields)
        {
            var node = Build(field, [field.Name], schema, position);
            if (node != null) fields.Add(node);
        }
        return new RowLayout(fields);
    }

    private static Node? Build(ParquetField field, List<string> path, ParquetSchema schema, Dictionary<ColumnDescriptor, int> position)
    {
        var leaves = schema.Columns.Where(c => StartsWith(c.Path, path) && position.ContainsKey(c)).ToList();
        if (leaves.Count == 0) return null;
        bool repeatedInside = field.Repetition == Repetition.Repeated || HasRepeated(field);
        // One leaf under repetition (LIST of primitives, legacy lists, repeated primitives): nested arrays.
        if (field.IsGroup == false || (repeatedInside && leaves.Count == 1 && leaves[0].MaxRepetitionLevel > 0 && OneLeaf(field)))
            return new LeafNode(field.Name, position[leaves[0]]);
        if (!repeatedInside)
        {
            var children = new List<Node>();
            foreach (var child in field.Children)
            {
                path.Add(child.Name);
                var node = Build(child, path, schema, position);
                path.RemoveAt(path.Count - 1);
                if (node != null) children.Add(node);
            }
            return new ObjectNode(field.Name, children);
        }
        // Lists of groups and maps: one entry per leaf, named by its path under this field.
        return new ObjectNode(field.Name, [.. leaves.Select(l => (Node)new LeafNode(string.Join('.', l.Path.Skip(path.Count)), position[l]))]);
    }

    private static bool StartsWith(IReadOnlyList<string> path, List<string> prefix)
    {
        if (path.Count < prefix.Count) return false;
        for (int i = 0; i < prefix.Count; i++) if (path[i] != prefix[i]) return false;
        return true;
    }

    private static bool HasRepeated(ParquetField f) => f.Children.Any(c => c.Repetition == Repetition.Repeated || HasRepeated(c));
    private static bool OneLeaf(ParquetField f) => !f.IsGroup || (f.Children.Count == 1 && OneLeaf(f.Children[0]));

    /// <summary>Writes row `row` of the batches (one per column of the layout) as one JSON object.</summary>
    public static void WriteRow(Utf8JsonWriter writer, RowLayout layout, IReadOnlyList<ColumnDescriptor> columns,
        IReadOnlyList<ColumnData> batches, int row)
    {
        writer.WriteStartObject();
        foreach (var node in layout.Fields) WriteNode(writer, node, columns, batches, row);
        writer.WriteEndObject();
    }

    private static void WriteNode(Utf8JsonWriter writer, Node node, IReadOnlyList<ColumnDescriptor> columns, IReadOnlyList<ColumnData> batches, int row)
    {
        writer.WritePropertyName(node.Name);
        switch (node)
        {
            case LeafNode leaf:
                WriteLevel(writer, columns[leaf.Column], batches[leaf.Column], 0, row);
                break;
            case ObjectNode obj:
                writer.WriteStartObject();
                foreach (var child in obj.Children) WriteNode(writer, child, columns, batches, row);
                writer.WriteEndObject();
                break;
        }
    }

    private static void WriteLevel(Utf8JsonWriter writer, ColumnDescriptor c, ColumnData d, int depth, int index)
    {
        if (depth == d.Lists.Count)
        {
            WriteScalar(writer, c, d, index);
            return;
        }
        var level = d.Lists[depth];
        if (level.IsNull(index))
        {
            writer.WriteNullValue();
            return;
        }
        writer.WriteStartArray();
        for (int i = level.Offsets[index]; i < level.Offsets[index + 1]; i++) WriteLevel(writer, c, d, depth + 1, i);
        writer.WriteEndArray();
    }

    /// <summary>Row `row` as a JSON string (for tests and small outputs).</summary>
    public static string FormatRow(RowLayout layout, IReadOnlyList<ColumnDescriptor> columns, IReadOnlyList<ColumnData> batches, int row)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions)) WriteRow(writer, layout, columns, batches, row);
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Convenience: every row of one batch set, one JSON object each.</summary>
    public static IReadOnlyList<string> FormatRows(ParquetSchema schema, IReadOnlyList<ColumnDescriptor> columns, IReadOnlyList<ColumnData> batches)
    {
        var layout = Layout(schema, columns);
        int rows = batches.Count == 0 ? 0 : batches[0].RowCount;
        return [.. Enumerable.Range(0, rows).Select(r => FormatRow(layout, columns, batches, r))];
    }

    /// <summary>
    /// Streams up to limit rows (all when null) of the selected columns (all when null) as JSON lines to output,
    /// reading only the row groups needed. Returns the number of rows written.
    /// </summary>
    public static async Task<long> WriteRowsAsync(ParquetReader reader, Stream output, IReadOnlyList<ColumnDescriptor>? columns = null,
        long? limit = null, CancellationToken ct = default)
    {
        columns ??= reader.Schema.Columns;
        var layout = Layout(reader.Schema, columns);
        long want = limit ?? long.MaxValue;
        if (want <= 0) return 0;
        var groups = new List<int>();
        long planned = 0;
        for (int g = 0; g < reader.RowGroupCount && planned < want; g++)
        {
            if (reader.Metadata.RowGroups[g].NumRows == 0) continue;
            groups.Add(g);
            planned += reader.Metadata.RowGroups[g].NumRows;
        }
        long written = 0;
        using var writer = new Utf8JsonWriter(output, WriterOptions);
        await foreach (var batches in reader.ReadRowGroupsAsync(columns, groups, ct).ConfigureAwait(false))
        {
            int rows = batches.Count == 0 ? 0 : batches[0].RowCount;
            for (int r = 0; r < rows && written < want; r++, written++)
            {
                WriteRow(writer, layout, columns, batches, r);
                writer.Flush();
                output.WriteByte((byte)'\n');
                writer.Reset(output);
            }
            await output.FlushAsync(ct).ConfigureAwait(false);
            if (written >= want) break;
        }
        return written;
    }

    private static void WriteScalar(Utf8JsonWriter w, ColumnDescriptor c, ColumnData d, int slot)
    {
        try
        {
            WriteTypedScalar(w, c, d, slot);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or OverflowException)
        {
            // A date or time outside what .NET represents: the stored number, unconverted.
            switch (c.PhysicalType)
            {
                case PhysicalType.Int32: w.WriteNumberValue(d.GetValues<int>()[slot]); break;
                case PhysicalType.Int64: w.WriteNumberValue(d.GetValues<long>()[slot]); break;
                default: w.WriteBase64StringValue(d.GetBytes(slot)); break;
            }
        }
    }

    private static void WriteTypedScalar(Utf8JsonWriter w, ColumnDescriptor c, ColumnData d, int slot)
    {
        if (d.IsNull(slot))
        {
            w.WriteNullValue();
            return;
        }
        var f = c.Field;
        var lt = f.LogicalType;
        var ct = f.ConvertedType;
        switch (c.PhysicalType)
        {
            case PhysicalType.Boolean:
                w.WriteBooleanValue(d.GetValues<bool>()[slot]);
                return;
            case PhysicalType.Int32:
                {
                    int v = d.GetValues<int>()[slot];
                    if (lt is { Kind: LogicalTypeKind.Integer, IsSigned: false } || ct is ConvertedType.UInt8 or ConvertedType.UInt16 or ConvertedType.UInt32)
                        w.WriteNumberValue((uint)v);
                    else if (lt?.Kind == LogicalTypeKind.Decimal) w.WriteRawValue(Decimal(v, lt.Scale));
                    else if (lt?.Kind == LogicalTypeKind.Date || ct == ConvertedType.Date)
                        w.WriteStringValue(DateOnly.FromDayNumber(checked(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + v)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
                    else if (lt?.Kind == LogicalTypeKind.Time || ct == ConvertedType.TimeMillis) w.WriteStringValue(TimeOfDay(v * 10_000L));
                    else w.WriteNumberValue(v);
                    return;
                }
            case PhysicalType.Int64:
                {
                    long v = d.GetValues<long>()[slot];
                    if (lt is { Kind: LogicalTypeKind.Integer, IsSigned: false } || ct == ConvertedType.UInt64) w.WriteNumberValue((ulong)v);
                    else if (lt?.Kind == LogicalTypeKind.Decimal) w.WriteRawValue(Decimal(v, lt.Scale));
                    else if (lt?.Kind == LogicalTypeKind.Timestamp) w.WriteStringValue(Timestamp(v, lt.Unit, lt.IsAdjustedToUtc));
                    else if (ct == ConvertedType.TimestampMillis) w.WriteStringValue(Timestamp(v, TimeUnit.Millis, true));
                    else if (ct == ConvertedType.TimestampMicros) w.WriteStringValue(Timestamp(v, TimeUnit.Micros, true));
                    else if (lt?.Kind == LogicalTypeKind.Time) w.WriteStringValue(TimeOfDay(lt.Unit switch { TimeUnit.Millis => v * 10_000, TimeUnit.Micros => v * 10, _ => v / 100 }));
                    else if (ct == ConvertedType.TimeMicros) w.WriteStringValue(TimeOfDay(v * 10));
                    else w.WriteNumberValue(v);
                    return;
                }
            case PhysicalType.Float:
                WriteFloat(w, d.GetValues<float>()[slot]);
                return;
            case PhysicalType.Double:
                WriteFloat(w, d.GetValues<double>()[slot]);
                return;
            case PhysicalType.Int96:
                {
                    // Legacy timestamps: nanoseconds in the day, then the Julian day.
                    var b = d.GetBytes(slot);
                    long nanos = BinaryPrimitives.ReadInt64LittleEndian(b);
                    int julian = BinaryPrimitives.ReadInt32LittleEndian(b[8..]);
                    w.WriteStringValue(Timestamp(checked((julian - 2_440_588L) * 86_400_000_000_000L + nanos), TimeUnit.Nanos, true));
                    return;
                }
            default:
                {
                    var bytes = d.GetBytes(slot);
                    if (lt?.Kind == LogicalTypeKind.Float16 && bytes.Length == 2) WriteFloat(w, (double)BitConverter.ToHalf(bytes));
                    else if (lt?.Kind == LogicalTypeKind.Decimal || ct == ConvertedType.Decimal)
                        w.WriteRawValue(Decimal(new BigInteger(bytes, isUnsigned: false, isBigEndian: true), lt?.Scale ?? 0));
                    else if (lt?.Kind == LogicalTypeKind.Uuid && bytes.Length == 16) w.WriteStringValue(new Guid(bytes, bigEndian: true).ToString());
                    else if (lt?.Kind is LogicalTypeKind.String or LogicalTypeKind.Enum or LogicalTypeKind.Json
                             || ct is ConvertedType.Utf8 or ConvertedType.Enum or ConvertedType.Json)
                        w.WriteStringValue(Encoding.UTF8.GetString(bytes));
                    else w.WriteBase64StringValue(bytes);
                    return;
                }
        }
    }

    private static void WriteFloat(Utf8JsonWriter w, double v)
    {
        if (double.IsNaN(v)) w.WriteStringValue("NaN");
        else if (double.IsPositiveInfinity(v)) w.WriteStringValue("Infinity");
        else if (double.IsNegativeInfinity(v)) w.WriteStringValue("-Infinity");
        else w.WriteNumberValue(v);
    }

    // Floats go through their own shortest round-trip form, not through double's (0.1f must print as 0.1).
    private static void WriteFloat(Utf8JsonWriter w, float v)
    {
        if (!float.IsFinite(v)) WriteFloat(w, (double)v);
        else w.WriteNumberValue(v);
    }

    private static string Decimal(BigInteger unscaled, int scale)
    {
        if (scale <= 0) return (unscaled * BigInteger.Pow(10, -scale)).ToString(CultureInfo.InvariantCulture);
        bool negative = unscaled.Sign < 0;
        var digits = BigInteger.Abs(unscaled).ToString(CultureInfo.InvariantCulture).PadLeft(scale + 1, '0');
        return (negative ? "-" : "") + digits[..^scale] + "." + digits[^scale..];
    }

    private static string Timestamp(long value, TimeUnit unit, bool utc)
    {
        // .NET ticks are 100 ns: nanoseconds keep their last two digits apart.
        long rest = 0, ticks;
        switch (unit)
        {
            case TimeUnit.Millis: ticks = checked(value * TimeSpan.TicksPerMillisecond); break;
            case TimeUnit.Micros: ticks = checked(value * 10); break;
            default:
                ticks = Math.DivRem(value, 100, out rest);
                if (rest < 0) { ticks--; rest += 100; }
                break;
        }
        var t = DateTime.UnixEpoch.AddTicks(ticks);
        string fraction = unit switch
        {
            TimeUnit.Millis => t.ToString(".fff", CultureInfo.InvariantCulture),
            TimeUnit.Micros => t.ToString(".ffffff", CultureInfo.InvariantCulture),
            _ => t.ToString(".fffffff", CultureInfo.InvariantCulture) + rest.ToString("00", CultureInfo.InvariantCulture),
        };
        return t.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + fraction + (utc ? "Z" : "");
    }

    private static string TimeOfDay(long ticks) =>
        new TimeSpan(ticks).ToString(@"hh\:mm\:ss\.FFFFFFF", CultureInfo.InvariantCulture).TrimEnd('.');
}
