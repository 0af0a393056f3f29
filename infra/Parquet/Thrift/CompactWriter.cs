using System.Buffers;
using System.Text;

namespace Dreamer.Parquet.Thrift;

/// <summary>Writes Thrift compact protocol into a growable buffer.</summary>
internal sealed class CompactWriter
{
    private readonly ArrayBufferWriter<byte> _out;
    private readonly Stack<short> _lastField = new();
    private short _last;

    public CompactWriter(ArrayBufferWriter<byte> output) => _out = output;

    private void Byte(byte b)
    {
        _out.GetSpan(1)[0] = b;
        _out.Advance(1);
    }

    private void Varint(ulong v)
    {
        var span = _out.GetSpan(10);
        int i = 0;
        while (v >= 0x80) { span[i++] = (byte)(v | 0x80); v >>= 7; }
        span[i++] = (byte)v;
        _out.Advance(i);
    }

    private static ulong ZigZag(long v) => (ulong)((v << 1) ^ (v >> 63));

    private void FieldHeader(short id, byte type)
    {
        int delta = id - _last;
        if (delta is > 0 and <= 15) Byte((byte)((delta << 4) | type));
        else { Byte(type); Varint(ZigZag(id)); }
        _last = id;
    }

    public void StructBegin() { _lastField.Push(_last); _last = 0; }

    public void StructEnd() { Byte(TType.Stop); _last = _lastField.Pop(); }

    public void FieldStruct(short id) { FieldHeader(id, TType.Struct); StructBegin(); }

    /// <summary>An empty struct field (e.g. the union members StringType, ListType, TypeDefinedOrder).</summary>
    public void FieldEmptyStruct(short id) { FieldStruct(id); StructEnd(); }

    public void FieldI32(short id, int v) { FieldHeader(id, TType.I32); Varint(ZigZag(v)); }
    public void FieldI64(short id, long v) { FieldHeader(id, TType.I64); Varint(ZigZag(v)); }
    public void FieldI8(short id, sbyte v) { FieldHeader(id, TType.I8); Byte((byte)v); }
    public void FieldBool(short id, bool v) => FieldHeader(id, v ? TType.BoolTrue : TType.BoolFalse);

    public void FieldBinary(short id, ReadOnlySpan<byte> v) { FieldHeader(id, TType.Binary); Binary(v); }
    public void FieldString(short id, string v) => FieldBinary(id, Encoding.UTF8.GetBytes(v));

    public void FieldList(short id, byte elemType, int count)
    {
        FieldHeader(id, TType.List);
        if (count < 15) Byte((byte)((count << 4) | elemType));
        else { Byte((byte)(0xF0 | elemType)); Varint((ulong)count); }
    }

    // List elements: no field headers.
    public void I32(int v) => Varint(ZigZag(v));
    public void String(string v) => Binary(Encoding.UTF8.GetBytes(v));

    private void Binary(ReadOnlySpan<byte> v)
    {
        Varint((ulong)v.Length);
        v.CopyTo(_out.GetSpan(v.Length));
        _out.Advance(v.Length);
    }
}
