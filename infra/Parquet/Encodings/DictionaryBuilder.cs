using System.Buffers.Binary;

namespace Dreamer.Parquet.Encodings;

/// <summary>
/// Distinct values of one column chunk, kept directly in PLAIN form (the dictionary page's
/// payload), with an open-addressing hash index over them. Works on value bytes, so one
/// implementation serves every physical type.
/// </summary>
internal sealed class DictionaryBuilder
{
    private readonly int _width; // 0: BYTE_ARRAY values, stored with their 4-byte length prefix
    private readonly ByteBuffer _plain = new(1024);
    private readonly IntBuffer _starts = new();
    private readonly IntBuffer _hashes = new();
    private int[] _table = NewTable(1024);

    public DictionaryBuilder(int width) => _width = width;

    public int Count => _starts.Length;
    public int ByteSize => _plain.Length;
    public ReadOnlySpan<byte> Plain => _plain.WrittenSpan;

    private static int[] NewTable(int size)
    {
        var t = new int[size];
        t.AsSpan().Fill(-1);
        return t;
    }

    public void Clear()
    {
        _plain.Trim(1 << 16);
        _starts.Clear();
        _hashes.Clear();
        if (_table.Length > 1 << 16) _table = NewTable(1024);
        else _table.AsSpan().Fill(-1);
    }

    private static int Hash(ReadOnlySpan<byte> v)
    {
        if (v.Length == 4) return (int)(BinaryPrimitives.ReadUInt32LittleEndian(v) * 0x9E3779B1u);
        if (v.Length == 8) return (int)((BinaryPrimitives.ReadUInt64LittleEndian(v) * 0x9E3779B97F4A7C15UL) >> 32);
        var h = new HashCode();
        h.AddBytes(v);
        return h.ToHashCode();
    }

    /// <summary>The value of entry e (without its length prefix).</summary>
    public ReadOnlySpan<byte> Get(int e) => Entry(e);

    private ReadOnlySpan<byte> Entry(int e)
    {
        int start = _starts[e];
        if (_width > 0) return _plain.WrittenSpan.Slice(start, _width);
        int len = BinaryPrimitives.ReadInt32LittleEndian(_plain.WrittenSpan[(start - 4)..]);
        return _plain.WrittenSpan.Slice(start, len);
    }

    public int GetOrAdd(ReadOnlySpan<byte> value)
    {
        int h = Hash(value);
        int mask = _table.Length - 1;
        int i = h & mask;
        while (true)
        {
            int e = _table[i];
            if (e < 0) break;
            if (_hashes[e] == h && Entry(e).SequenceEqual(value)) return e;
            i = (i + 1) & mask;
        }
        int index = Count;
        if (_width == 0) _plain.WriteInt32(value.Length);
        _starts.Add(_plain.Length);
        _hashes.Add(h);
        _plain.Write(value);
        _table[i] = index;
        if (Count * 2 > _table.Length) Rehash();
        return index;
    }

    private void Rehash()
    {
        _table = NewTable(_table.Length * 2);
        int mask = _table.Length - 1;
        for (int e = 0; e < Count; e++)
        {
            int i = _hashes[e] & mask;
            while (_table[i] >= 0) i = (i + 1) & mask;
            _table[i] = e;
        }
    }
}
