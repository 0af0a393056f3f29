using System.Buffers;
using Dreamer.Parquet.Compression;
using Dreamer.Parquet.Encodings;
using Dreamer.Parquet.Format;
using Dreamer.Parquet.Thrift;

namespace Dreamer.Parquet;

/// <summary>
/// Encodes one leaf column of the current row group: levels and values accumulate into a page,
/// pages are cut at row boundaries near the target size, compressed and buffered until the row
/// group is flushed (the dictionary page must come first but is only complete at the end).
/// </summary>
internal sealed class ColumnChunkWriter
{
    private readonly ColumnDescriptor _col;
    private readonly ParquetWriterOptions _options;
    private readonly int _width;           // PLAIN width of fixed-size values (booleans: 1 byte in memory), 0 for BYTE_ARRAY
    private readonly bool _isList;
    private readonly int _listBase;        // definition level of a present but empty list
    private readonly bool _elementNullable;

    // Current page.
    private readonly IntBuffer _def = new(), _rep = new(), _indices = new();
    private readonly ByteBuffer _plain = new(4096);
    private int _pageEntries, _pageRows, _pagePresent;
    private long _pageBytes;

    // Current chunk.
    // Finished data pages (header + compressed payload), each in a pooled buffer: no large copies as a chunk grows.
    private readonly List<PendingPage> _pages = [];
    private readonly PageCompressor _compressor;
    private readonly ByteBuffer _body = new(4096), _levels = new(256);
    private readonly DictionaryBuilder? _dict;
    private bool _dictMode;
    private bool _usedDict, _usedPlain, _usedDelta;
    private long _numValues, _uncompressed;
    private long _bufferedPageBytes; // uncompressed payloads of the pages flushed in this chunk
    private readonly StatisticsCollector _stats;

    public ColumnChunkWriter(ColumnDescriptor col, ParquetWriterOptions options, PageCompressor compressor)
    {
        _col = col;
        _options = options;
        _compressor = compressor;
        _width = col.ValueWidth;
        _isList = col.MaxRepetitionLevel > 0;
        _elementNullable = col.Field.IsNullable;
        _listBase = _isList ? col.RepeatedDefinitionLevels[0] - 1 : 0;
        _stats = new StatisticsCollector(col);
        // Booleans are already one bit each; a dictionary cannot beat that.
        if (options.EnableDictionary && col.PhysicalType != PhysicalType.Boolean)
        {
            _dict = new DictionaryBuilder(_width);
            _dictMode = true;
        }
    }

    /// <summary>Uncompressed bytes buffered for the row group so far (drives row group cuts).</summary>
    public long BufferedBytes => _bufferedPageBytes + _pageBytes + (_dict?.ByteSize ?? 0);

    private int SlotOf(ColumnData data, int row) => _isList ? data.Lists[0].Offsets[row] : row;

    private long SlotBytes(ColumnData data, int s0, int s1) =>
        _width > 0 ? (long)(s1 - s0) * _width : data.Offsets![s1] - data.Offsets[s0] + 4L * (s1 - s0);

    /// <summary>Rows [r0, r1) of the batch; pages are cut between rows when they reach the target size.</summary>
    public void Write(ColumnData data, int r0, int r1)
    {
        while (r0 < r1)
        {
            long budget = Math.Max(1, _options.PageTargetBytes - _pageBytes);
            int end = RowsFitting(data, r0, r1, budget);
            AppendRows(data, r0, end);
            r0 = end;
            if (_pageBytes >= _options.PageTargetBytes) FlushPage();
        }
    }

    private int RowsFitting(ColumnData data, int r0, int r1, long budget)
    {
        if (!_isList && _width > 0) return (int)Math.Min(r1, r0 + Math.Max(1, (budget + _width - 1) / _width));
        long bytes = 0;
        int r = r0;
        while (r < r1 && bytes < budget)
        {
            bytes += 1 + SlotBytes(data, SlotOf(data, r), SlotOf(data, r + 1));
            r++;
        }
        return r;
    }

    private void AppendRows(ColumnData data, int r0, int r1)
    {
        int s0 = SlotOf(data, r0), s1 = SlotOf(data, r1);
        var validity = data.Validity;
        int entries;
        if (_isList)
        {
            var level = data.Lists[0];
            int maxDef = _col.MaxDefinitionLevel;
            int start = _def.Length;
            for (int row = r0; row < r1; row++)
            {
                int a = level.Offsets[row], b = level.Offsets[row + 1];
                if (level.IsNull(row))
                {
                    if (b != a) throw new ArgumentException($"column {_col}: null list at row {row} has elements");
                    _rep.Add(0); _def.Add(0);
                }
                else if (a == b) { _rep.Add(0); _def.Add(_listBase); }
                else
                {
                    _rep.Add(0);
                    _rep.AddRepeated(1, b - a - 1);
                    var defs = _def.Append(b - a);
                    for (int s = a; s < b; s++) defs[s - a] = validity == null || validity[s] ? maxDef : maxDef - 1;
                }
            }
            entries = _def.Length - start;
        }
        else
        {
            entries = r1 - r0;
            if (_col.MaxDefinitionLevel > 0)
            {
                var defs = _def.Append(entries);
                for (int s = s0; s < s1; s++) defs[s - s0] = validity == null || validity[s] ? 1 : 0;
            }
        }
        _pageEntries += entries;
        _pageRows += r1 - r0;
        _numValues += entries;
        AppendValues(data, s0, s1);
        _pageBytes += SlotBytes(data, s0, s1) + (_col.MaxDefinitionLevel > 0 ? entries / 4 : 0);
    }

    private void AppendValues(ColumnData data, int s0, int s1)
    {
        var validity = data.Validity;
        int s = s0;
        while (s < s1)
        {
            // Runs of present values go through in bulk; nulls only count.
            int e = s;
            if (validity == null) e = s1;
            else
            {
                while (e < s1 && validity[e]) e++;
            }
            if (e > s) AppendPresent(data, s, e);
            int n = e;
            if (validity != null) while (n < s1 && !validity[n]) n++;
            _stats.AddNulls(n - e);
            s = n;
        }
    }

    private void AppendPresent(ColumnData data, int s0, int s1)
    {
        _pagePresent += s1 - s0;
        if (_width > 0)
        {
            var raw = (data.Values != null ? ColumnData.RawBytes(data.Values) : data.Bytes!).Slice(s0 * _width, (s1 - s0) * _width);
            _stats.AddFixed(raw, _width, s1 - s0);
            if (_dictMode)
            {
                var idx = _indices.Append(s1 - s0);
                for (int i = 0; i < idx.Length; i++) idx[i] = _dict!.GetOrAdd(raw.Slice(i * _width, _width));
            }
            else _plain.Write(raw);
            return;
        }
        var bytes = data.Bytes!;
        var offsets = data.Offsets!;
        for (int i = s0; i < s1; i++)
        {
            var v = bytes.AsSpan(offsets[i], offsets[i + 1] - offsets[i]);
            _stats.AddBytes(v);
            if (_dictMode) _indices.Add(_dict!.GetOrAdd(v));
            else { _plain.WriteInt32(v.Length); _plain.Write(v); }
        }
    }

    private void FlushPage()
    {
        if (_pageEntries == 0) return;
        // A first page whose values are nearly all distinct (wide binary such as images) gains nothing from a
        // dictionary: it is written PLAIN instead, and so is the rest of the chunk.
        if (_dictMode && !_usedDict && _dict!.Count * 2L > _indices.Length && _dict.ByteSize >= 16 << 10)
        {
            UndoDictionary();
            _dictMode = false;
        }
        bool dictPage = _dictMode && _dict!.Count > 0;
        bool v2 = _options.DataPageVersion == 2;
        var body = _body;
        body.Clear();
        int repLength = 0, defLength = 0;
        if (_col.MaxRepetitionLevel > 0) repLength = WriteLevels(body, _rep.Span, _col.MaxRepetitionLevel, lengthPrefix: !v2);
        if (_col.MaxDefinitionLevel > 0) defLength = WriteLevels(body, _def.Span, _col.MaxDefinitionLevel, lengthPrefix: !v2);
        ByteBuffer payload;
        ParquetEncoding encoding;
        if (dictPage)
        {
            int bw = Bits.WidthFor(_dict!.Count - 1);
            body.WriteByte((byte)bw);
            RleHybridEncoder.Encode(_indices.Span, bw, body);
            payload = body;
            encoding = ParquetEncoding.RleDictionary;
            _usedDict = true;
        }
        else if (_col.PhysicalType == PhysicalType.Boolean)
        {
            var packed = body.GetSpan((_plain.Length + 7) / 8);
            packed.Clear();
            var src = _plain.WrittenSpan;
            for (int i = 0; i < src.Length; i++) packed[i >> 3] |= (byte)(src[i] << (i & 7));
            body.Advance(packed.Length);
            payload = body;
            encoding = ParquetEncoding.Plain;
            _usedPlain = true;
        }
        else if (_options.DeltaEncodeIntegers && _col.PhysicalType is PhysicalType.Int32 or PhysicalType.Int64)
        {
            if (_col.PhysicalType == PhysicalType.Int32)
                DeltaBinaryPackedEncoder.Encode(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(_plain.WrittenSpan), body);
            else
                DeltaBinaryPackedEncoder.Encode(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(_plain.WrittenSpan), body);
            payload = body;
            encoding = ParquetEncoding.DeltaBinaryPacked;
            _usedDelta = true;
        }
        else
        {
            // Required flat columns have no levels: the value buffer itself is the payload (handed over, not copied).
            if (body.Length == 0) payload = _plain;
            else { body.Write(_plain.WrittenSpan); payload = body; }
            encoding = ParquetEncoding.Plain;
            _usedPlain = true;
        }
        var header = v2
            ? new PageHeader
            {
                Type = PageType.DataPageV2,
                DataPageV2 = new DataPageHeaderV2
                {
                    NumValues = _pageEntries,
                    NumNulls = _pageEntries - _pagePresent,
                    NumRows = _pageRows,
                    Encoding = encoding,
                    RepetitionLevelsByteLength = repLength,
                    DefinitionLevelsByteLength = defLength,
                    IsCompressed = _options.Compression != CompressionCodec.Uncompressed,
                },
            }
            : new PageHeader
            {
                Type = PageType.DataPage,
                DataPage = new DataPageHeader { NumValues = _pageEntries, Encoding = encoding },
            };
        var (array, length) = payload.Detach();
        _bufferedPageBytes += length;
        _pages.Add(_compressor.Submit(header, array, length, raw: v2 ? repLength + defLength : 0));

        _def.Clear(); _rep.Clear(); _indices.Clear(); _plain.Clear();
        _pageEntries = _pageRows = _pagePresent = 0;
        _pageBytes = 0;
        // A dictionary that outgrew its page limit is not paying off: later pages are PLAIN.
        if (_dictMode && _dict!.ByteSize > _options.DictionaryPageSizeLimit) _dictMode = false;
    }

    /// <summary>Turns the current page's dictionary indices back into PLAIN values and empties the dictionary.</summary>
    private void UndoDictionary()
    {
        _plain.Clear();
        foreach (int index in _indices.Span)
        {
            var v = _dict!.Get(index);
            if (_width == 0) _plain.WriteInt32(v.Length);
            _plain.Write(v);
        }
        _indices.Clear();
        _dict!.Clear();
    }

    /// <summary>Appends RLE/bit-packed levels (v1: after a 4-byte length); returns the bytes appended.</summary>
    private int WriteLevels(ByteBuffer body, ReadOnlySpan<int> levels, int maxLevel, bool lengthPrefix)
    {
        _levels.Clear();
        RleHybridEncoder.Encode(levels, Bits.WidthFor(maxLevel), _levels);
        if (lengthPrefix) body.WriteInt32(_levels.Length);
        body.Write(_levels.WrittenSpan);
        return _levels.Length + (lengthPrefix ? 4 : 0);
    }

    /// <summary>Writes the finished chunk (dictionary page, then data pages) and resets for the next row group.</summary>
    public ColumnChunk Finish(Stream output, long fileOffset)
    {
        FlushPage();
        long dictOffset = -1;
        long written = 0, dictLength = 0;
        var encodings = new List<ParquetEncoding>();
        if (_usedDict)
        {
            var header = new PageHeader
            {
                Type = PageType.DictionaryPage,
                DictionaryPage = new DictionaryPageHeader { NumValues = _dict!.Count, Encoding = ParquetEncoding.Plain },
            };
            var plain = _dict.Plain;
            var copy = ArrayPool<byte>.Shared.Rent(Math.Max(1, plain.Length));
            plain.CopyTo(copy);
            var page = _compressor.Submit(header, copy, plain.Length, inline: true).Wait();
            output.Write(page.Buffer, 0, page.Length);
            ArrayPool<byte>.Shared.Return(page.Buffer);
            _uncompressed += page.UncompressedLength;
            written += page.Length;
            dictLength = page.Length;
            dictOffset = fileOffset;
            encodings.Add(ParquetEncoding.Plain);
            encodings.Add(ParquetEncoding.RleDictionary);
        }
        if (_usedPlain && !encodings.Contains(ParquetEncoding.Plain)) encodings.Add(ParquetEncoding.Plain);
        if (_usedDelta) encodings.Add(ParquetEncoding.DeltaBinaryPacked);
        if (_col.MaxDefinitionLevel > 0 || _col.MaxRepetitionLevel > 0) encodings.Add(ParquetEncoding.Rle);
        try
        {
            foreach (var pending in _pages)
            {
                var page = pending.Wait();
                output.Write(page.Buffer, 0, page.Length);
                ArrayPool<byte>.Shared.Return(page.Buffer);
                _uncompressed += page.UncompressedLength;
                written += page.Length;
            }
        }
        finally { _pages.Clear(); }

        var meta = new ColumnMetaData
        {
            Type = _col.PhysicalType,
            Encodings = encodings,
            PathInSchema = [.. _col.Path],
            Codec = _options.Compression,
            NumValues = _numValues,
            TotalUncompressedSize = _uncompressed,
            TotalCompressedSize = written,
            DataPageOffset = fileOffset + dictLength,
            DictionaryPageOffset = dictOffset >= 0 ? dictOffset : null,
            Statistics = _options.WriteStatistics ? _stats.ToStatistics() : null,
        };

        _dict?.Clear();
        if (_dict != null) _dictMode = true;
        _usedDict = _usedPlain = _usedDelta = false;
        _numValues = _uncompressed = _bufferedPageBytes = 0;
        _stats.Reset();
        return new ColumnChunk { FileOffset = 0, MetaData = meta };
    }
}
