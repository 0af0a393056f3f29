using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Dreamer.Parquet.Compression;
using Dreamer.Parquet.Encodings;
using Dreamer.Parquet.Format;
using Dreamer.Parquet.Thrift;

namespace Dreamer.Parquet;

/// <summary>Decodes the pages of one column chunk (already in memory) into a <see cref="ColumnData"/>.</summary>
/// <remarks>
/// Its per-chunk and per-page methods are marked AggressiveOptimization (see Format/Metadata.cs): tiered compilation
/// would compile each up to three or four times during a process's first reads, on the cores those reads use.
/// </remarks>
internal sealed class ColumnChunkReader
{
    private readonly ColumnDescriptor _col;
    private readonly ColumnMetaData _meta;
    private readonly string _file;
    private readonly ParquetReaderOptions _options;
    private readonly DecodeWorkers _workers;
    private readonly IntBuffer _def = new(), _rep = new();
    private readonly ValueBuffer _values;
    private ValueBuffer? _dict;
    private long _entries;

    public ColumnChunkReader(ColumnDescriptor col, ColumnMetaData meta, string file, ParquetReaderOptions options, DecodeWorkers workers)
    {
        _col = col;
        _meta = meta;
        _file = file;
        _options = options;
        _workers = workers;
        _values = new ValueBuffer(col.ValueWidth);
    }

    private ParquetFormatException Error(long offset, string detail, Exception? inner = null) =>
        new(_file, offset, $"column {_col}: {detail}", inner);

    /// <summary>A page located in the chunk: its header, where its payload lies, and (once decompressed) its body.</summary>
    private sealed class Page
    {
        public required PageHeader Header;
        public required long HeaderOffset;
        public required int PayloadStart;   // index into the chunk array
        public required long PayloadOffset; // file offset of the payload
        /// <summary>Decompressed body (v2: the values section only); Rented is returned to the pool after decoding.</summary>
        public byte[]? Rented;
        public byte[]? BodyArray;
        public int BodyStart, BodyLength;
        public Exception? Failure;
        public ReadOnlySpan<byte> Body => new(BodyArray, BodyStart, BodyLength);
    }

    /// <param name="segment">The chunk's bytes.</param>
    /// <param name="chunkOffset">File offset of segment[0].</param>
    /// <param name="rows">Rows in the row group: a flat column must hold exactly this many values.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ColumnData Read(ArraySegment<byte> segment, long chunkOffset, long rows)
    {
        long expected = _meta.NumValues;
        if (expected < 0 || expected > _options.MaxValuesPerColumnChunk)
            throw Error(chunkOffset, $"num_values {expected} is outside 0..{_options.MaxValuesPerColumnChunk}");
        var chunk = segment.Array!;
        long baseOffset = chunkOffset - segment.Offset; // file offset of chunk[0]
        var pages = ScanPages(chunk, segment.Offset, segment.Offset + segment.Count, baseOffset, expected, out int stop);
        if (TryReadPlainFixed(chunk, pages, expected, rows, segment.Count) is { } fast) return fast;
        if (TryReadPlainBinary(chunk, pages, expected, rows, segment.Count) is { } binary) return binary;

        // Size the value buffer from what the pages say they hold, when the file plausibly holds that much (never from
        // counts alone): then values are decoded without regrowing the buffer.
        long declaredBytes = 0;
        foreach (var page in pages)
            if (page.Header.Type is PageType.DataPage or PageType.DataPageV2) declaredBytes += page.Header.UncompressedPageSize;
        long plausible = Math.Max(1L << 16, Math.Min(64L << 20, 256L * segment.Count));
        if (_values.Width > 0) _values.Reserve((int)Math.Min(expected * _values.Width, Math.Max(plausible, segment.Count * 4L)));
        else
        {
            _values.Reserve((int)Math.Min(declaredBytes, plausible));
            _values.ReserveCount((int)Math.Min(expected, plausible / 4));
        }
        // Pages decompress in parallel a window at a time (a few pages per thread, at most ~64 MB unless one page is
        // larger: bounded memory), then decode in order.
        int window = _workers.Count * 2;
        for (int w = 0, count; w < pages.Count; w += count)
        {
            long windowBytes = pages[w].Header.UncompressedPageSize;
            count = 1;
            while (w + count < pages.Count && count < window && windowBytes + pages[w + count].Header.UncompressedPageSize <= 64L << 20)
                windowBytes += pages[w + count++].Header.UncompressedPageSize;
            try
            {
                ForEach(w, w + count, i => Decompress(chunk, pages[i]));
                for (int i = w; i < w + count; i++) if (pages[i].Failure is { } failure) Rethrow(failure);
                for (int i = w; i < w + count; i++)
                {
                    var page = pages[i];
                    try
                    {
                        switch (page.Header.Type)
                        {
                            case PageType.DictionaryPage: ReadDictionaryPage(page.Header, page.Body, page.PayloadOffset); break;
                            case PageType.DataPage: ReadDataPageV1(page.Header, page.Body, page.PayloadOffset); break;
                            case PageType.DataPageV2: ReadDataPageV2(page.Header, new ReadOnlySpan<byte>(chunk, page.PayloadStart, page.Header.CompressedPageSize), page.Body); break;
                            default: break; // index pages and future page types carry no values
                        }
                    }
                    catch (InvalidDataException e)
                    {
                        throw Error(page.PayloadOffset, e.Message, e);
                    }
                }
            }
            finally
            {
                for (int i = w; i < w + count; i++)
                    if (pages[i].Rented is { } rented) { pages[i].Rented = null; ArrayPool<byte>.Shared.Return(rented); }
            }
        }
        if (_entries != expected)
            throw Error(baseOffset + stop, $"the chunk holds {_entries} values, its metadata says {expected}");
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

    private static void Rethrow(Exception e) => System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e).Throw();

    /// <summary>Runs body(i) for i in [from, to), in parallel as far as workers are free; failures are recorded on the pages, not thrown.</summary>
    private void ForEach(int from, int to, Action<int> body) => _workers.For(from, to, body);

    /// <summary>
    /// Parses every page header of the chunk (payloads are skipped), checking sizes and value counts, until the
    /// data pages hold the chunk's values. stop: the chunk index where the scan ended.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private List<Page> ScanPages(byte[] chunk, int pos, int end, long baseOffset, long expected, out int stop)
    {
        var pages = new List<Page>();
        long declared = 0;
        while (pos < end && declared < expected)
        {
            var r = new CompactReader(chunk, pos, end, baseOffset, _file);
            var header = PageHeader.Read(r);
            long headerOffset = baseOffset + pos;
            pos = r.Position;
            if (header.CompressedPageSize < 0 || header.CompressedPageSize > end - pos)
                throw Error(headerOffset, $"page claims {header.CompressedPageSize} compressed bytes, {end - pos} remain in the chunk");
            if (header.UncompressedPageSize < 0 || header.UncompressedPageSize > _options.MaxPageBytes)
                throw Error(headerOffset, $"page claims {header.UncompressedPageSize} uncompressed bytes (limit {_options.MaxPageBytes})");
            var page = new Page { Header = header, HeaderOffset = headerOffset, PayloadStart = pos, PayloadOffset = baseOffset + pos };
            pos += header.CompressedPageSize;
            switch (header.Type)
            {
                case PageType.DictionaryPage:
                    if (header.DictionaryPage == null) throw Error(page.PayloadOffset, "dictionary page without a dictionary header");
                    CheckCompressedRatio(header, page.PayloadOffset);
                    break;
                case PageType.DataPage:
                    {
                        var dh = header.DataPage ?? throw Error(page.PayloadOffset, "data page without a data page header");
                        if (dh.NumValues < 0 || declared + dh.NumValues > expected)
                            throw Error(page.PayloadOffset, $"page claims {dh.NumValues} values; the chunk has {expected - declared} left");
                        declared += dh.NumValues;
                        CheckCompressedRatio(header, page.PayloadOffset);
                        break;
                    }
                case PageType.DataPageV2:
                    {
                        var dh = header.DataPageV2 ?? throw Error(page.PayloadOffset, "v2 data page without a v2 header");
                        if (dh.NumValues < 0 || declared + dh.NumValues > expected)
                            throw Error(page.PayloadOffset, $"page claims {dh.NumValues} values; the chunk has {expected - declared} left");
                        declared += dh.NumValues;
                        int repLen = dh.RepetitionLevelsByteLength, defLen = dh.DefinitionLevelsByteLength;
                        if (repLen < 0 || defLen < 0 || (long)repLen + defLen > header.CompressedPageSize || (long)repLen + defLen > header.UncompressedPageSize)
                            throw Error(page.PayloadOffset, $"level lengths {repLen}+{defLen} exceed the page");
                        if (dh.IsCompressed && _meta.Codec != CompressionCodec.Uncompressed)
                            CheckCompressedRatio(new PageHeader
                            {
                                CompressedPageSize = header.CompressedPageSize - repLen - defLen,
                                UncompressedPageSize = header.UncompressedPageSize - repLen - defLen,
                            }, page.PayloadOffset);
                        break;
                    }
                default:
                    continue; // index pages and future page types carry no values
            }
            pages.Add(page);
        }
        stop = pos;
        return pages;
    }

    /// <summary>
    /// Required flat fixed-width columns whose pages are all PLAIN: each page decompresses straight into its place
    /// in the result (pages in parallel), with no intermediate copy. Null when the chunk does not qualify.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ColumnData? TryReadPlainFixed(byte[] chunk, List<Page> pages, long expected, long rows, int chunkBytes)
    {
        int w = _col.ValueWidth;
        if (_col.MaxRepetitionLevel != 0 || _col.MaxDefinitionLevel != 0 || w == 0 || _col.PhysicalType == PhysicalType.Boolean
            || expected != rows || !Codecs.IsSupported(_meta.Codec))
            return null;
        long total = 0;
        var starts = new long[pages.Count];
        for (int i = 0; i < pages.Count; i++)
        {
            var h = pages[i].Header;
            int n;
            if (h.Type == PageType.DataPage && h.DataPage!.Encoding == ParquetEncoding.Plain) n = h.DataPage.NumValues;
            else if (h.Type == PageType.DataPageV2 && h.DataPageV2!.Encoding == ParquetEncoding.Plain
                     && h.DataPageV2.RepetitionLevelsByteLength == 0 && h.DataPageV2.DefinitionLevelsByteLength == 0) n = h.DataPageV2.NumValues;
            else return null;
            if ((long)n * w != h.UncompressedPageSize) return null;
            starts[i] = total;
            total += h.UncompressedPageSize;
        }
        // The values must add up, and the result is allocated up front only when the file plausibly holds it.
        if (total != expected * w || total > Array.MaxLength || total > Math.Max(64L << 20, 256L * chunkBytes)) return null;
        int count = (int)expected;
        Array result = _col.PhysicalType switch
        {
            PhysicalType.Int32 => GC.AllocateUninitializedArray<int>(count),
            PhysicalType.Int64 => GC.AllocateUninitializedArray<long>(count),
            PhysicalType.Float => GC.AllocateUninitializedArray<float>(count),
            PhysicalType.Double => GC.AllocateUninitializedArray<double>(count),
            _ => LargeArrays.AllocateUninitialized<byte>((int)total),
        };
        ForEach(0, pages.Count, i =>
        {
            var page = pages[i];
            var h = page.Header;
            var payload = new ReadOnlySpan<byte>(chunk, page.PayloadStart, h.CompressedPageSize);
            var dst = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetArrayDataReference(result), (int)total).Slice((int)starts[i], h.UncompressedPageSize);
            try
            {
                Inflate(h, payload, dst);
            }
            catch (InvalidDataException e)
            {
                page.Failure = Error(page.PayloadOffset, e.Message, e);
            }
        });
        foreach (var page in pages) if (page.Failure is { } failure) Rethrow(failure);
        _entries = expected;
        return result is byte[] bytes
            ? ColumnData.Create(count, null, bytes, null, w, null, [])
            : ColumnData.Create(count, result, null, null, 0, null, []);
    }

    /// <summary>
    /// A page's payload (v2: its values section) into dst, which has exactly the size the header promises.
    /// Failures are <see cref="InvalidDataException"/>s.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Inflate(PageHeader h, ReadOnlySpan<byte> payload, Span<byte> dst)
    {
        // v2 values sections flagged uncompressed (and all of them in an uncompressed chunk) are stored as they are.
        if (h.Type == PageType.DataPageV2 && (!h.DataPageV2!.IsCompressed || _meta.Codec == CompressionCodec.Uncompressed))
        {
            if (payload.Length != dst.Length) throw new InvalidDataException($"values section has {payload.Length} bytes, the header says {dst.Length}");
            payload.CopyTo(dst);
        }
        else if (payload.Length == 0 && dst.Length == 0) { }
        else
        {
            try { Codecs.Decompress(_meta.Codec, payload, dst); }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"{_meta.Codec} page does not decompress to its declared {dst.Length} bytes: {e.Message}", e);
            }
        }
    }

    /// <summary>
    /// Flat (required or optional) BYTE_ARRAY columns whose pages are all PLAIN, without a dictionary: each page
    /// decompresses straight into its own region of the result array (pages in parallel), where its values are then
    /// packed (the length prefixes and the levels squeezed out): right behind the previous page's values when that page
    /// is done (always so when one thread takes the pages in order), else at the start of its region, and a last pass
    /// closes the gaps. No page buffers, no copy through a growing value buffer. Null when the chunk does not qualify.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ColumnData? TryReadPlainBinary(byte[] chunk, List<Page> pages, long expected, long rows, int chunkBytes)
    {
        int maxDef = _col.MaxDefinitionLevel;
        if (_col.PhysicalType != PhysicalType.ByteArray || _col.MaxRepetitionLevel != 0 || maxDef > 1 || pages.Count == 0
            || expected != rows || !Codecs.IsSupported(_meta.Codec))
            return null;
        // Page i decompresses into the result's bytes [starts[i], starts[i + 1]) and fills slots [firstSlot[i], firstSlot[i + 1]).
        var starts = new long[pages.Count + 1];
        var firstSlot = new int[pages.Count + 1];
        long total = 0, slots = 0;
        for (int i = 0; i < pages.Count; i++)
        {
            var h = pages[i].Header;
            int n, size;
            if (h.Type == PageType.DataPage && h.DataPage!.Encoding == ParquetEncoding.Plain)
                (n, size) = (h.DataPage.NumValues, h.UncompressedPageSize);
            else if (h.Type == PageType.DataPageV2 && h.DataPageV2!.Encoding == ParquetEncoding.Plain && h.DataPageV2.RepetitionLevelsByteLength == 0)
                (n, size) = (h.DataPageV2.NumValues, h.UncompressedPageSize - h.DataPageV2.DefinitionLevelsByteLength);
            else return null;
            starts[i] = total;
            firstSlot[i] = (int)slots;
            total += size;
            slots += n;
        }
        starts[^1] = total;
        firstSlot[^1] = (int)slots;
        // The slots must add up, and the result is allocated up front only when the file plausibly holds it.
        if (slots != expected || total > Array.MaxLength || total > Math.Max(64L << 20, 256L * chunkBytes)) return null;
        var data = LargeArrays.AllocateUninitialized<byte>((int)total);
        var offsets = new int[slots + 1];
        bool[]? validity = maxDef > 0 ? new bool[slots] : null;
        // packedAt[i]: where page i's values went; packedEnd[i]: where they end, once they follow the previous page's (else -1).
        var packedAt = new int[pages.Count];
        var packedEnd = new int[pages.Count];
        packedEnd.AsSpan().Fill(-1);
        ForEach(0, pages.Count, i =>
        {
            var page = pages[i];
            try
            {
                int n = firstSlot[i + 1] - firstSlot[i];
                var region = data.AsSpan((int)starts[i], (int)(starts[i + 1] - starts[i]));
                var valid = validity == null ? default : validity.AsSpan(firstSlot[i], n);
                int present = InflateBinaryPage(chunk, page, region, valid, out int pos);
                // Behind the previous page's values when those are final: the bytes between them and this region are free.
                int previousEnd = i == 0 ? 0 : Volatile.Read(ref packedEnd[i - 1]);
                int at = previousEnd >= 0 ? previousEnd : (int)starts[i];
                int end = PackBinaryValues(data, (int)starts[i], region.Length, pos, at, present, offsets.AsSpan(firstSlot[i] + 1, n), valid);
                packedAt[i] = at;
                if (previousEnd >= 0) Volatile.Write(ref packedEnd[i], end);
                else packedEnd[i] = -1 - end; // not final: remembered (as -1 - end) for the last pass
            }
            catch (InvalidDataException e)
            {
                page.Failure = Error(page.PayloadOffset, e.Message, e);
            }
        });
        foreach (var page in pages) if (page.Failure is { } failure) Rethrow(failure);
        // Pages packed while their predecessor was not done move down behind it now.
        int cursor = 0;
        for (int i = 0; i < pages.Count; i++)
        {
            int end = packedEnd[i] >= 0 ? packedEnd[i] : -1 - packedEnd[i], at = packedAt[i], gap = at - cursor;
            if (gap != 0)
            {
                data.AsSpan(at, end - at).CopyTo(data.AsSpan(cursor));
                foreach (ref int o in offsets.AsSpan(firstSlot[i] + 1, firstSlot[i + 1] - firstSlot[i])) o -= gap;
            }
            cursor += end - at;
        }
        if (validity != null && Array.IndexOf(validity, false) < 0) validity = null;
        _entries = expected;
        return ColumnData.Create((int)slots, null, data, offsets, 0, validity, []);
    }

    /// <summary>
    /// Decompresses one PLAIN BYTE_ARRAY page (v2: its values section) into region and reads its definition levels into
    /// valid (optional columns). Returns the count of values; pos: where they start in region.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int InflateBinaryPage(byte[] chunk, Page page, Span<byte> region, Span<bool> valid, out int pos)
    {
        var h = page.Header;
        int n = valid.Length;
        var payload = new ReadOnlySpan<byte>(chunk, page.PayloadStart, h.CompressedPageSize);
        pos = 0;
        var defs = valid.IsEmpty ? null : new IntBuffer();
        if (h.Type == PageType.DataPageV2)
        {
            var dh = h.DataPageV2!;
            Inflate(h, payload[dh.DefinitionLevelsByteLength..], region);
            if (defs != null) ReadLevels(payload[..dh.DefinitionLevelsByteLength], 1, n, defs);
        }
        else
        {
            Inflate(h, payload, region);
            if (defs != null) pos = ReadLevelsV1(region, h.DataPage!.DefinitionLevelEncoding, 1, n, defs);
        }
        if (defs == null) return -1; // required: every slot holds a value
        int present = 0;
        var levels = defs.Span;
        for (int s = 0; s < n; s++)
        {
            bool v = levels[s] == 1;
            valid[s] = v;
            present += v ? 1 : 0;
        }
        return present;
    }

    /// <summary>
    /// Packs the values of a decompressed page, [length][bytes]... from data[regionStart + pos], to data[at...]; at is
    /// never past regionStart, so each value moves down over bytes already read. ends receives each slot's end offset.
    /// Returns where the packed values end.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int PackBinaryValues(byte[] data, int regionStart, int regionLength, int pos, int at, int present, Span<int> ends, ReadOnlySpan<bool> valid)
    {
        int end = regionStart + regionLength, read = regionStart + pos, written = at, value = 0;
        if (present < 0) present = ends.Length;
        for (int s = 0; s < ends.Length; s++)
        {
            if (valid.IsEmpty || valid[s])
            {
                if (read > end - 4) throw new InvalidDataException($"PLAIN byte array {value} of {present} runs past the page");
                int len = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(read));
                read += 4;
                if (len < 0 || len > end - read) throw new InvalidDataException($"PLAIN byte array length {len} exceeds the page");
                data.AsSpan(read, len).CopyTo(data.AsSpan(written));
                written += len;
                read += len;
                value++;
            }
            ends[s] = written;
        }
        return written;
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

    /// <summary>Decompresses a page's body (v2: its values section) into a pooled buffer; failures are recorded on the page.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Decompress(byte[] chunk, Page page)
    {
        try
        {
            var h = page.Header;
            int start = page.PayloadStart, length = h.CompressedPageSize, size = h.UncompressedPageSize;
            bool compressed = _meta.Codec != CompressionCodec.Uncompressed;
            if (h.Type == PageType.DataPageV2)
            {
                int levels = h.DataPageV2!.RepetitionLevelsByteLength + h.DataPageV2.DefinitionLevelsByteLength;
                start += levels; length -= levels; size -= levels;
                // v2 levels are never compressed; only the values section is, and only when flagged.
                compressed &= h.DataPageV2.IsCompressed;
                if (!compressed && length != size)
                    throw Error(page.PayloadOffset, $"values section has {length} bytes, the header says {size}");
            }
            if (!compressed)
            {
                if (length != size) throw Error(page.PayloadOffset, $"uncompressed page has {length} bytes, its header says {size}");
                (page.BodyArray, page.BodyStart, page.BodyLength) = (chunk, start, length);
                return;
            }
            if (!Codecs.IsSupported(_meta.Codec)) throw Error(page.PayloadOffset, $"compression codec {_meta.Codec} is not supported");
            // A zero-length payload is an empty page, not an empty compressed stream.
            if (length == 0 && size == 0)
            {
                (page.BodyArray, page.BodyStart, page.BodyLength) = (chunk, start, 0);
                return;
            }
            var rented = ArrayPool<byte>.Shared.Rent(Math.Max(1, size));
            try
            {
                Codecs.Decompress(_meta.Codec, new ReadOnlySpan<byte>(chunk, start, length), rented.AsSpan(0, size));
            }
            catch (InvalidDataException e)
            {
                ArrayPool<byte>.Shared.Return(rented);
                throw Error(page.PayloadOffset, $"{_meta.Codec} page does not decompress to its declared {size} bytes: {e.Message}", e);
            }
            page.Rented = rented;
            (page.BodyArray, page.BodyStart, page.BodyLength) = (rented, 0, size);
        }
        catch (ParquetFormatException e)
        {
            page.Failure = e;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReadDictionaryPage(PageHeader h, ReadOnlySpan<byte> body, long offset)
    {
        if (_dict != null) throw Error(offset, "second dictionary page in one column chunk");
        var dh = h.DictionaryPage!;
        // Every PLAIN value takes at least one byte (booleans aside), so the body bounds the count.
        if (dh.NumValues < 0 || dh.NumValues > Math.Max(body.Length, 0) * 8L)
            throw Error(offset, $"dictionary page claims {dh.NumValues} values in {body.Length} bytes");
        if (dh.Encoding is not (ParquetEncoding.Plain or ParquetEncoding.PlainDictionary))
            throw Error(offset, $"dictionary page encoding {dh.Encoding}");
        _dict = new ValueBuffer(_col.ValueWidth);
        ValueDecoder.DecodePlain(body, dh.NumValues, _col.PhysicalType, _dict);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReadDataPageV1(PageHeader h, ReadOnlySpan<byte> body, long offset)
    {
        var dh = h.DataPage!;
        int n = dh.NumValues;
        int pos = 0;
        if (_col.MaxRepetitionLevel > 0) pos += ReadLevelsV1(body[pos..], dh.RepetitionLevelEncoding, _col.MaxRepetitionLevel, n, _rep);
        if (_col.MaxDefinitionLevel > 0) pos += ReadLevelsV1(body[pos..], dh.DefinitionLevelEncoding, _col.MaxDefinitionLevel, n, _def);
        DecodeValues(body[pos..], dh.Encoding, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReadDataPageV2(PageHeader h, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> values)
    {
        var dh = h.DataPageV2!;
        int n = dh.NumValues;
        int repLen = dh.RepetitionLevelsByteLength, defLen = dh.DefinitionLevelsByteLength;
        if (_col.MaxRepetitionLevel > 0) ReadLevels(payload[..repLen], _col.MaxRepetitionLevel, n, _rep);
        if (_col.MaxDefinitionLevel > 0) ReadLevels(payload.Slice(repLen, defLen), _col.MaxDefinitionLevel, n, _def);
        DecodeValues(values, dh.Encoding, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ReadLevelsV1(ReadOnlySpan<byte> data, ParquetEncoding encoding, int maxLevel, int n, IntBuffer output)
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private T[] Spread<T>(int slots, bool[]? validity) where T : unmanaged
    {
        var dense = MemoryMarshal.Cast<byte, T>(_values.Data.AsSpan(0, _values.DataLength));
        var result = new T[slots];
        if (validity == null) dense[..slots].CopyTo(result);
        else for (int s = 0, j = 0; s < slots; s++) if (validity[s]) result[s] = dense[j++];
        return result;
    }
}
