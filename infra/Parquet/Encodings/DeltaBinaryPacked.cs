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
