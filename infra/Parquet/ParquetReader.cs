using System.Buffers.Binary;
using Dreamer.Parquet.Format;
using Dreamer.Parquet.IO;
using Dreamer.Parquet.Thrift;

namespace Dreamer.Parquet;

public sealed class ParquetReaderOptions
{
    /// <summary>Upper bound for one page's uncompressed size (guards allocations against lying headers).</summary>
    public int MaxPageBytes { get; init; } = 512 << 20;
    /// <summary>Upper bound for the values (levels) of one column chunk: RLE runs expand cheaply, memory does not.</summary>
    public long MaxValuesPerColumnChunk { get; init; } = 1L << 28;
    /// <summary>Bytes read from the end in the first request, so small footers cost one round trip.</summary>
    public int FooterReadAhead { get; init; } = 64 << 10;
    /// <summary>Adjacent column chunks closer than this are fetched with one ranged read.</summary>
    public int CoalesceGapBytes { get; init; } = 1 << 20;
    /// <summary>
    /// Threads that decompress and decode (1: the caller's thread only), shared by the row groups read ahead, their
    /// columns and their pages: no more than this many decode at once, however the work nests (fetching takes none).
    /// </summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;
    /// <summary>
    /// Row groups that <see cref="ParquetReader.ReadRowGroupsAsync"/> fetches and decodes ahead of the one being returned
    /// (only with MaxDegreeOfParallelism &gt; 1). Memory: up to 2 + this many decoded row groups.
    /// </summary>
    public int ReadAheadRowGroups { get; init; } = 1;
}

/// <summary>
/// Reads Parquet files through positional reads: the footer first, then only the column chunks
/// of the selected row groups and columns, so it works the same over a local file and a blob store.
/// </summary>
public sealed class ParquetReader : IDisposable
{
    private static readonly uint Magic = BinaryPrimitives.ReadUInt32LittleEndian("PAR1"u8);

    private readonly IRandomAccessSource _source;
    private readonly bool _ownsSource;
    private readonly ParquetReaderOptions _options;
    private readonly long _footerStart;

    private ParquetReader(IRandomAccessSource source, bool owns, string name, ParquetReaderOptions options,
        FileMetaData metadata, ParquetSchema schema, long footerStart)
    {
        _source = source;
        _ownsSource = owns;
        Name = name;
        _options = options;
        Metadata = metadata;
        Schema = schema;
        _footerStart = footerStart;
    }

    /// <summary>The name used in error messages (a path or URI).</summary>
    public string Name { get; }
    public FileMetaData Metadata { get; }
    public ParquetSchema Schema { get; }
    public long RowCount => Metadata.NumRows;
    public int RowGroupCount => Metadata.RowGroups.Count;

    public IReadOnlyDictionary<string, string?> KeyValueMetadata =>
        (Metadata.KeyValueMetadata ?? []).GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Last().Value);

    public static Task<ParquetReader> OpenFileAsync(string path, ParquetReaderOptions? options = null, CancellationToken ct = default) =>
        OpenAsync(new FileSource(path), path, options, ownsSource: true, ct);

    public static Task<ParquetReader> OpenAsync(Stream stream, string name, ParquetReaderOptions? options = null, CancellationToken ct = default) =>
        OpenAsync(new StreamSource(stream, leaveOpen: true), name, options, ownsSource: true, ct);

    /// <summary>Opens a blob in a store: one properties request, then ranged reads (footer first, then only the chunks asked for).</summary>
    /// <exception cref="Dreamer.Storage.BlobNotFoundException">the blob does not exist.</exception>
    public static async Task<ParquetReader> OpenAsync(Dreamer.Storage.IBlobStore store, string path, ParquetReaderOptions? options = null,
        CancellationToken ct = default)
    {
        var source = await BlobSource.OpenAsync(store, path, ownsStore: false, ct).ConfigureAwait(false);
        return await OpenAsync(source, source.DisplayName, options, ownsSource: true, ct).ConfigureAwait(false);
    }

    public static async Task<ParquetReader> OpenAsync(IRandomAccessSource source, string name, ParquetReaderOptions? options = null,
        bool ownsSource = false, CancellationToken ct = default)
    {
        try
        {
            options ??= new ParquetReaderOptions();
            var (meta, schema, footerStart) = await ReadFooterAsync(source, name, options, ct).ConfigureAwait(false);
            return new ParquetReader(source, ownsSource, name, options, meta, schema, footerStart);
        }
        catch
        {
            if (ownsSource) source.Dispose();
            throw;
        }
    }

    private static async Task<(FileMetaData, ParquetSchema, long)> ReadFooterAsync(IRandomAccessSource source, string name,
        ParquetReaderOptions options, CancellationToken ct)
    {
        long length = source.Length;
        if (length < 12) throw new ParquetFormatException(name, 0, $"file of {length} bytes is too small to be Parquet");
        int tailLength = (int)Math.Min(length, Math.Max(8, options.FooterReadAhead));
        var tail = new byte[tailLength];
        long tailStart = length - tailLength;
        await source.ReadExactlyAsync(tailStart, tail, name, ct).ConfigureAwait(false);
        if (BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(tailLength - 4)) != Magic)
            throw new ParquetFormatException(name, length - 4, "bad magic at the end of the file (not Parquet, or truncated)");
        var head = new byte[4];
        if (tailStart == 0) tail.AsSpan(0, 4).CopyTo(head);
        else await source.ReadExactlyAsync(0, head, name, ct).ConfigureAwait(false);
        if (BinaryPrimitives.ReadUInt32LittleEndian(head) != Magic)
            throw new ParquetFormatException(name, 0, "bad magic at the start of the file");
        uint footerLength = BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(tailLength - 8));
        if (footerLength > length - 12)
            throw new ParquetFormatException(name, length - 8, $"footer length {footerLength} exceeds the file ({length} bytes)");
        long footerStart = length - 8 - footerLength;
        byte[] footer;
        int footerPos;
        if (footerStart >= tailStart) { footer = tail; footerPos = (int)(footerStart - tailStart); }
        else
        {
            footer = new byte[footerLength];
            footerPos = 0;
            await source.ReadExactlyAsync(footerStart, footer, name, ct).ConfigureAwait(false);
        }
        var reader = new CompactReader(footer, footerPos, footerPos + (int)footerLength, footerStart - footerPos, name);
        var meta = FileMetaData.Read(reader);
        var schema = ParquetSchema.FromElements(meta.Schema, msg => new ParquetFormatException(name, footerStart, "invalid schema: " + msg));
        Validate(meta, schema, name, footerStart);
        return (meta, schema, footerStart);
    }

    private static void Validate(FileMetaData meta, ParquetSchema schema, string name, long footerStart)
    {
        if (meta.NumRows < 0) throw new ParquetFormatException(name, footerStart, $"negative row count {meta.NumRows}");
        for (int g = 0; g < meta.RowGroups.Count; g++)
        {
            var rg = meta.RowGroups[g];
            if (rg.NumRows < 0) throw new ParquetFormatException(name, footerStart, $"row group {g} has {rg.NumRows} rows");
            if (rg.Columns.Count != schema.Columns.Count)
                throw new ParquetFormatException(name, footerStart, $"row group {g} has {rg.Columns.Count} column chunks for {schema.Columns.Count} columns");
            for (int c = 0; c < rg.Columns.Count; c++)
            {
                if (rg.Columns[c].MetaData is not { } m)
                    throw new ParquetFormatException(name, footerStart, $"row group {g} column {schema.Columns[c]} has no metadata");
                if (m.Type != schema.Columns[c].PhysicalType)
                    throw new ParquetFormatException(name, footerStart, $"row group {g} column {schema.Columns[c]} is {m.Type} in the chunk but {schema.Columns[c].PhysicalType} in the schema");
            }
        }
    }

    /// <summary>Reads the selected columns (all when null) of one row group, in the order selected.</summary>
    public async Task<IReadOnlyList<ColumnData>> ReadRowGroupAsync(int rowGroup, IReadOnlyList<ColumnDescriptor>? columns = null,
        CancellationToken ct = default)
    {
        columns ??= Schema.Columns;
        var fetched = await FetchRowGroupAsync(rowGroup, columns, ct).ConfigureAwait(false);
        // The thread that decodes is one of the workers; its loops take helpers up to MaxDegreeOfParallelism.
        return Decode(rowGroup, columns, fetched, NewWorkers(callerIsWorker: true), ct);
    }

    private DecodeWorkers NewWorkers(bool callerIsWorker) => _options.MaxDegreeOfParallelism <= 1
        ? DecodeWorkers.Sequential
        : new DecodeWorkers(_options.MaxDegreeOfParallelism, callerIsWorker);

    public Task<IReadOnlyList<ColumnData>> ReadRowGroupAsync(int rowGroup, IReadOnlyList<string> columns, CancellationToken ct = default) =>
        ReadRowGroupAsync(rowGroup, Schema.Select(columns), ct);

    /// <summary>
    /// Streams the selected columns (all when null) of the row groups (all when null), in order. With
    /// <see cref="ParquetReaderOptions.ReadAheadRowGroups"/> &gt; 0 the next row groups are fetched and decoded in the
    /// background while the current one is decoded or used, so a store's latency and files with few, large pages
    /// (one zstd frame cannot be split) still keep every core busy.
    /// </summary>
    public async IAsyncEnumerable<IReadOnlyList<ColumnData>> ReadRowGroupsAsync(IReadOnlyList<ColumnDescriptor>? columns = null,
        IReadOnlyList<int>? rowGroups = null, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        columns ??= Schema.Columns;
        rowGroups ??= Enumerable.Range(0, RowGroupCount).ToArray();
        foreach (int g in rowGroups)
            if ((uint)g >= (uint)RowGroupCount) throw new ArgumentOutOfRangeException(nameof(rowGroups), $"row group {g} of {RowGroupCount}");
        int ahead = _options.MaxDegreeOfParallelism > 1 ? Math.Max(0, _options.ReadAheadRowGroups) : 0;
        // Row groups in flight share MaxDegreeOfParallelism workers: each decodes on one (fetching takes none), and
        // their column and page loops take the free ones, so the cores stay busy up to the last row group without
        // ever running more threads than that.
        var workers = NewWorkers(callerIsWorker: false);
        var pending = new Queue<Task<ColumnData[]>>();
        int started = 0;
        // Row groups start in order (the pool's global queue, not the starting thread's last-in-first-out one), so
        // the one returned next is not left waiting behind a later one.
        Task<ColumnData[]> Start(int g) => ahead == 0
            ? ReadAsync(g)
            : Task.Factory.StartNew(() => ReadAsync(g), ct, TaskCreationOptions.PreferFairness | TaskCreationOptions.DenyChildAttach,
                TaskScheduler.Default).Unwrap();
        async Task<ColumnData[]> ReadAsync(int g)
        {
            var fetched = await FetchRowGroupAsync(g, columns, ct).ConfigureAwait(false);
            if (workers.Count > 1)
            {
                try { await workers.EnterAsync(ct).ConfigureAwait(false); }
                catch
                {
                    fetched.Return();
                    throw;
                }
            }
            try { return Decode(g, columns, fetched, workers, ct); }
            finally { if (workers.Count > 1) workers.Exit(); }
        }
        try
        {
            for (int k = 0; k < rowGroups.Count; k++)
            {
                while (started < rowGroups.Count && started <= k + ahead) pending.Enqueue(Start(rowGroups[started++]));
                var group = await pending.Dequeue().ConfigureAwait(false);
                yield return group;
            }
        }
        finally
        {
            // Stopped early or failed: let the row groups still in flight finish unobserved-exception-free.
            foreach (var task in pending) _ = task.ContinueWith(t => t.Exception, TaskScheduler.Default);
        }
    }

    /// <summary>Reads the selected columns over all row groups, concatenated.</summary>
    public async Task<IReadOnlyList<ColumnData>> ReadAllAsync(IReadOnlyList<ColumnDescriptor>? columns = null, CancellationToken ct = default)
    {
        columns ??= Schema.Columns;
        var parts = columns.Select(_ => new List<ColumnData>()).ToArray();
        await foreach (var group in ReadRowGroupsAsync(columns, null, ct).ConfigureAwait(false))
            for (int i = 0; i < group.Count; i++) parts[i].Add(group[i]);
        var result = new ColumnData[columns.Count];
        for (int i = 0; i < result.Length; i++)
            result[i] = parts[i].Count > 0 ? ColumnData.Concat(parts[i]) : EmptyColumn(columns[i]);
        return result;
    }

    /// <summary>The chunks' bytes; Rented are the pooled arrays behind them, returned once the row group is decoded.</summary>
    private readonly record struct Fetched(Range[] Ranges, ArraySegment<byte>[] Buffers, List<byte[]> Rented)
    {
        public void Return()
        {
            foreach (var array in Rented) System.Buffers.ArrayPool<byte>.Shared.Return(array);
            Rented.Clear();
        }
    }

    private async Task<Fetched> FetchRowGroupAsync(int rowGroup, IReadOnlyList<ColumnDescriptor> columns, CancellationToken ct)
    {
        if ((uint)rowGroup >= (uint)RowGroupCount) throw new ArgumentOutOfRangeException(nameof(rowGroup));
        var rg = Metadata.RowGroups[rowGroup];
        var ranges = columns.Select(c => ChunkRange(rg, c)).ToArray();
        var rented = new List<byte[]>();
        try
        {
            var buffers = await FetchAsync(ranges, rented, ct).ConfigureAwait(false);
            return new Fetched(ranges, buffers, rented);
        }
        catch
        {
            new Fetched(ranges, [], rented).Return();
            throw;
        }
    }

    // Columns decode in parallel (each also decompresses its pages in parallel) as far as workers are free; the first
    // failure in column order is thrown.
    // The fetched bytes go back to the pool afterwards: decoded columns never point into them.
    private ColumnData[] Decode(int rowGroup, IReadOnlyList<ColumnDescriptor> columns, Fetched fetched, DecodeWorkers workers, CancellationToken ct)
    {
        try
        {
            return DecodeColumns(rowGroup, columns, fetched, workers, ct);
        }
        finally
        {
            fetched.Return();
        }
    }

    private ColumnData[] DecodeColumns(int rowGroup, IReadOnlyList<ColumnDescriptor> columns, Fetched fetched, DecodeWorkers workers,
        CancellationToken ct)
    {
        var rg = Metadata.RowGroups[rowGroup];
        var result = new ColumnData[columns.Count];
        var failures = new Exception?[columns.Count];
        void DecodeColumn(int i)
        {
            try
            {
                ct.ThrowIfCancellationRequested();
                var meta = rg.Columns[columns[i].Index].MetaData!;
                result[i] = new ColumnChunkReader(columns[i], meta, Name, _options, workers).Read(fetched.Buffers[i], fetched.Ranges[i].Start, rg.NumRows);
            }
            catch (Exception e)
            {
                failures[i] = e;
            }
        }
        // Largest chunks first: a worker that joins later finds the small ones left to it, not one long chunk.
        var order = new int[columns.Count];
        for (int i = 0; i < order.Length; i++)
        {
            long size = rg.Columns[columns[i].Index].MetaData!.TotalCompressedSize;
            int j = i;
            for (; j > 0 && rg.Columns[columns[order[j - 1]].Index].MetaData!.TotalCompressedSize < size; j--) order[j] = order[j - 1];
            order[j] = i;
        }
        workers.For(0, order.Length, k => DecodeColumn(order[k]));
        foreach (var failure in failures)
            if (failure != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        return result;
    }

    private static ColumnData EmptyColumn(ColumnDescriptor c)
    {
        var lists = Enumerable.Range(0, c.MaxRepetitionLevel).Select(_ => new ListLevel([0])).ToArray();
        return c.PhysicalType switch
        {
            PhysicalType.Boolean => ColumnData.Create(0, Array.Empty<bool>(), null, null, 0, null, lists),
            PhysicalType.Int32 => ColumnData.Create(0, Array.Empty<int>(), null, null, 0, null, lists),
            PhysicalType.Int64 => ColumnData.Create(0, Array.Empty<long>(), null, null, 0, null, lists),
            PhysicalType.Float => ColumnData.Create(0, Array.Empty<float>(), null, null, 0, null, lists),
            PhysicalType.Double => ColumnData.Create(0, Array.Empty<double>(), null, null, 0, null, lists),
            PhysicalType.ByteArray => ColumnData.Create(0, null, [], [0], 0, null, lists),
            _ => ColumnData.Create(0, null, [], null, c.ValueWidth, null, lists),
        };
    }

    private readonly record struct Range(long Start, long Length);

    private Range ChunkRange(RowGroup rg, ColumnDescriptor c)
    {
        var m = rg.Columns[c.Index].MetaData!;
        // Some writers store dictionary_page_offset = 0 when there is none: the chunk then starts at the data page.
        long start = m.DictionaryPageOffset is long d && d > 0 && d < m.DataPageOffset ? d : m.DataPageOffset;
        long len = m.TotalCompressedSize;
        if (start < 4 || len < 0 || start + len > _footerStart)
            throw new ParquetFormatException(Name, start, $"column {c}: chunk [{start}, {start + len}) lies outside the data region [4, {_footerStart})");
        if (len > int.MaxValue) throw new ParquetFormatException(Name, start, $"column {c}: chunk of {len} bytes exceeds 2 GB");
        return new Range(start, len);
    }

    // One ranged read per run of nearby chunks: fewer round trips to a store, no bytes outside the selection's span.
    private async Task<ArraySegment<byte>[]> FetchAsync(Range[] ranges, List<byte[]> rented, CancellationToken ct)
    {
        var result = new ArraySegment<byte>[ranges.Length];
        var order = Enumerable.Range(0, ranges.Length).OrderBy(i => ranges[i].Start).ToArray();
        int k = 0;
        while (k < order.Length)
        {
            long start = ranges[order[k]].Start, end = start + ranges[order[k]].Length;
            int j = k + 1;
            while (j < order.Length && ranges[order[j]].Start - end <= _options.CoalesceGapBytes
                   && Math.Max(end, ranges[order[j]].Start + ranges[order[j]].Length) - start <= int.MaxValue)
            {
                end = Math.Max(end, ranges[order[j]].Start + ranges[order[j]].Length);
                j++;
            }
            var buf = Encodings.LargeArrays.Rent((int)(end - start));
            rented.Add(buf);
            await _source.ReadExactlyAsync(start, buf.AsMemory(0, (int)(end - start)), Name, ct).ConfigureAwait(false);
            for (int x = k; x < j; x++)
            {
                var r = ranges[order[x]];
                result[order[x]] = new ArraySegment<byte>(buf, (int)(r.Start - start), (int)r.Length);
            }
            k = j;
        }
        return result;
    }

    public void Dispose()
    {
        if (_ownsSource) _source.Dispose();
    }
}
