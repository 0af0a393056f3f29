using System.Buffers;
using System.Buffers.Binary;

namespace Dreamer.Parquet.Encodings;

/// <summary>
/// A growable byte buffer that is reused between pages (the writer's scratch space). Its backing arrays come
/// from the shared pool, so a full page can be handed off (<see cref="Detach"/>) to a compression task
/// without copying, and the buffer carries on with a fresh array.
/// </summary>
internal sealed class ByteBuffer
{
    private byte[] _data;

    public ByteBuffer(int capacity = 256) => _data = ArrayPool<byte>.Shared.Rent(Math.Max(16, capacity));

    public int Length { get; private set; }
    public int Capacity => _data.Length;
    public ReadOnlySpan<byte> WrittenSpan => _data.AsSpan(0, Length);

    public void Clear() => Length = 0;

    /// <summary>Drops the backing array when it grew past what the next page needs (bounded memory between row groups).</summary>
    public void Trim(int keepCapacity)
    {
        Length = 0;
        if (_data.Length > keepCapacity * 2)
        {
            ArrayPool<byte>.Shared.Return(_data);
            _data = ArrayPool<byte>.Shared.Rent(keepCapacity);
        }
    }

    /// <summary>
    /// Hands over the written bytes: the returned array (from the shared pool; the new owner returns it) holds them
    /// at [0, length). The buffer continues empty, with a fresh array of the same capacity.
    /// </summary>
    public (byte[] Array, int Length) Detach()
    {
        var result = (_data, Length);
        _data = ArrayPool<byte>.Shared.Rent(_data.Length);
        Length = 0;
        return result;
    }

    public Span<byte> GetSpan(int size)
    {
        if (Length + size > _data.Length)
        {
            long want = Math.Max((long)_data.Length * 2, (long)Length + size);
            if (want > System.Array.MaxLength) want = (long)Length + size;
            var bigger = ArrayPool<byte>.Shared.Rent(checked((int)want));
            _data.AsSpan(0, Length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_data);
            _data = bigger;
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
