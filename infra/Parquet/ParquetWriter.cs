using System.Buffers;
using System.Buffers.Binary;
using Dreamer.Parquet.Format;
using Dreamer.Parquet.Thrift;

namespace Dreamer.Parquet;

public sealed class ParquetWriterOptions
{
    public CompressionCodec Compression { get; init; } = CompressionCodec.Snappy;
    public int ZstdLevel { get; init; } = 3;
    /// <summary>A row group is closed once its columns hold about this many uncompressed bytes.</summary>
    public long RowGroupTargetBytes { get; init; } = 128L << 20;
    /// <summary>Data pages are cut at the first row boundary past this many (PLAIN-equivalent) bytes.</summary>
    public int PageTargetBytes { get; init; } = 1 << 20;
    public bool EnableDictionary { get; init; } = true;
    /// <summary>Dictionary encoding stops for a column once its dictionary exceeds this size.</summary>
    public int DictionaryPageSizeLimit { get; init; } = 1 << 20;
    public bool WriteStatistics { get; init; } = true;
    public string CreatedBy { get; init; } = "dreamer-parquet version 1.0.0";
    /// <summary>
    /// 1: DATA_PAGE (v1) pages, which every reader takes. 2: DATA_PAGE_V2 pages: levels stay uncompressed ahead of
    /// the compressed values, and each page holds whole rows.
    /// </summary>
    public int DataPageVersion { get; init; } = 1;
    /// <summary>INT32 and INT64 values that are not dictionary-encoded use DELTA_BINARY_PACKED instead of PLAIN.</summary>
    public bool DeltaEncodeIntegers { get; init; }
    /// <summary>Threads that compress pages while the caller's thread encodes (1: everything on the caller's thread).</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;
}

/// <summary>
/// Streams a Parquet file to a Stream (which need not be seekable): rows arrive as column
/// batches, row groups are cut by size and written as soon as they are complete, so memory
/// stays around one row group. Dispose (or <see cref="Finish"/>) writes the footer.
/// </summary>
public sealed class ParquetWriter : IDisposable
{
    private static readonly byte[] Magic = "PAR1"u8.ToArray();

    private readonly Stream _output;
    private readonly bool _leaveOpen;
    private readonly ParquetWriterOptions _options;
    private readonly ColumnChunkWriter[] _columns;
    private readonly List<RowGroup> _rowGroups = [];
    private long _position;
    private long _groupRows;
    private bool _finished, _faulted;

    public ParquetWriter(Stream output, ParquetSchema schema, ParquetWriterOptions? options = null, bool leaveOpen = false)
    {
        if (!output.CanWrite) throw new ArgumentException("the stream is not writable", nameof(output));
        _output = output;
        _leaveOpen = leaveOpen;
        _options = options ?? new ParquetWriterOptions();
        if (!Compression.Codecs.IsSupported(_options.Compression))
            throw new NotSupportedException($"compression {_options.Compression} is not supported for writing");
        if (_options.DataPageVersion is not (1 or 2))
            throw new ArgumentException($"data page version {_options.DataPageVersion}: 1 or 2", nameof(options));
        Schema = schema;
        ValidateShapes(schema);
        var compressor = new PageCompressor(_options);
        _columns = [.. schema.Columns.Select(c => new ColumnChunkWriter(c, _options, compressor))];
        _output.Write(Magic);
        _position = Magic.Length;
    }

    public ParquetSchema Schema { get; }

    /// <summary>File-level key-value metadata, written with the footer (set it any time before Finish).</summary>
    public IDictionary<string, string> Metadata { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    public long RowCount { get; private set; }
    public int RowGroupCount => _rowGroups.Count;
    /// <summary>Bytes written to the stream so far.</summary>
    public long Position => _position;

    // The writer emits flat columns and single-level lists of primitives.
    private static void ValidateShapes(ParquetSchema schema)
    {
        foreach (var c in schema.Columns)
        {
            bool flat = c.Path.Count == 1 && c.Field.Repetition != Repetition.Repeated;
            bool list = c.Path.Count == 3 && c.MaxRepetitionLevel == 1 && schema.Fields.First(f => f.Name == c.Path[0]).IsList;
            if (!flat && !list) throw new NotSupportedException($"column {c}: the writer supports flat columns and LIST of primitives only");
            if (c.PhysicalType == PhysicalType.Int96) throw new NotSupportedException($"column {c}: INT96 is deprecated and not written");
        }
    }

    public void Write(params ColumnData[] columns) => Write((IReadOnlyList<ColumnData>)columns);

    /// <summary>Appends a batch of rows: one <see cref="ColumnData"/> per leaf column, in schema order.</summary>
    public void Write(IReadOnlyList<ColumnData> columns)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        if (_faulted) throw new InvalidOperationException("an earlier write failed; the file is incomplete");
        int rows = Validate(columns);
        if (rows == 0) return;
        long batchBytes = 0;
        for (int i = 0; i < columns.Count; i++) batchBytes += EstimateBytes(columns[i], Schema.Columns[i]);
        double bytesPerRow = Math.Max(1.0, (double)batchBytes / rows);
        try
        {
            int row = 0;
            while (row < rows)
            {
                long room = Math.Max(1, _options.RowGroupTargetBytes - BufferedBytes());
                int take = (int)Math.Clamp(room / bytesPerRow, 1, rows - row);
                for (int c = 0; c < _columns.Length; c++) _columns[c].Write(columns[c], row, row + take);
                row += take;
                _groupRows += take;
                RowCount += take;
                if (BufferedBytes() >= _options.RowGroupTargetBytes) FlushRowGroup();
            }
        }
        catch
        {
            _faulted = true;
            throw;
        }
    }

    private long BufferedBytes()
    {
        long sum = 0;
        foreach (var c in _columns) sum += c.BufferedBytes;
        return sum;
    }

    private static long EstimateBytes(ColumnData d, ColumnDescriptor c) =>
        d.Offsets != null ? d.Offsets[^1] - d.Offsets[0] + 4L * d.Count : (long)d.Count * Math.Max(1, c.ValueWidth);

    private int Validate(IReadOnlyList<ColumnData> columns)
    {
        if (columns.Count != Schema.Columns.Count)
            throw new ArgumentException($"expected {Schema.Columns.Count} columns, got {columns.Count}");
        int rows = columns[0].RowCount;
        for (int i = 0; i < columns.Count; i++)
        {
            var d = columns[i];
            var c = Schema.Columns[i];
            if (d.RowCount != rows) throw new ArgumentException($"column {c} has {d.RowCount} rows, column {Schema.Columns[0]} has {rows}");
            if (d.Lists.Count != c.MaxRepetitionLevel) throw new ArgumentException($"column {c} needs {c.MaxRepetitionLevel} list levels, the batch has {d.Lists.Count}");
            if (d.Lists.Count > 0 && d.Lists[0].Validity is { } lv && Array.IndexOf(lv, false) >= 0
                && Schema.Fields.First(f => f.Name == c.Path[0]).Repetition == Repetition.Required)
                throw new ArgumentException($"column {c}: the list is required but the batch has null lists");
            if (!c.Field.IsNullable && d.Validity is { } v && Array.IndexOf(v, false) >= 0)
                throw new ArgumentException($"column {c} is required but the batch has nulls");
            CheckValueKind(d, c);
        }
        return rows;
    }

    private static void CheckValueKind(ColumnData d, ColumnDescriptor c)
    {
        bool ok = c.PhysicalType switch
        {
            PhysicalType.Boolean => d.Values is bool[],
            PhysicalType.Int32 => d.Values is int[] or uint[],
            PhysicalType.Int64 => d.Values is long[] or ulong[],
            PhysicalType.Float => d.Values is float[],
            PhysicalType.Double => d.Values is double[],
            PhysicalType.ByteArray => d.Bytes != null && d.Offsets != null,
            PhysicalType.FixedLenByteArray => (d.Bytes != null && d.Offsets == null && d.FixedWidth == c.Field.TypeLength)
                || (c.Field.TypeLength == 2 && d.Values is Half[] or ushort[] or short[]),
            _ => false,
        };
        if (!ok)
            throw new ArgumentException($"column {c} ({c.PhysicalType}{(c.Field.TypeLength > 0 ? $"[{c.Field.TypeLength}]" : "")}) " +
                $"cannot take {(d.Values?.GetType().Name ?? (d.Offsets != null ? "variable-length bytes" : $"fixed bytes[{d.FixedWidth}]"))}");
    }

    /// <summary>Closes the current row group (if it has rows) and writes it out.</summary>
    public void FlushRowGroup()
    {
        if (_groupRows == 0) return;
        var group = new RowGroup { NumRows = _groupRows, Ordinal = (short)Math.Min(_rowGroups.Count, short.MaxValue), FileOffset = _position };
        long compressed = 0;
        foreach (var c in _columns)
        {
            var chunk = c.Finish(_output, _position);
            var m = chunk.MetaData!;
            _position += m.TotalCompressedSize;
            compressed += m.TotalCompressedSize;
            group.TotalByteSize += m.TotalUncompressedSize;
            group.Columns.Add(chunk);
        }
        group.TotalCompressedSize = compressed;
        _rowGroups.Add(group);
        _groupRows = 0;
    }

    /// <summary>Flushes the last row group and writes the footer; the stream then holds a complete file.</summary>
    public void Finish()
    {
        if (_finished) return;
        FlushRowGroup();
        var meta = new FileMetaData
        {
            Version = 1,
            Schema = Schema.ToElements(),
            NumRows = RowCount,
            RowGroups = _rowGroups,
            KeyValueMetadata = Metadata.Count > 0 ? [.. Metadata.Select(kv => new KeyValue { Key = kv.Key, Value = kv.Value })] : null,
            CreatedBy = _options.CreatedBy,
            ColumnOrdersTypeDefined = _options.WriteStatistics ? [.. Schema.Columns.Select(_ => true)] : null,
        };
        var buf = new ArrayBufferWriter<byte>(4096);
        meta.Write(new CompactWriter(buf));
        _output.Write(buf.WrittenSpan);
        Span<byte> tail = stackalloc byte[8];
        BinaryPrimitives.WriteInt32LittleEndian(tail, buf.WrittenCount);
        Magic.CopyTo(tail[4..]);
        _output.Write(tail);
        _output.Flush();
        _position += buf.WrittenCount + 8;
        _finished = true;
    }

    public void Dispose()
    {
        try
        {
            // A writer whose batch failed half-way must not pass for a complete file.
            if (!_finished && !_faulted) Finish();
        }
        finally
        {
            _finished = true;
            if (!_leaveOpen) _output.Dispose();
        }
    }
}
