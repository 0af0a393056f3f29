using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Dreamer.Parquet.Encodings;

/// <summary>Decodes the values section of a data or dictionary page into a <see cref="ValueBuffer"/>.</summary>
/// <remarks>The per-page methods are AggressiveOptimization, like the page reader's (see ColumnChunkReader).</remarks>
internal static class ValueDecoder
{
    /// <summary>
    /// Decodes exactly count values of the column's physical type. Any shortfall or overrun is an
    /// <see cref="InvalidDataException"/> that the page reader turns into a located format error.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Decode(ReadOnlySpan<byte> data, ParquetEncoding encoding, int count, PhysicalType type,
        ValueBuffer? dictionary, ValueBuffer output)
    {
        if (count == 0) return;
        switch (encoding)
        {
            case ParquetEncoding.Plain:
                DecodePlain(data, count, type, output);
                return;
            case ParquetEncoding.PlainDictionary:
            case ParquetEncoding.RleDictionary:
                if (dictionary == null) throw new InvalidDataException("dictionary-encoded page without a dictionary page");
                DecodeDictionary(data, count, dictionary, output);
                return;
            case ParquetEncoding.Rle when type == PhysicalType.Boolean:
                {
                    if (data.Length < 4) throw new InvalidDataException("RLE boolean data lacks its length prefix");
                    int len = BinaryPrimitives.ReadInt32LittleEndian(data);
                    if (len < 0 || len > data.Length - 4) throw new InvalidDataException($"RLE boolean length {len} exceeds the page");
                    var dec = new RleHybridDecoder(data.Slice(4, len), 1);
                    DecodeHybridToBytes(ref dec, output.AppendFixed(count));
                    return;
                }
            case ParquetEncoding.DeltaBinaryPacked when type is PhysicalType.Int32 or PhysicalType.Int64:
                {
                    int pos = 0;
                    var values = DeltaBinaryPacked.Decode(data, ref pos, count);
                    if (values.Length != count) throw new InvalidDataException($"DELTA_BINARY_PACKED holds {values.Length} values, expected {count}");
                    var dst = output.AppendFixed(count);
                    for (int i = 0; i < count; i++)
                    {
                        if (type == PhysicalType.Int32) BinaryPrimitives.WriteInt32LittleEndian(dst[(i * 4)..], unchecked((int)values[i]));
                        else BinaryPrimitives.WriteInt64LittleEndian(dst[(i * 8)..], values[i]);
                    }
                    return;
                }
            case ParquetEncoding.DeltaLengthByteArray when type == PhysicalType.ByteArray:
                {
                    int pos = 0;
                    var lengths = DeltaBinaryPacked.Decode(data, ref pos, count);
                    if (lengths.Length != count) throw new InvalidDataException($"DELTA_LENGTH_BYTE_ARRAY holds {lengths.Length} values, expected {count}");
                    foreach (long len in lengths)
                    {
                        if (len < 0 || len > data.Length - pos) throw new InvalidDataException($"value length {len} exceeds the page");
                        output.AppendVar(data.Slice(pos, (int)len));
                        pos += (int)len;
                    }
                    return;
                }
            case ParquetEncoding.DeltaByteArray when type is PhysicalType.ByteArray or PhysicalType.FixedLenByteArray:
                DecodeDeltaByteArray(data, count, output);
                return;
            case ParquetEncoding.ByteStreamSplit when output.Width > 0 && type != PhysicalType.Boolean:
                {
                    int w = output.Width;
                    if ((long)count * w > data.Length) throw new InvalidDataException($"BYTE_STREAM_SPLIT needs {(long)count * w} bytes, the page has {data.Length}");
                    // Streams are sized by the page's value count, which includes only non-null values.
                    int stride = data.Length / w;
                    if (stride < count) throw new InvalidDataException("BYTE_STREAM_SPLIT streams are too short");
                    var dst = output.AppendFixed(count);
                    for (int b = 0; b < w; b++)
                    {
                        var stream = data.Slice(b * stride, count);
                        for (int i = 0; i < count; i++) dst[i * w + b] = stream[i];
                    }
                    return;
                }
            default:
                throw new InvalidDataException($"encoding {encoding} is not supported for {type} values");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DecodePlain(ReadOnlySpan<byte> data, int count, PhysicalType type, ValueBuffer output)
    {
        if (type == PhysicalType.Boolean)
        {
            if ((count + 7) / 8 > data.Length) throw new InvalidDataException($"{count} PLAIN booleans need {(count + 7) / 8} bytes, the page has {data.Length}");
            var dst = output.AppendFixed(count);
            for (int i = 0; i < count; i++) dst[i] = (byte)((data[i >> 3] >> (i & 7)) & 1);
            return;
        }
        if (output.Width > 0)
        {
            long bytes = (long)count * output.Width;
            if (bytes > data.Length) throw new InvalidDataException($"{count} PLAIN values need {bytes} bytes, the page has {data.Length}");
            data[..(int)bytes].CopyTo(output.AppendFixed(count));
            return;
        }
        int pos = 0;
        for (int i = 0; i < count; i++)
        {
            if (pos > data.Length - 4) throw new InvalidDataException($"PLAIN byte array {i} of {count} runs past the page");
            int len = BinaryPrimitives.ReadInt32LittleEndian(data[pos..]);
            pos += 4;
            if (len < 0 || len > data.Length - pos) throw new InvalidDataException($"PLAIN byte array length {len} exceeds the page");
            output.AppendVar(data.Slice(pos, len));
            pos += len;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DecodeHybridToBytes(ref RleHybridDecoder dec, Span<byte> dst)
    {
        Span<int> tmp = stackalloc int[1024];
        int done = 0;
        while (done < dst.Length)
        {
            int n = dec.Read(tmp[..Math.Min(tmp.Length, dst.Length - done)]);
            if (n == 0) throw new InvalidDataException($"RLE data ends after {done} of {dst.Length} values");
            for (int i = 0; i < n; i++) dst[done + i] = (byte)tmp[i];
            done += n;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DecodeDictionary(ReadOnlySpan<byte> data, int count, ValueBuffer dict, ValueBuffer output)
    {
        if (data.Length < 1) throw new InvalidDataException("dictionary indices lack their bit width");
        var dec = new RleHybridDecoder(data[1..], data[0]);
        var idx = ArrayPool<int>.Shared.Rent(Math.Min(count, 4096));
        try
        {
            int done = 0;
            int w = dict.Width;
            while (done < count)
            {
                int n = dec.Read(idx.AsSpan(0, Math.Min(idx.Length, count - done)));
                if (n == 0) throw new InvalidDataException($"dictionary indices end after {done} of {count} values");
                if (w > 0)
                {
                    var dst = output.AppendFixed(n);
                    for (int i = 0; i < n; i++)
                    {
                        int k = idx[i];
                        if ((uint)k >= (uint)dict.Count) throw new InvalidDataException($"dictionary index {k} with {dict.Count} entries");
                        dict.Data.AsSpan(k * w, w).CopyTo(dst[(i * w)..]);
                    }
                }
                else
                {
                    for (int i = 0; i < n; i++)
                    {
                        int k = idx[i];
                        if ((uint)k >= (uint)dict.Count) throw new InvalidDataException($"dictionary index {k} with {dict.Count} entries");
                        output.AppendVar(dict.Get(k));
                    }
                }
                done += n;
            }
        }
        finally { ArrayPool<int>.Shared.Return(idx); }
    }

    private static void DecodeDeltaByteArray(ReadOnlySpan<byte> data, int count, ValueBuffer output)
    {
        int pos = 0;
        var prefixes = DeltaBinaryPacked.Decode(data, ref pos, count);
        var suffixes = DeltaBinaryPacked.Decode(data, ref pos, count);
        if (prefixes.Length != count || suffixes.Length != count)
            throw new InvalidDataException($"DELTA_BYTE_ARRAY holds {prefixes.Length}/{suffixes.Length} values, expected {count}");
        byte[] prev = [];
        int prevLen = 0;
        var scratch = new byte[64];
        for (int i = 0; i < count; i++)
        {
            long p = prefixes[i], s = suffixes[i];
            if (p < 0 || p > prevLen) throw new InvalidDataException($"DELTA_BYTE_ARRAY prefix {p} longer than the previous value ({prevLen})");
            if (s < 0 || s > data.Length - pos) throw new InvalidDataException($"DELTA_BYTE_ARRAY suffix length {s} exceeds the page");
            int len = (int)(p + s);
            if (scratch.Length < len) Array.Resize(ref scratch, Math.Max(len, scratch.Length * 2));
            prev.AsSpan(0, (int)p).CopyTo(scratch);
            data.Slice(pos, (int)s).CopyTo(scratch.AsSpan((int)p));
            pos += (int)s;
            var value = scratch.AsSpan(0, len);
            if (output.Width > 0)
            {
                if (len != output.Width) throw new InvalidDataException($"fixed-length value of {len} bytes, expected {output.Width}");
                value.CopyTo(output.AppendFixed(1));
            }
            else output.AppendVar(value);
            (prev, scratch) = (scratch, prev.Length >= 64 ? prev : new byte[64]);
            prevLen = len;
        }
    }
}
