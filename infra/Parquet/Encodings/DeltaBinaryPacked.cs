namespace Dreamer.Parquet.Encodings;

/// <summary>DELTA_BINARY_PACKED decoding (the writer does not emit delta encodings).</summary>
internal static class DeltaBinaryPacked
{
    private static ulong Varint(ReadOnlySpan<byte> data, ref int pos)
    {
        ulong result = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (pos >= data.Length) throw new InvalidDataException("truncated DELTA_BINARY_PACKED header");
            byte b = data[pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw new InvalidDataException("bad varint in DELTA_BINARY_PACKED data");
    }

    private static long ZigZag(ulong n) => (long)(n >> 1) ^ -(long)(n & 1);

    /// <summary>
    /// Decodes one DELTA_BINARY_PACKED stream starting at pos (advanced past the stream's end).
    /// maxValues bounds the header's count, which comes from untrusted data.
    /// </summary>
    public static long[] Decode(ReadOnlySpan<byte> data, ref int pos, int maxValues)
    {
        ulong blockSize = Varint(data, ref pos);
        ulong miniblocks = Varint(data, ref pos);
        ulong total = Varint(data, ref pos);
        long value = ZigZag(Varint(data, ref pos));
        if (blockSize == 0 || blockSize % 128 != 0 || miniblocks == 0 || blockSize % miniblocks != 0 || (blockSize / miniblocks) % 32 != 0 || blockSize > 1 << 20)
            throw new InvalidDataException($"bad DELTA_BINARY_PACKED block layout ({blockSize}/{miniblocks})");
        if (total > (ulong)maxValues) throw new InvalidDataException($"DELTA_BINARY_PACKED holds {total} values, at most {maxValues} expected");
        var result = new long[total];
        if (total == 0) return result;
        result[0] = value;
        int produced = 1;
        int perMini = (int)(blockSize / miniblocks);
        Span<byte> widths = stackalloc byte[(int)miniblocks];
        while (produced < (int)total)
        {
            long minDelta = ZigZag(Varint(data, ref pos));
            if (pos + (int)miniblocks > data.Length) throw new InvalidDataException("truncated DELTA_BINARY_PACKED block");
            data.Slice(pos, (int)miniblocks).CopyTo(widths);
            pos += (int)miniblocks;
            for (int m = 0; m < (int)miniblocks && produced < (int)total; m++)
            {
                int w = widths[m];
                if (w > 64) throw new InvalidDataException($"DELTA_BINARY_PACKED bit width {w}");
                int bytes = perMini * w / 8;
                if (pos + bytes > data.Length) throw new InvalidDataException("truncated DELTA_BINARY_PACKED miniblock");
                var mini = data.Slice(pos, bytes);
                int k = Math.Min(perMini, (int)total - produced);
                for (int i = 0; i < k; i++)
                {
                    // Deltas wrap in two's complement, as the spec requires.
                    value = unchecked(value + minDelta + (long)Bits.Read(mini, (long)i * w, w));
                    result[produced++] = value;
                }
                pos += bytes;
            }
        }
        return result;
    }
}

/// <summary>
/// DELTA_BINARY_PACKED encoding: blocks of 128 deltas in 4 miniblocks of 32, each bit-packed at its own width
/// above the block's minimum delta. INT32 deltas wrap at 32 bits (so widths stay within 32, as readers of
/// INT32 expect); INT64 deltas wrap at 64.
/// </summary>
internal static class DeltaBinaryPackedEncoder
{
    private const int BlockSize = 128, Miniblocks = 4, PerMini = BlockSize / Miniblocks;

    public static void Encode(ReadOnlySpan<int> values, ByteBuffer output)
    {
        Span<long> deltas = stackalloc long[BlockSize];
        Header(values.Length, values.IsEmpty ? 0 : values[0], output);
        for (int start = 1; start < values.Length; start += BlockSize)
        {
            int n = Math.Min(BlockSize, values.Length - start);
            for (int i = 0; i < n; i++) deltas[i] = unchecked(values[start + i] - values[start + i - 1]);
            Block(deltas[..n], output);
        }
    }

    public static void Encode(ReadOnlySpan<long> values, ByteBuffer output)
    {
        Span<long> deltas = stackalloc long[BlockSize];
        Header(values.Length, values.IsEmpty ? 0 : values[0], output);
        for (int start = 1; start < values.Length; start += BlockSize)
        {
            int n = Math.Min(BlockSize, values.Length - start);
            for (int i = 0; i < n; i++) deltas[i] = unchecked(values[start + i] - values[start + i - 1]);
            Block(deltas[..n], output);
        }
    }

    private static ulong ZigZag(long v) => (ulong)((v << 1) ^ (v >> 63));

    private static void Header(int count, long first, ByteBuffer output)
    {
        output.WriteVarint(BlockSize);
        output.WriteVarint(Miniblocks);
        output.WriteVarint((ulong)count);
        output.WriteVarint(ZigZag(first));
    }

    private static void Block(ReadOnlySpan<long> deltas, ByteBuffer output)
    {
        long min = long.MaxValue;
        foreach (long d in deltas) if (d < min) min = d;
        output.WriteVarint(ZigZag(min));
        Span<ulong> adjusted = stackalloc ulong[BlockSize];
        adjusted.Clear();
        for (int i = 0; i < deltas.Length; i++) adjusted[i] = unchecked((ulong)(deltas[i] - min));
        // Miniblocks past the last value keep a width byte (0) but no body.
        int used = (deltas.Length + PerMini - 1) / PerMini;
        Span<byte> widths = stackalloc byte[Miniblocks];
        for (int m = 0; m < Miniblocks; m++)
        {
            ulong or = 0;
            if (m < used) foreach (ulong a in adjusted.Slice(m * PerMini, PerMini)) or |= a;
            widths[m] = (byte)(64 - System.Numerics.BitOperations.LeadingZeroCount(or));
        }
        output.Write(widths);
        for (int m = 0; m < used; m++)
        {
            int w = widths[m];
            if (w == 0) continue;
            var dst = output.GetSpan(PerMini * w / 8);
            dst.Clear();
            long bitPos = 0;
            foreach (ulong a in adjusted.Slice(m * PerMini, PerMini))
            {
                int index = (int)(bitPos >> 3), shift = (int)(bitPos & 7);
                UInt128 x = (UInt128)a << shift;
                for (int b = 0; b < (shift + w + 7) >> 3; b++) dst[index + b] |= (byte)(x >> (8 * b));
                bitPos += w;
            }
            output.Advance(PerMini * w / 8);
        }
    }
}
