using System.Text;

namespace Dreamer.Parquet.Tests.Support;

/// <summary>Every primitive the writer supports, and generators of batches for them.</summary>
public enum Kind { Bool, Int32, Int64, Float, Double, String, Binary, Fixed16, Float16, TsMillis, TsMicros, TsMicrosLocal, UInt8, UInt16, UInt32, UInt64 }

public static class TestData
{
    public static readonly Kind[] AllKinds = Enum.GetValues<Kind>();

    public static ParquetField Field(Kind k, string name, bool nullable) => k switch
    {
        Kind.Bool => ParquetField.Boolean(name, nullable),
        Kind.Int32 => ParquetField.Int32(name, nullable),
        Kind.Int64 => ParquetField.Int64(name, nullable),
        Kind.Float => ParquetField.Float(name, nullable),
        Kind.Double => ParquetField.Double(name, nullable),
        Kind.String => ParquetField.String(name, nullable),
        Kind.Binary => ParquetField.Binary(name, nullable),
        Kind.Fixed16 => ParquetField.FixedBinary(name, 16, nullable),
        Kind.Float16 => ParquetField.Float16(name, nullable),
        Kind.TsMillis => ParquetField.Timestamp(name, TimeUnit.Millis, true, nullable),
        Kind.TsMicros => ParquetField.Timestamp(name, TimeUnit.Micros, true, nullable),
        Kind.TsMicrosLocal => ParquetField.Timestamp(name, TimeUnit.Micros, false, nullable),
        Kind.UInt8 => ParquetField.UnsignedInteger(name, 8, nullable),
        Kind.UInt16 => ParquetField.UnsignedInteger(name, 16, nullable),
        Kind.UInt32 => ParquetField.UnsignedInteger(name, 32, nullable),
        Kind.UInt64 => ParquetField.UnsignedInteger(name, 64, nullable),
        _ => throw new ArgumentOutOfRangeException(nameof(k)),
    };

    public static bool[]? Validity(Random rnd, int n, bool nullable, double nullRate = 0.2)
    {
        if (!nullable) return null;
        var v = new bool[n];
        for (int i = 0; i < n; i++) v[i] = rnd.NextDouble() >= nullRate;
        return v;
    }

    private static readonly float[] SpecialFloats = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, 0f, float.Epsilon, float.MaxValue, float.MinValue, 1.5f];
    private static readonly double[] SpecialDoubles = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, -0.0, 0.0, double.Epsilon, double.MaxValue, double.MinValue, 0.1];
    private static readonly string[] SpecialStrings = ["", "a", "héllo wörld", "日本語", "emoji 🎉", "quote \" and \\ backslash", "tab\tnewline\n"];

    /// <summary>
    /// n values of a kind; lowCardinality draws from a small pool so dictionary encoding kicks in.
    /// Special values (NaN, infinities, -0, extremes, unicode) appear in every batch large enough.
    /// </summary>
    public static ColumnData Values(Kind k, Random rnd, int n, bool[]? validity, bool lowCardinality)
    {
        int pool = lowCardinality ? 7 : int.MaxValue;
        int Pick(int i) => lowCardinality ? rnd.Next(pool) : i;
        switch (k)
        {
            case Kind.Bool: return ColumnData.Primitive(Gen(n, _ => rnd.Next(2) == 1), validity);
            case Kind.Int32: return ColumnData.Primitive(Gen(n, i => lowCardinality ? Pick(i) * 1000 - 3000 : rnd.Next(int.MinValue, int.MaxValue)), validity);
            case Kind.Int64: return ColumnData.Primitive(Gen(n, i => lowCardinality ? Pick(i) * 1_000_000_007L : rnd.NextInt64(long.MinValue, long.MaxValue)), validity);
            case Kind.Float:
                return ColumnData.Primitive(Gen(n, i => i < SpecialFloats.Length && !lowCardinality ? SpecialFloats[i]
                    : lowCardinality ? Pick(i) * 0.25f : (float)(rnd.NextDouble() * 2e6 - 1e6)), validity);
            case Kind.Double:
                return ColumnData.Primitive(Gen(n, i => i < SpecialDoubles.Length && !lowCardinality ? SpecialDoubles[i]
                    : lowCardinality ? Pick(i) * 0.125 : rnd.NextDouble() * 2e12 - 1e12), validity);
            case Kind.String:
                return Masked(ColumnData.Strings(Gen(n, i => (string?)(i < SpecialStrings.Length ? SpecialStrings[i]
                    : lowCardinality ? "category-" + Pick(i) : RandomString(rnd)))), validity);
            case Kind.Binary:
                return Masked(ColumnData.Binary(Gen(n, i => (byte[]?)(lowCardinality ? [(byte)Pick(i), 0, 255] : RandomBytes(rnd, rnd.Next(0, 40))))), validity);
            case Kind.Fixed16:
                {
                    var data = new byte[n * 16];
                    for (int i = 0; i < n; i++)
                    {
                        if (lowCardinality) data.AsSpan(i * 16, 16).Fill((byte)Pick(i));
                        else rnd.NextBytes(data.AsSpan(i * 16, 16));
                    }
                    return ColumnData.Fixed(data, 16, validity);
                }
            case Kind.Float16:
                return ColumnData.Primitive(Gen(n, i => i < 5 && !lowCardinality ? new[] { Half.NaN, Half.PositiveInfinity, Half.NegativeZero, Half.MaxValue, Half.Epsilon }[i]
                    : (Half)(lowCardinality ? Pick(i) * 0.5 : rnd.NextDouble() * 2000 - 1000)), validity);
            case Kind.TsMillis: return ColumnData.Primitive(Gen(n, i => lowCardinality ? 1_700_000_000_000L + Pick(i) : rnd.NextInt64(-2_000_000_000_000L, 7_000_000_000_000L)), validity);
            case Kind.TsMicros:
            case Kind.TsMicrosLocal: return ColumnData.Primitive(Gen(n, i => lowCardinality ? 1_700_000_000_000_000L + Pick(i) : rnd.NextInt64(-2_000_000_000_000_000L, 7_000_000_000_000_000L)), validity);
            case Kind.UInt8: return ColumnData.Primitive(Gen(n, i => (uint)(lowCardinality ? Pick(i) : rnd.Next(256))), validity);
            case Kind.UInt16: return ColumnData.Primitive(Gen(n, i => (uint)(lowCardinality ? Pick(i) : rnd.Next(65536))), validity);
            case Kind.UInt32: return ColumnData.Primitive(Gen(n, i => lowCardinality ? uint.MaxValue - (uint)Pick(i) : (uint)rnd.NextInt64(0, uint.MaxValue + 1L)), validity);
            case Kind.UInt64: return ColumnData.Primitive(Gen(n, i => lowCardinality ? ulong.MaxValue - (ulong)Pick(i) : (ulong)rnd.NextInt64(long.MinValue, long.MaxValue)), validity);
            default: throw new ArgumentOutOfRangeException(nameof(k));
        }
    }

    /// <summary>A list column: random lengths 0..maxLength, optional null lists, elements from Values.</summary>
    public static ColumnData List(Kind k, Random rnd, int rows, bool listNullable, bool elementNullable, bool lowCardinality, int maxLength = 5)
    {
        var offsets = new int[rows + 1];
        bool[]? listValid = listNullable ? new bool[rows] : null;
        for (int r = 0; r < rows; r++)
        {
            bool present = listValid == null || (listValid[r] = rnd.NextDouble() > 0.15);
            offsets[r + 1] = offsets[r] + (present ? rnd.Next(0, maxLength + 1) : 0);
        }
        int n = offsets[rows];
        var elements = Values(k, rnd, n, Validity(rnd, n, elementNullable), lowCardinality);
        return ColumnData.List(elements, offsets, listValid);
    }

    private static T[] Gen<T>(int n, Func<int, T> f)
    {
        var a = new T[n];
        for (int i = 0; i < n; i++) a[i] = f(i);
        return a;
    }

    // Null slots of variable-length values must be empty; rebuild with the mask applied.
    private static ColumnData Masked(ColumnData d, bool[]? validity)
    {
        if (validity == null) return d;
        var values = new byte[]?[d.Count];
        for (int i = 0; i < d.Count; i++) values[i] = validity[i] ? d.GetBytes(i).ToArray() : null;
        var masked = ColumnData.Binary(values);
        return ColumnData.Binary(masked.Bytes!, masked.Offsets!, validity);
    }

    private static string RandomString(Random rnd)
    {
        var sb = new StringBuilder();
        int len = rnd.Next(0, 30);
        for (int i = 0; i < len; i++) sb.Append(rnd.Next(10) == 0 ? (char)rnd.Next(0x400, 0x4FF) : (char)rnd.Next(0x20, 0x7F));
        return sb.ToString();
    }

    private static byte[] RandomBytes(Random rnd, int n)
    {
        var b = new byte[n];
        rnd.NextBytes(b);
        return b;
    }
}
