using Dreamer.Parquet.IO;
using Dreamer.Parquet.Tests.Support;
using Dreamer.Storage;

namespace Dreamer.Parquet.Tests;

/// <summary>The reader over a blob store: footer first, then only the projected column chunks, by ranged reads.</summary>
public sealed class BlobSourceTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly LocalFolderStore _store;

    public BlobSourceTests() => _store = new LocalFolderStore(_dir.Path, new LocalFolderStoreOptions { Durable = false });

    public void Dispose() => _dir.Dispose();

    /// <summary>Three wide columns over three row groups, so the footer read-ahead covers none of the chunks.</summary>
    private static (ParquetSchema Schema, byte[] File, long[] A, double[] B, string?[] C) Sample()
    {
        var schema = new ParquetSchema(ParquetField.Int64("a"), ParquetField.Double("b", nullable: true), ParquetField.String("c", nullable: true));
        int rows = 90_000;
        var rnd = new Random(5);
        var a = Enumerable.Range(0, rows).Select(_ => rnd.NextInt64()).ToArray();
        var b = Enumerable.Range(0, rows).Select(_ => rnd.NextDouble()).ToArray();
        var bValid = Enumerable.Range(0, rows).Select(i => i % 7 != 0).ToArray();
        var c = Enumerable.Range(0, rows).Select(i => i % 11 == 0 ? null : "s" + rnd.Next()).ToArray();
        using var ms = new MemoryStream();
        using (var w = new ParquetWriter(ms, schema, new ParquetWriterOptions { RowGroupTargetBytes = 1 << 20, EnableDictionary = false }, leaveOpen: true))
            w.Write(ColumnData.Primitive(a), ColumnData.Primitive(b, bValid), ColumnData.Strings(c));
        var bytes = ms.ToArray();
        return (schema, bytes, a, Enumerable.Range(0, rows).Select(i => bValid[i] ? b[i] : 0).ToArray(), c);
    }

    [Fact]
    public async Task ReadsOnlyTheFooterAndTheProjectedChunks()
    {
        var (_, file, a, _, c) = Sample();
        await _store.WriteBytesAsync("artifacts/x/part-0.parquet", file);
        var counting = new CountingBlobStore(_store);
        var options = new ParquetReaderOptions { CoalesceGapBytes = -1 };
        using var reader = await ParquetReader.OpenAsync(counting, "artifacts/x/part-0.parquet", options);
        Assert.True(reader.RowGroupCount >= 3, $"{reader.RowGroupCount} row groups");
        Assert.Equal(0, counting.StreamOpens);
        long length = file.Length;
        long tailStart = length - Math.Min(length, options.FooterReadAhead);
        Assert.All(counting.Reads, r => Assert.True(r.Offset == 0 && r.Length == 4 || r.Offset >= tailStart, $"footer phase read [{r.Offset}, +{r.Length})"));
        Assert.Contains(counting.Reads, r => r.Offset == 0 && r.Length == 4);
        Assert.Equal(4 + (length - tailStart), counting.Reads.Sum(r => r.Length));
        counting.Reads.Clear();

        // Row group 1, columns c and a (in that order): exactly those two chunks.
        var cols = await reader.ReadRowGroupAsync(1, ["c", "a"]);
        var rg = reader.Metadata.RowGroups[1];
        long first = reader.Metadata.RowGroups[0].NumRows;
        var expected = new[] { "c", "a" }.Select(n => rg.Columns[reader.Schema.Column(n).Index].MetaData!)
            .Select(m => (Offset: m.DictionaryPageOffset ?? m.DataPageOffset, Length: m.TotalCompressedSize)).OrderBy(r => r.Offset).ToList();
        var got = counting.Reads.Select(r => (r.Offset, Length: (long)r.Length)).OrderBy(r => r.Offset).ToList();
        Assert.Equal(expected, got);
        Assert.Equal(0, counting.StreamOpens);
        for (int i = 0; i < cols[0].RowCount; i++)
        {
            Assert.Equal(c[first + i], cols[0].GetString(i));
            Assert.Equal(a[first + i], cols[1].GetValues<long>()[i]);
        }
    }

    [Fact]
    public async Task ReadsEverythingLikeALocalFile()
    {
        var (schema, file, a, b, c) = Sample();
        await _store.WriteBytesAsync("t/all.parquet", file);
        using var reader = await ParquetReader.OpenAsync(_store, "t/all.parquet");
        Assert.Equal(_store.DisplayUri + "/t/all.parquet", reader.Name);
        var cols = await reader.ReadAllAsync();
        Assert.Equal(a, cols[0].GetValues<long>().ToArray());
        Assert.Equal(b, cols[1].GetValues<double>().ToArray());
        Assert.Equal(c, Enumerable.Range(0, c.Length).Select(cols[2].GetString).ToArray());
        Assert.Equal(schema.Columns.Count, reader.Schema.Columns.Count);
    }

    [Fact]
    public async Task LargeReadsAreSplitIntoConcurrentRangedReads()
    {
        var data = new byte[BlobSource.PartBytes * 2 + 12345];
        new Random(3).NextBytes(data);
        await _store.WriteBytesAsync("big.bin", data);
        var counting = new CountingBlobStore(_store);
        using var source = await BlobSource.OpenAsync(counting, "big.bin");
        Assert.Equal(data.Length, source.Length);
        var buffer = new byte[data.Length + 100];
        int n = await source.ReadAsync(0, buffer);
        Assert.Equal(data.Length, n);
        Assert.True(data.AsSpan().SequenceEqual(buffer.AsSpan(0, n)));
        Assert.Equal(3, counting.Reads.Count);
        Assert.All(counting.Reads, r => Assert.True(r.Length <= BlobSource.PartBytes));
        Assert.Equal(0, await source.ReadAsync(data.Length, buffer));
        Assert.Equal(10, await source.ReadAsync(data.Length - 10, buffer.AsMemory(0, 50)));
    }

    [Fact]
    public async Task AMissingBlobIsBlobNotFound()
    {
        await Assert.ThrowsAsync<BlobNotFoundException>(() => ParquetReader.OpenAsync(_store, "nope/missing.parquet"));
    }

    [Fact]
    public async Task ACorruptBlobNamesTheStorePathAndOffset()
    {
        var (_, file, _, _, _) = Sample();
        file[^2] ^= 0x55; // damage the trailing magic
        await _store.WriteBytesAsync("bad/part.parquet", file);
        var e = await Assert.ThrowsAsync<ParquetFormatException>(() => ParquetReader.OpenAsync(_store, "bad/part.parquet"));
        Assert.Equal(_store.DisplayUri + "/bad/part.parquet", e.FileName);
        Assert.Equal(file.Length - 4, e.Offset);
    }

    /// <summary>Records the ranged reads (and any whole-blob streams) that go to the inner store.</summary>
    private sealed class CountingBlobStore(IBlobStore inner) : IBlobStore
    {
        public List<(long Offset, int Length)> Reads { get; private set; } = [];
        public int StreamOpens;

        public string DisplayUri => inner.DisplayUri;

        public async Task<int> ReadRangeAsync(string path, long offset, Memory<byte> buffer, CancellationToken ct = default)
        {
            int n = await inner.ReadRangeAsync(path, offset, buffer, ct);
            lock (this) Reads.Add((offset, n));
            return n;
        }

        public Task<Stream> OpenReadAsync(string path, long offset = 0, long? length = null, CancellationToken ct = default)
        {
            Interlocked.Increment(ref StreamOpens);
            return inner.OpenReadAsync(path, offset, length, ct);
        }

        public Task<BlobProperties?> GetPropertiesAsync(string path, CancellationToken ct = default) => inner.GetPropertiesAsync(path, ct);
        public Task<BlobProperties> WriteAsync(string path, Stream content, BlobWriteOptions? options = null, CancellationToken ct = default) =>
            inner.WriteAsync(path, content, options, ct);
        public Task<BlobListPage> ListPageAsync(string prefix, string? delimiter = null, string? continuation = null, int maxResults = 5000,
            CancellationToken ct = default) => inner.ListPageAsync(prefix, delimiter, continuation, maxResults, ct);
        public Task<bool> DeleteAsync(string path, string? ifMatch = null, CancellationToken ct = default) => inner.DeleteAsync(path, ifMatch, ct);
        public Task<string?> TryAcquireLeaseAsync(string path, TimeSpan? duration, string? proposedLeaseId = null, CancellationToken ct = default) =>
            inner.TryAcquireLeaseAsync(path, duration, proposedLeaseId, ct);
        public Task RenewLeaseAsync(string path, string leaseId, CancellationToken ct = default) => inner.RenewLeaseAsync(path, leaseId, ct);
        public Task ReleaseLeaseAsync(string path, string leaseId, CancellationToken ct = default) => inner.ReleaseLeaseAsync(path, leaseId, ct);
        public Task BreakLeaseAsync(string path, TimeSpan breakPeriod, CancellationToken ct = default) => inner.BreakLeaseAsync(path, breakPeriod, ct);
        public void Dispose() { }
    }
}
