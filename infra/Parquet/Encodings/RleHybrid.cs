using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Dreamer.Parquet.Encodings;

/// <summary>Bit-level helpers shared by the RLE/bit-packed hybrid and DELTA_BINARY_PACKED codecs.</summary>
internal static class Bits
{
    /// <summary>Bits needed to store values 0..maxValue (0 for maxValue 0).</summary>
    public static int WidthFor(long maxValue) => maxValue <= 0 ? 0 : 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)maxValue);

    /// <summary>Reads width (0..64) bits LSB-first starting at bitPos; bytes past the end read as zero.</summary>
    public static ulong Read(ReadOnlySpan<byte> data, long bitPos, int width)
    {
        if (width == 0) return 0;
        int byteIndex = (int)(bitPos >> 3);
        int shift = (int)(bitPos & 7);
        ulong lo = Load64(data, byteIndex) >> shift;
        if (shift + width > 64) lo |= (ulong)(byteIndex + 8 < data.Length ? data[byteIndex + 8] : 0) << (64 - shift);
        return width == 64 ? lo : lo & ((1UL << width) - 1);
    }

    private static ulong Load64(ReadOnlySpan<byte> data, int index)
    {
        if (index + 8 <= data.Length) return BinaryPrimitives.ReadUInt64LittleEndian(data[index..]);
        ulong v = 0;
        for (int i = 0; index + i < data.Length && i < 8; i++) v |= (ulong)data[index + i] << (8 * i);
        return v;
    }

    /// <summary>Packs values LSB-first with the given width into dst (which must be zeroed and large enough).</summary>
    public static void Pack(ReadOnlySpan<int> values, int width, Span<byte> dst)
    {
        if (width == 0) return;
        long bitPos = 0;
        foreach (int v in values)
        {
            ulong x = (ulong)(uint)v;
            int byteIndex = (int)(bitPos >> 3), shift = (int)(bitPos & 7);
            x <<= shift;
            for (int b = 0; b < (shift + width + 7) >> 3; b++) dst[byteIndex + b] |= (byte)(x >> (8 * b));
            bitPos += width;
        }
    }
}

/// <summary>
/// Decoder for the RLE/bit-packed hybrid encoding (levels, dictionary indices, RLE booleans).
/// It never produces more values than asked for, so a run header claiming billions of values
/// costs nothing beyond the caller's bounded buffer.
/// </summary>
internal ref struct RleHybridDecoder
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly int _width;
    private int _pos;
    private int _rleLeft;
    private int _rleValue;
    private int _packedLeft;
    private long _packedBit;

    public RleHybridDecoder(ReadOnlySpan<byte> data, int bitWidth)
    {
        if (bitWidth is < 0 or > 32) throw new InvalidDataException($"bit width {bitWidth} is out of range");
        _data = data;
        _width = bitWidth;
    }

    /// <summary>Fills dst; returns fewer values only when the data ends.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Read(scoped Span<int> dst)
    {
        int n = 0;
        while (n < dst.Length)
        {
            if (_rleLeft > 0)
            {
                int k = Math.Min(_rleLeft, dst.Length - n);
                dst.Slice(n, k).Fill(_rleValue);
                _rleLeft -= k;
                n += k;
            }
            else if (_packedLeft > 0)
            {
                int k = Math.Min(_packedLeft, dst.Length - n);
                for (int i = 0; i < k; i++)
                {
                    dst[n + i] = (int)Bits.Read(_data, _packedBit, _width);
                    _packedBit += _width;
                }
                _packedLeft -= k;
                n += k;
            }
            else if (!NextRun()) break;
        }
        return n;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool NextRun()
    {
        if (_pos >= _data.Length) return false;
        ulong header = 0;
        for (int shift = 0; ; shift += 7)
        {
            if (_pos >= _data.Length || shift > 35) throw new InvalidDataException("bad run header in RLE/bit-packed data");
            byte b = _data[_pos++];
            header |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) break;
        }
        if ((header & 1) == 0)
        {
            ulong count = header >> 1;
            int bytes = (_width + 7) / 8;
            if (_pos + bytes > _data.Length) throw new InvalidDataException("truncated RLE run");
            int v = 0;
            for (int i = 0; i < bytes; i++) v |= _data[_pos + i] << (8 * i);
            _pos += bytes;
            _rleValue = v;
            _rleLeft = (int)Math.Min(count, int.MaxValue);
        }
        else
        {
            ulong groups = header >> 1;
            long bytesWanted = (long)Math.Min(groups, int.MaxValue) * _width;
            long bytesHave = Math.Min(bytesWanted, _data.Length - _pos);
            // The final run may be cut short by some writers; decode what is present.
            long values = _width == 0 ? (long)Math.Min(groups * 8, int.MaxValue) : bytesHave * 8 / _width;
            _packedLeft = (int)Math.Min(values, int.MaxValue);
            _packedBit = (long)_pos * 8;
            _pos += (int)bytesHave;
        }
        return true;
    }
}

/// <summary>Encoder for the RLE/bit-packed hybrid: runs of 8+ equal values become RLE runs, the rest bit-packed groups.</summary>
internal static class RleHybridEncoder
{
    public static void Encode(ReadOnlySpan<int> values, int width, ByteBuffer output)
    {
        int n = values.Length, i = 0;
        int valueBytes = (width + 7) / 8;
        Span<byte> packed = stackalloc byte[63 * 8 * 4];
        Span<int> groupBuffer = stackalloc int[63 * 8];
        while (i < n)
        {
            int run = RunLength(values, i);
            if (run >= 8)
            {
                output.WriteVarint((ulong)run << 1);
                var span = output.GetSpan(valueBytes);
                for (int b = 0; b < valueBytes; b++) span[b] = (byte)(values[i] >> (8 * b));
                output.Advance(valueBytes);
                i += run;
                continue;
            }
            // Bit-packed groups of 8 until a long run starts at a group boundary (max 63 groups: one header byte).
            int start = i, groups = 0;
            do { i += 8; groups++; } while (i < n && groups < 63 && RunLength(values, i) < 8);
            int count = groups * 8;
            var group = groupBuffer[..count];
            int real = Math.Min(count, n - start);
            values.Slice(start, real).CopyTo(group);
            group[real..].Clear();
            int bytes = groups * width;
            var dst = packed[..bytes];
            dst.Clear();
            Bits.Pack(group, width, dst);
            output.WriteVarint(((ulong)groups << 1) | 1);
            output.Write(dst);
            if (i > n) i = n;
        }
    }

    private static int RunLength(ReadOnlySpan<int> values, int i)
    {
        int v = values[i], j = i + 1;
        while (j < values.Length && values[j] == v) j++;
        return j - i;
    }
}
