using System.Buffers.Binary;

namespace Dreamer.Parquet.Encodings;

/// <summary>A growable byte buffer that is reused between pages (the writer's scratch space).</summary>
internal sealed class ByteBuffer
{
    private byte[] _data;

    public ByteBuffer(int capacity = 256) => _data = new byte[Math.Max(16, capacity)];

    public int Length { get; private set; }
    public ReadOnlySpan<byte> WrittenSpan => _data.AsSpan(0, Length);

    public void Clear() => Length = 0;

    /// <summary>Drops the backing array when it grew past what the next page needs (bounded memory between row groups).</summary>
    public void Trim(int keepCapacity)
    {
        Length = 0;
        if (_data.Length > keepCapacity * 2) _data = new byte[keepCapacity];
    }

    public Span<byte> GetSpan(int size)
    {
        if (Length + size > _data.Length)
        {
            long want = Math.Max((long)_data.Length * 2, (long)Length + size);
            if (want > System.Array.MaxLength) want = (long)Length + size;
            System.Array.Resize(ref _data, checked((int)want));
        }
        return _data.AsSpan(Length, size);
    }

    public void Advance(int n) => Length += n;

    public void Write(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        Length += bytes.Length;
    }

    public void WriteByte(byte b)
    {
        GetSpan(1)[0] = b;
        Length++;
    }

    public void WriteInt32(int v)
    {
        BinaryPrimitives.WriteInt32LittleEndian(GetSpan(4), v);
        Length += 4;
    }

    public void WriteVarint(ulong v)
    {
        var span = GetSpan(10);
        int i = 0;
        while (v >= 0x80) { span[i++] = (byte)(v | 0x80); v >>= 7; }
        span[i++] = (byte)v;
        Length += i;
    }

}
