using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Dreamer.Parquet.Compression;
using Dreamer.Parquet.Encodings;
using Dreamer.Parquet.Format;
using Dreamer.Parquet.Thrift;

namespace Dreamer.Parquet;

/// <summary>Decodes the pages of one column chunk (already in memory) into a <see cref="ColumnData"/>.</summary>
internal sealed class ColumnChunkReader
{
    private readonly ColumnDescriptor _col;
    private readonly ColumnMetaData _meta;
    private readonly string _file;
    private readonly ParquetReaderOptions _options;
    private readonly IntBuffer _def = new(), _rep = new();
    private readonly ValueBuffer _values;
    private ValueBuffer? _dict;
    private long _entries;

    public ColumnChunkReader(ColumnDescriptor col, ColumnMetaData meta, string file, ParquetReaderOptions options)
    {
        _col = col;
        _meta = meta;
        _file = file;
        _options = options;
        _values = new ValueBuffer(col.ValueWidth);
    }

    private ParquetFormatException Error(long offset, string detail, Exception? inner = null) =>
        new(_file, offset, $"column {_col}: {detail}", inner);

    /// <param name="chunk">The chunk's bytes.</param>
    /// <param name="chunkOffset">File offset of chunk[0].</param>
    /// <param name="rows">Rows in the row group: a flat column must hold exactly this many values.</param>
    public ColumnData Read(ArraySegment<byte> segment, long chunkOffset, long rows)
    {
        long expected = _meta.NumValues;
        if (expected < 0 || expected > _options.MaxValuesPerColumnChunk)
            throw Error(chunkOffset, $"num_values {expected} is outside 0..{_options.MaxValuesPerColumnChunk}");
        var chunk = segment.Array!;
        int pos = segment.Offset, end = segment.Offset + segment.Count;
        long baseOffset = chunkOffset - segment.Offset; // file offset of chunk[0]
        // Size the value buffer from what the file can hold (never from counts alone): a few growths at most.
        if (_values.Width > 0) _values.Reserve((int)Math.Min(expected * _values.Width, Math.Max(1L << 16, segment.Count * 4L)));
        while (pos < end && _entries < expected)
        {
            var r = new CompactReader(chunk, pos, end, baseOffset, _file);
            var header = PageHeader.Read(r);
            long headerOffset = baseOffset + pos;
            pos = r.Position;
            long payloadOffset = baseOffset + pos;
            if (header.CompressedPageSize < 0 || header.CompressedPageSize > end - pos)
                throw Error(headerOffset, $"page claims {header.CompressedPageSize} compressed bytes, {end - pos} remain in the chunk");
            if (header.UncompressedPageSize < 0 || header.UncompressedPageSize > _options.MaxPageBytes)
                throw Error(headerOffset, $"page claims {header.UncompressedPageSize} uncompressed bytes (limit {_options.MaxPageBytes})");
            var payload = new ReadOnlySpan<byte>(chunk, pos, header.CompressedPageSize);
            pos += header.CompressedPageSize;
            try
            {
                switch (header.Type)
                {
                    case PageType.DictionaryPage: ReadDictionaryPage(header, payload, payloadOffset); break;
                    case PageType.DataPage: ReadDataPageV1(header, payload, payloadOffset, expected); break;
                    case PageType.DataPageV2: ReadDataPageV2(header, payload, payloadOffset, expected); break;
                    default: break; // index pages and future page types carry no values
                }
            }
            catch (InvalidDataException e)
            {
                throw Error(payloadOffset, e.Message, e);
            }
        }
        if (_entries != expected)
            throw Error(baseOffset + pos, $"the chunk holds {_entries} values, its metadata says {expected}");
        if (_col.MaxRepetitionLevel == 0 && _entries != rows)
            throw Error(chunkOffset, $"the chunk holds {_entries} values for {rows} rows");
        try
        {
            return Assemble();
        }
        catch (InvalidDataException e)
        {
            throw Error(chunkOffset, e.Message, e);
        }
    }

    private void CheckCompressedRatio(PageHeader h, long offset)
    {
        // Codecs cannot expand without bound: refuse headers that promise more than the codec could produce.
        long limit = _meta.Codec switch
        {
            CompressionCodec.Uncompressed => h.CompressedPageSize,
            CompressionCodec.Snappy => 32L + h.CompressedPageSize * 32L,
            CompressionCodec.Gzip => 1024L + h.CompressedPageSize * 1100L,
            _ => 1024L + h.CompressedPageSize * 40000L,
        };
        if (h.UncompressedPageSize > limit)
            throw Error(offset, $"page claims {h.UncompressedPageSize} uncompressed bytes from {h.CompressedPageSize} {_meta.Codec} bytes");
    }

    /// <summary>Returns the page body decompressed; rented is non-null when the caller must return it to the pool.</summary>
    private ReadOnlySpan<byte> Decompress(ReadOnlySpan<byte> payload, int uncompressedSize, long offset, out byte[]? rented)
    {
        rented = null;
        if (_meta.Codec == CompressionCodec.Uncompressed)
        {
            if (payload.Length != uncompressedSize)
                throw Error(offset, $"uncompressed page has {payload.Length} bytes, its header says {uncompressedSize}");
            return payload;
        }
        if (!Codecs.IsSupported(_meta.Codec)) throw Error(offset, $"compression codec {_meta.Codec} is not supported");
        // A zero-length payload is an empty page, not an empty compressed stream.
        if (payload.Length == 0 && uncompressedSize == 0) return payload;
        rented = ArrayPool<byte>.Shared.Rent(Math.Max(1, uncompressedSize));
        var dst = rented.AsSpan(0, uncompressedSize);
        try
        {
            Codecs.Decompress(_meta.Codec, payload, dst);
        }
        catch (InvalidDataException e)
        {
            ArrayPool<byte>.Shared.Return(rented);
            rented = null;
            throw Error(offset, $"{_meta.Codec} page does not decompress to its declared {uncompressedSize} bytes: {e.Message}", e);
        }
        return dst;
    }

    private void ReadDictionaryPage(PageHeader h, ReadOnlySpan<byte> payload, long offset)
    {
        if (_dict != null) throw Error(offset, "second dictionary page in one column chunk");
        var dh = h.DictionaryPage ?? throw Error(offset, "dictionary page without a dictionary header");
        CheckCompressedRatio(h, offset);
        var body = Decompress(payload, h.UncompressedPageSize, offset, out var rented);
        try
        {
            // Every PLAIN value takes at least one byte (booleans aside), so the body bounds the count.
            if (dh.NumValues < 0 || dh.NumValues > Math.Max(body.Length, 0) * 8L)
                throw Error(offset, $"dictionary page claims {dh.NumValues} values in {body.Length} bytes");
            if (dh.Encoding is not (ParquetEncoding.Plain or ParquetEncoding.PlainDictionary))
                throw Error(offset, $"dictionary page encoding {dh.Encoding}");
            _dict = new ValueBuffer(_col.ValueWidth);
            ValueDecoder.DecodePlain(body, dh.NumValues, _col.PhysicalType, _dict);
        }
        finally { if (rented != null) ArrayPool<byte>.Shared.Return(rented); }
    }

    private int CheckCount(int numValues, long expected, long offset)
    {
        if (numValues < 0 || _entries + numValues > expected)
            throw Error(offset, $"page claims {numValues} values; the chunk has {expected - _entries} left");
        return numValues;
    }

    private void ReadDataPageV1(PageHeader h, ReadOnlySpan<byte> payload, long offset, long expected)
    {
        var dh = h.DataPage ?? throw Error(offset, "data page without a data page header");
        int n = CheckCount(dh.NumValues, expected, offset);
        CheckCompressedRatio(h, offset);
        var body = Decompress(payload, h.UncompressedPageSize, offset, out var rented);
        try
        {
            int pos = 0;
            if (_col.MaxRepetitionLevel > 0) pos += ReadLevelsV1(body[pos..], dh.RepetitionLevelEncoding, _col.MaxRepetitionLevel, n, _rep);
            if (_col.MaxDefinitionLevel > 0) pos += ReadLevelsV1(body[pos..], dh.DefinitionLevelEncoding, _col.MaxDefinitionLevel, n, _def);
            DecodeValues(body[pos..], dh.Encoding, n);
        }
        finally { if (rented != null) ArrayPool<byte>.Shared.Return(rented); }
    }

    private void ReadDataPageV2(PageHeader h, ReadOnlySpan<byte> payload, long offset, long expected)
    {
        var dh = h.DataPageV2 ?? throw Error(offset, "v2 data page without a v2 header");
        int n = CheckCount(dh.NumValues, expected, offset);
        int repLen = dh.RepetitionLevelsByteLength, defLen = dh.DefinitionLevelsByteLength;
        if (repLen < 0 || defLen < 0 || (long)repLen + defLen > payload.Length || (long)repLen + defLen > h.UncompressedPageSize)
            throw Error(offset, $"level lengths {repLen}+{defLen} exceed the page");
        // v2 levels are never compressed; only the values section is.
        if (_col.MaxRepetitionLevel > 0) ReadLevels(payload[..repLen], _col.MaxRepetitionLevel, n, _rep);
        if (_col.MaxDefinitionLevel > 0) ReadLevels(payload.Slice(repLen, defLen), _col.MaxDefinitionLevel, n, _def);
        var values = payload[(repLen + defLen)..];
        int valuesSize = h.UncompressedPageSize - repLen - defLen;
        byte[]? rented = null;
        try
        {
            ReadOnlySpan<byte> body;
            if (!dh.IsCompressed || _meta.Codec == CompressionCodec.Uncompressed)
            {
                if (values.Length != valuesSize) throw Error(offset, $"values section has {values.Length} bytes, the header says {valuesSize}");
                body = values;
            }
            else
            {
                var ratioHeader = new PageHeader { CompressedPageSize = values.Length, UncompressedPageSize = valuesSize };
                CheckCompressedRatio(ratioHeader, offset);
                body = Decompress(values, valuesSize, offset, out rented);
            }
            DecodeValues(body, dh.Encoding, n);
        }
        finally { if (rented != null) ArrayPool<byte>.Shared.Return(rented); }
    }

    private int ReadLevelsV1(ReadOnlySpan<byte> data, ParquetEncoding encoding, int maxLevel, int n, IntBuffer output)
    {
        if (encoding == ParquetEncoding.BitPacked)
        {
            // Deprecated BIT_PACKED levels: MSB-first, no length prefix.
            int width = Bits.WidthFor(maxLevel);
            long bytes = ((long)n * width + 7) / 8;
            if (bytes > data.Length) throw new InvalidDataException($"BIT_PACKED levels need {bytes} bytes, the page has {data.Length}");
            var dst = output.Append(n);
            for (int i = 0; i < n; i++)
            {
                int v = 0;
                for (int b = 0; b < width; b++)
                {
                    long bit = (long)i * width + b;
                    v = (v << 1) | ((data[(int)(bit >> 3)] >> (7 - (int)(bit & 7))) & 1);
                }
                if (v > maxLevel) throw new InvalidDataException($"level {v} exceeds the maximum {maxLevel}");
                dst[i] = v;
            }
            return (int)bytes;
        }
        if (encoding != ParquetEncoding.Rle) throw new InvalidDataException($"level encoding {encoding} is not supported");
        if (data.Length < 4) throw new InvalidDataException("levels lack their length prefix");
        int len = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (len < 0 || len > data.Length - 4) throw new InvalidDataException($"levels length {len} exceeds the page ({data.Length - 4} bytes)");
        ReadLevels(data.Slice(4, len), maxLevel, n, output);
        return 4 + len;
    }

    private static void ReadLevels(ReadOnlySpan<byte> data, int maxLevel, int n, IntBuffer output)
    {
        int start = output.Length;
        var dst = output.Append(n);
        var dec = new RleHybridDecoder(data, Bits.WidthFor(maxLevel));
        int got = dec.Read(dst);
        if (got != n)
        {
            output.Truncate(start);
            throw new InvalidDataException($"levels end after {got} of {n} values");
        }
        foreach (int v in dst)
            if ((uint)v > (uint)maxLevel) throw new InvalidDataException($"level {v} exceeds the maximum {maxLevel}");
    }

    private void DecodeValues(ReadOnlySpan<byte> body, ParquetEncoding encoding, int n)
    {
        int present = n;
        if (_col.MaxDefinitionLevel > 0)
        {
            present = 0;
            int maxDef = _col.MaxDefinitionLevel;
            foreach (int d in _def.Span[^n..]) if (d == maxDef) present++;
        }
        ValueDecoder.Decode(body, encoding, present, _col.PhysicalType, _dict, _values);
        _entries += n;
    }

    /// <summary>Turns levels plus dense values into slots with validity and list offsets.</summary>
    private ColumnData Assemble()
    {
        int n = checked((int)_entries);
        int maxDef = _col.MaxDefinitionLevel;
        var defs = _def.Span;
        var reps = _rep.Span;
        int repeatDepth = _col.MaxRepetitionLevel;
        ListLevel[] lists;
        int slots;
        bool[]? validity = null;
        if (repeatDepth == 0)
        {
            slots = n;
            if (maxDef > 0)
            {
                validity = new bool[n];
                bool anyNull = false;
                for (int i = 0; i < n; i++) { bool v = defs[i] == maxDef; validity[i] = v; anyNull |= !v; }
                if (!anyNull) validity = null;
            }
            lists = [];
        }
        else
        {
            var repDefs = _col.RepeatedDefinitionLevels;
            var offsets = new IntBuffer[repeatDepth];
            var listValid = new List<bool>[repeatDepth];
            var slotCount = new int[repeatDepth];
            for (int k = 0; k < repeatDepth; k++) { offsets[k] = new IntBuffer(); listValid[k] = []; }
            var leafValid = new List<bool>();
            for (int i = 0; i < n; i++)
            {
                int r = reps[i], d = defs[i];
                if (i == 0 && r != 0) throw new InvalidDataException("the first value of a column chunk does not start a row");
                bool reachedLeaf = true;
                for (int k = 0; k < repeatDepth; k++)
                {
                    // Lists outside the repeated level continue in their current slot.
                    if (k < r - 1) continue;
                    // Repetition level r adds an element to the level-r list and starts fresh lists below it.
                    if (k >= r)
                    {
                        offsets[k].Add(slotCount[k]);
                        listValid[k].Add(d >= repDefs[k] - 1);
                    }
                    if (d >= repDefs[k]) slotCount[k]++;
                    else { reachedLeaf = false; break; }
                }
                if (reachedLeaf) leafValid.Add(d == maxDef);
            }
            lists = new ListLevel[repeatDepth];
            for (int k = 0; k < repeatDepth; k++)
            {
                offsets[k].Add(slotCount[k]);
                var lv = listValid[k];
                lists[k] = new ListLevel(offsets[k].ToArray(), lv.Contains(false) ? [.. lv] : null);
            }
            slots = leafValid.Count;
            if (leafValid.Contains(false)) validity = [.. leafValid];
        }
        return BuildValues(slots, validity, lists);
    }

    private ColumnData BuildValues(int slots, bool[]? validity, ListLevel[] lists)
    {
        var v = _values;
        int present = validity == null ? slots : validity.Count(x => x);
        if (present != v.Count) throw new InvalidDataException($"levels describe {present} values, the pages hold {v.Count}");
        int w = v.Width;
        switch (_col.PhysicalType)
        {
            case PhysicalType.Boolean:
                {
                    var result = new bool[slots];
                    for (int s = 0, j = 0; s < slots; s++) if (validity == null || validity[s]) result[s] = v.Data[j++] != 0;
                    return ColumnData.Create(slots, result, null, null, 0, validity, lists);
                }
            case PhysicalType.Int32: return ColumnData.Create(slots, Spread<int>(slots, validity), null, null, 0, validity, lists);
            case PhysicalType.Int64: return ColumnData.Create(slots, Spread<long>(slots, validity), null, null, 0, validity, lists);
            case PhysicalType.Float: return ColumnData.Create(slots, Spread<float>(slots, validity), null, null, 0, validity, lists);
            case PhysicalType.Double: return ColumnData.Create(slots, Spread<double>(slots, validity), null, null, 0, validity, lists);
            case PhysicalType.ByteArray:
                {
                    var offsets = new int[slots + 1];
                    for (int s = 0, j = 0; s < slots; s++)
                    {
                        if (validity == null || validity[s]) j++;
                        offsets[s + 1] = v.Offsets[j];
                    }
                    return ColumnData.Create(slots, null, v.Data, offsets, 0, validity, lists);
                }
            default:
                {
                    // FIXED_LEN_BYTE_ARRAY and INT96: null slots are zero-filled.
                    byte[] bytes;
                    if (validity == null) bytes = v.Data; // may be longer than slots * w; ColumnData reads only the prefix
                    else
                    {
                        bytes = new byte[(long)slots * w];
                        for (int s = 0, j = 0; s < slots; s++)
                            if (validity[s]) v.Data.AsSpan(j++ * w, w).CopyTo(bytes.AsSpan(s * w));
                    }
                    return ColumnData.Create(slots, null, bytes, null, w, validity, lists);
                }
        }
    }

    private T[] Spread<T>(int slots, bool[]? validity) where T : unmanaged
    {
        var dense = MemoryMarshal.Cast<byte, T>(_values.Data.AsSpan(0, _values.DataLength));
        var result = new T[slots];
        if (validity == null) dense[..slots].CopyTo(result);
        else for (int s = 0, j = 0; s < slots; s++) if (validity[s]) result[s] = dense[j++];
        return result;
    }
}
