using System.Buffers.Binary;
using Dreamer.Parquet.Format;

namespace Dreamer.Parquet.Encodings;

/// <summary>
/// Chunk min/max/null count under the type-defined sort order of a column: signed or unsigned
/// integers by logical type, IEEE floats without NaN, byte strings unsigned lexicographically.
/// </summary>
internal sealed class StatisticsCollector
{
    // Readers cap what they accept; longer min/max values are left out rather than truncated.
    private const int MaxStatBytes = 4096;

    private enum Kind { None, Bool, Int32, UInt32, Int64, UInt64, Float, Double, Half, Bytes }

    private readonly Kind _kind;
    private long _nulls;
    private bool _any;
    private long _minI, _maxI;
    private ulong _minU, _maxU;
    private double _minF, _maxF;
    private byte[] _minB = [], _maxB = [];
    private int _minLen, _maxLen;

    public StatisticsCollector(ColumnDescriptor column)
    {
        var f = column.Field;
        bool unsigned = f.LogicalType is { Kind: LogicalTypeKind.Integer, IsSigned: false };
        _kind = f.PhysicalType switch
        {
            PhysicalType.Boolean => Kind.Bool,
            PhysicalType.Int32 => unsigned ? Kind.UInt32 : Kind.Int32,
            PhysicalType.Int64 => unsigned ? Kind.UInt64 : Kind.Int64,
            PhysicalType.Float => Kind.Float,
            PhysicalType.Double => Kind.Double,
            PhysicalType.FixedLenByteArray when f.LogicalType?.Kind == LogicalTypeKind.Float16 => Kind.Half,
            PhysicalType.FixedLenByteArray when f.TypeLength > MaxStatBytes => Kind.None,
            PhysicalType.FixedLenByteArray or PhysicalType.ByteArray => Kind.Bytes,
            _ => Kind.None,
        };
        Reset();
    }

    public void Reset()
    {
        _nulls = 0;
        _any = false;
        _minI = long.MaxValue; _maxI = long.MinValue;
        _minU = ulong.MaxValue; _maxU = 0;
        _minF = double.PositiveInfinity; _maxF = double.NegativeInfinity;
        _minLen = _maxLen = -1;
    }

    public void AddNulls(long n) => _nulls += n;

    /// <summary>Adds count fixed-width values packed in raw (width bytes each).</summary>
    public void AddFixed(ReadOnlySpan<byte> raw, int width, int count)
    {
        switch (_kind)
        {
            case Kind.Bool:
                for (int i = 0; i < count; i++) { long v = raw[i] != 0 ? 1 : 0; _minI = Math.Min(_minI, v); _maxI = Math.Max(_maxI, v); }
                break;
            case Kind.Int32:
                foreach (int v in System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(raw[..(count * 4)])) { if (v < _minI) _minI = v; if (v > _maxI) _maxI = v; }
                break;
            case Kind.UInt32:
                foreach (uint v in System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(raw[..(count * 4)])) { if (v < _minU) _minU = v; if (v > _maxU) _maxU = v; }
                break;
            case Kind.Int64:
                foreach (long v in System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(raw[..(count * 8)])) { if (v < _minI) _minI = v; if (v > _maxI) _maxI = v; }
                break;
            case Kind.UInt64:
                foreach (ulong v in System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(raw[..(count * 8)])) { if (v < _minU) _minU = v; if (v > _maxU) _maxU = v; }
                break;
            case Kind.Float:
                foreach (float v in System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(raw[..(count * 4)])) AddFloat(v);
                break;
            case Kind.Double:
                foreach (double v in System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(raw[..(count * 8)])) AddFloat(v);
                break;
            case Kind.Half:
                foreach (Half v in System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(raw[..(count * 2)])) AddFloat((double)v);
                break;
            case Kind.Bytes:
                for (int i = 0; i < count; i++) AddBytes(raw.Slice(i * width, width));
                break;
        }
        _any |= count > 0;
    }

    private void AddFloat(double v)
    {
        if (double.IsNaN(v)) return;
        if (v < _minF || (v == 0 && _minF == 0)) _minF = v;
        if (v > _maxF || (v == 0 && _maxF == 0)) _maxF = v;
    }

    public void AddBytes(ReadOnlySpan<byte> v)
    {
        _any = true;
        if (_kind != Kind.Bytes) return;
        if (_minLen < 0 || v.SequenceCompareTo(_minB.AsSpan(0, _minLen)) < 0) Store(ref _minB, ref _minLen, v);
        if (_maxLen < 0 || v.SequenceCompareTo(_maxB.AsSpan(0, _maxLen)) > 0) Store(ref _maxB, ref _maxLen, v);
    }

    private static void Store(ref byte[] buf, ref int len, ReadOnlySpan<byte> v)
    {
        if (buf.Length < v.Length) buf = new byte[Math.Max(v.Length, buf.Length * 2)];
        v.CopyTo(buf);
        len = v.Length;
    }

    public Statistics ToStatistics()
    {
        var s = new Statistics { NullCount = _nulls };
        if (!_any) return s;
        switch (_kind)
        {
            case Kind.Bool:
                s.MinValue = [(byte)_minI]; s.MaxValue = [(byte)_maxI];
                break;
            case Kind.Int32:
                s.MinValue = Le32((int)_minI); s.MaxValue = Le32((int)_maxI);
                break;
            case Kind.UInt32:
                s.MinValue = Le32((int)(uint)_minU); s.MaxValue = Le32((int)(uint)_maxU);
                break;
            case Kind.Int64:
                s.MinValue = Le64(_minI); s.MaxValue = Le64(_maxI);
                break;
            case Kind.UInt64:
                s.MinValue = Le64((long)_minU); s.MaxValue = Le64((long)_maxU);
                break;
            case Kind.Float or Kind.Double or Kind.Half:
                if (_minF > _maxF) break; // all NaN: no bounds
                // Signed zeros: the spec asks for -0 as a min and +0 as a max so either zero is covered.
                double min = _minF == 0 ? -0.0 : _minF, max = _maxF == 0 ? 0.0 : _maxF;
                if (_kind == Kind.Float) { s.MinValue = Le32(BitConverter.SingleToInt32Bits((float)min)); s.MaxValue = Le32(BitConverter.SingleToInt32Bits((float)max)); }
                else if (_kind == Kind.Double) { s.MinValue = Le64(BitConverter.DoubleToInt64Bits(min)); s.MaxValue = Le64(BitConverter.DoubleToInt64Bits(max)); }
                else { s.MinValue = Le16(BitConverter.HalfToInt16Bits((Half)min)); s.MaxValue = Le16(BitConverter.HalfToInt16Bits((Half)max)); }
                break;
            case Kind.Bytes:
                if (_minLen > MaxStatBytes || _maxLen > MaxStatBytes) break;
                s.MinValue = _minB.AsSpan(0, _minLen).ToArray();
                s.MaxValue = _maxB.AsSpan(0, _maxLen).ToArray();
                break;
        }
        return s;
    }

    private static byte[] Le16(short v) { var b = new byte[2]; BinaryPrimitives.WriteInt16LittleEndian(b, v); return b; }
    private static byte[] Le32(int v) { var b = new byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, v); return b; }
    private static byte[] Le64(long v) { var b = new byte[8]; BinaryPrimitives.WriteInt64LittleEndian(b, v); return b; }
}
