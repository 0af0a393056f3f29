using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Dreamer.Parquet.Tests.Support;

/// <summary>
/// One string form for a value whether it came from our reader or from DuckDB's JSON, so
/// comparisons are exact: doubles by round-trip format, integers as decimals, blobs as hex.
/// </summary>
public static class Canonical
{
    public static string Double(double d) =>
        double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity"
        : d == 0 && double.IsNegative(d) ? "-0" : d.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>DuckDB side.</summary>
    public static string FromJson(JsonNode? n)
    {
        switch (n)
        {
            case null: return "null";
            case JsonArray a: return "[" + string.Join(",", a.Select(FromJson)) + "]";
            case JsonObject o when o["hex"] is { } hex && o.Count == 1: return "hex:" + hex.GetValue<string>();
            case JsonObject o: return "{" + string.Join(",", o.Select(kv => kv.Key + ":" + FromJson(kv.Value))) + "}";
            case JsonValue v:
                return v.GetValueKind() switch
                {
                    JsonValueKind.String => v.GetValue<string>(),
                    JsonValueKind.True => "true",
                    JsonValueKind.False => "false",
                    JsonValueKind.Number => Double(v.GetValue<double>()),
                    _ => v.ToJsonString(),
                };
            default: return n.ToJsonString();
        }
    }

    /// <summary>Our side: the value of a top-level row, with list nesting, as DuckDB would show it.</summary>
    public static string Row(ColumnDescriptor c, ColumnData d, int row) => Level(c, d, 0, row);

    private static string Level(ColumnDescriptor c, ColumnData d, int depth, int index)
    {
        if (depth == d.Lists.Count) return Scalar(c, d, index);
        var level = d.Lists[depth];
        if (level.IsNull(index)) return "null";
        var sb = new StringBuilder("[");
        for (int i = level.Offsets[index]; i < level.Offsets[index + 1]; i++)
        {
            if (i > level.Offsets[index]) sb.Append(',');
            sb.Append(Level(c, d, depth + 1, i));
        }
        return sb.Append(']').ToString();
    }

    public static string Scalar(ColumnDescriptor c, ColumnData d, int slot)
    {
        if (d.IsNull(slot)) return "null";
        var f = c.Field;
        var lt = f.LogicalType;
        switch (c.PhysicalType)
        {
            case PhysicalType.Boolean: return d.GetValues<bool>()[slot] ? "true" : "false";
            case PhysicalType.Int32:
                {
                    int v = d.GetValues<int>()[slot];
                    return lt is { Kind: LogicalTypeKind.Integer, IsSigned: false } ? ((uint)v).ToString(CultureInfo.InvariantCulture)
                        : lt is { Kind: LogicalTypeKind.Decimal } ? Decimal(v, lt.Scale)
                        : v.ToString(CultureInfo.InvariantCulture);
                }
            case PhysicalType.Int64:
                {
                    long v = d.GetValues<long>()[slot];
                    if (lt is { Kind: LogicalTypeKind.Integer, IsSigned: false }) return ((ulong)v).ToString(CultureInfo.InvariantCulture);
                    if (lt is { Kind: LogicalTypeKind.Timestamp, Unit: TimeUnit.Millis }) return (v * 1000).ToString(CultureInfo.InvariantCulture);
                    if (lt is { Kind: LogicalTypeKind.Decimal }) return Decimal(v, lt.Scale);
                    return v.ToString(CultureInfo.InvariantCulture);
                }
            case PhysicalType.Float: return Double(d.GetValues<float>()[slot]);
            case PhysicalType.Double: return Double(d.GetValues<double>()[slot]);
            case PhysicalType.Int96:
                {
                    var b = d.GetBytes(slot);
                    long nanos = BinaryPrimitives.ReadInt64LittleEndian(b);
                    int julian = BinaryPrimitives.ReadInt32LittleEndian(b[8..]);
                    return ((julian - 2440588L) * 86_400_000_000L + nanos / 1000).ToString(CultureInfo.InvariantCulture);
                }
            case PhysicalType.FixedLenByteArray when lt?.Kind == LogicalTypeKind.Float16:
                return Double((double)d.GetValues<Half>()[slot]);
            default:
                if (lt?.Kind == LogicalTypeKind.String) return d.GetString(slot)!;
                return "hex:" + Convert.ToHexStringLower(d.GetBytes(slot));
        }
    }

    private static string Decimal(long unscaled, int scale) =>
        (unscaled / (decimal)Math.Pow(10, scale)).ToString(CultureInfo.InvariantCulture);
}
