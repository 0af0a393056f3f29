using System.Buffers.Binary;
using System.Text;

namespace Dreamer.Parquet.Thrift;

/// <summary>Thrift compact protocol wire types.</summary>
internal static class TType
{
    public const byte Stop = 0, BoolTrue = 1, BoolFalse = 2, I8 = 3, I16 = 4, I32 = 5, I64 = 6,
        Double = 7, Binary = 8, List = 9, Set = 10, Map = 11, Struct = 12;
}

/// <summary>
/// Reads Thrift compact protocol from an untrusted buffer. Every length and count is checked
/// against the bytes that remain, and nesting is capped, so garbage input fails fast with a
/// <see cref="ParquetFormatException"/> instead of allocating or recursing without bound.
/// </summary>
internal sealed class CompactReader
{
    private const int MaxDepth = 64;
    private readonly byte[] _buf;
    private readonly int _end;
    private readonly long _fileOffset; // file offset of _buf[0], for error messages
    private readonly string _file;
    private int _pos;
    private int _depth;
    private readonly short[] _lastField = new short[MaxDepth + 1];
    private bool _pendingBool;

    public CompactReader(byte[] buffer, int start, int end, long fileOffsetOfBuffer, string fileName)
    {
        _buf = buffer;
        _pos = start;
        _end = end;
        _fileOffset = fileOffsetOfBuffer;
        _file = fileName;
    }

    public int Position => _pos;
    public int Remaining => _end - _pos;
    public long FileOffset => _fileOffset + _pos;

    public ParquetFormatException Error(string detail) => new(_file, FileOffset, "invalid Thrift metadata: " + detail);

    private byte ReadByte()
    {
        if (_pos >= _end) throw Error("unexpected end of metadata");
        return _buf[_pos++];
    }

    public ulong ReadVarint()
    {
        ulong result = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            byte b = ReadByte();
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw Error("varint too long");
    }

    public void BeginStruct()
    {
        if (++_depth > MaxDepth) throw Error("nesting too deep");
        _lastField[_depth] = 0;
    }

    public void EndStruct() => _depth--;

    /// <summary>Reads the next field header; false at the struct's stop byte.</summary>
    public bool NextField(out short id, out byte type)
    {
        byte b = ReadByte();
        type = (byte)(b & 0x0F);
        if (type == TType.Stop) { id = 0; return false; }
        int delta = b >> 4;
        id = delta != 0 ? (short)(_lastField[_depth] + delta) : (short)ZigZag32((uint)ReadVarint());
        _lastField[_depth] = id;
        if (type == TType.BoolTrue || type == TType.BoolFalse) _pendingBool = type == TType.BoolTrue;
        return true;
    }

    private static int ZigZag32(uint n) => (int)(n >> 1) ^ -(int)(n & 1);
    private static long ZigZag64(ulong n) => (long)(n >> 1) ^ -(long)(n & 1);

    private void Expect(byte actual, byte expected, string what)
    {
        if (actual != expected) throw Error($"{what}: wire type {actual}, expected {expected}");
    }

    public int ReadI32(byte type)
    {
        if (type is TType.I8) return (sbyte)ReadByte();
        if (type is not (TType.I16 or TType.I32)) Expect(type, TType.I32, "i32 field");
        return ZigZag32((uint)ReadVarint());
    }

    public long ReadI64(byte type)
    {
        if (type is TType.I32 or TType.I16 or TType.I8) return ReadI32(type);
        Expect(type, TType.I64, "i64 field");
        return ZigZag64(ReadVarint());
    }

    /// <summary>Bool field: the value was carried in the field header.</summary>
    public bool ReadBool(byte type)
    {
        if (type != TType.BoolTrue && type != TType.BoolFalse) throw Error($"bool field: wire type {type}");
        return _pendingBool;
    }

    public byte[] ReadBinary(byte type)
    {
        Expect(type, TType.Binary, "binary field");
        ulong len = ReadVarint();
        if (len > (ulong)Remaining) throw Error($"binary length {len} exceeds the {Remaining} remaining bytes");
        var result = _buf.AsSpan(_pos, (int)len).ToArray();
        _pos += (int)len;
        return result;
    }

    public string ReadString(byte type) => Encoding.UTF8.GetString(ReadBinary(type));

    /// <summary>Reads a list header; the count is capped by the remaining bytes (every element takes at least one).</summary>
    public int ReadListHeader(byte type, out byte elemType)
    {
        if (type != TType.List && type != TType.Set) throw Error($"list field: wire type {type}");
        byte b = ReadByte();
        elemType = (byte)(b & 0x0F);
        ulong size = (ulong)(b >> 4);
        if (size == 15) size = ReadVarint();
        if (size > (ulong)Remaining) throw Error($"list of {size} elements exceeds the {Remaining} remaining bytes");
        return (int)size;
    }

    /// <summary>Reads one list element of a primitive type (list elements carry no field header).</summary>
    public int ReadListI32(byte elemType) => ReadI32(elemType);

    public string ReadListString(byte elemType) => ReadString(elemType);

    /// <summary>Skips a value of any type (unknown fields, for forward compatibility).</summary>
    public void Skip(byte type)
    {
        switch (type)
        {
            case TType.BoolTrue: case TType.BoolFalse: return;
            case TType.I8: ReadByte(); return;
            case TType.I16: case TType.I32: case TType.I64: ReadVarint(); return;
            case TType.Double: Advance(8); return;
            case TType.Binary:
                {
                    ulong len = ReadVarint();
                    if (len > (ulong)Remaining) throw Error($"binary length {len} exceeds the {Remaining} remaining bytes");
                    _pos += (int)len;
                    return;
                }
            case TType.Struct:
                BeginStruct();
                while (NextField(out _, out byte t)) Skip(t);
                EndStruct();
                return;
            case TType.List: case TType.Set:
                {
                    int n = ReadListHeader(type, out byte et);
                    if (++_depth > MaxDepth) throw Error("nesting too deep");
                    for (int i = 0; i < n; i++) SkipElement(et);
                    _depth--;
                    return;
                }
            case TType.Map:
                {
                    ulong n = ReadVarint();
                    if (n == 0) return;
                    if (n > (ulong)Remaining) throw Error($"map of {n} entries exceeds the remaining bytes");
                    byte kv = ReadByte();
                    if (++_depth > MaxDepth) throw Error("nesting too deep");
                    for (ulong i = 0; i < n; i++) { SkipElement((byte)(kv >> 4)); SkipElement((byte)(kv & 0xF)); }
                    _depth--;
                    return;
                }
            default:
                throw Error($"unknown wire type {type}");
        }
    }

    // In collections a bool is a whole byte, unlike in field headers.
    private void SkipElement(byte type)
    {
        if (type is TType.BoolTrue or TType.BoolFalse) ReadByte();
        else Skip(type);
    }

    private void Advance(int n)
    {
        if (n > Remaining) throw Error("unexpected end of metadata");
        _pos += n;
    }
}
