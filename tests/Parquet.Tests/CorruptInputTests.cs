using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using Dreamer.Parquet.Format;
using Dreamer.Parquet.IO;
using Dreamer.Parquet.Thrift;

namespace Dreamer.Parquet.Tests;

/// <summary>Corrupt input fails with a ParquetFormatException that names the file and the byte offset.</summary>
public class CorruptInputTests
{
    private static byte[] ValidFile(CompressionCodec codec, bool dictionary = false, int rows = 1000)
    {
        var schema = new ParquetSchema(ParquetField.Int64("id"), ParquetField.String("name", nullable: true), ParquetField.List("vec", ParquetField.Float("element")));
        var rnd = new Random(42);
        var ids = Enumerable.Range(0, rows).Select(i => (long)i * 7).ToArray();
        var names = Enumerable.Range(0, rows).Select(i => i % 5 == 0 ? null : "name-" + rnd.Next(100)).ToArray();
        var offsets = Enumerable.Range(0, rows + 1).Select(i => i * 2).ToArray();
        var vec = Enumerable.Range(0, rows * 2).Select(i => (float)i).ToArray();
        using var ms = new MemoryStream();
        using (var w = new ParquetWriter(ms, schema, new ParquetWriterOptions { Compression = codec, EnableDictionary = dictionary }, leaveOpen: true))
            w.Write(ColumnData.Primitive(ids), ColumnData.Strings(names), ColumnData.List(ColumnData.Primitive(vec), offsets));
        return ms.ToArray();
    }

    private static async Task ReadEverything(byte[] bytes, string name)
    {
        using var reader = await ParquetReader.OpenAsync(new MemorySource(bytes), name);
        await reader.ReadAllAsync();
    }

    private static async Task<ParquetFormatException> AssertCorrupt(byte[] bytes, string name, string? expectedText = null)
    {
        var e = await Assert.ThrowsAsync<ParquetFormatException>(() => ReadEverything(bytes, name));
        Assert.Contains(name, e.Message);
        Assert.Matches(@"byte offset \d+", e.Message);
        Assert.Equal(name, e.FileName);
        if (expectedText != null) Assert.Contains(expectedText, e.Message);
        return e;
    }

    private static (FileMetaData Meta, long FooterStart) Footer(byte[] file)
    {
        int len = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(file.Length - 8));
        int start = file.Length - 8 - len;
        return (FileMetaData.Read(new CompactReader(file, start, start + len, 0, "test")), start);
    }

    private static byte[] WithFooter(byte[] file, FileMetaData meta) => WithFooter(file, meta, Footer(file).FooterStart);

    private static byte[] WithFooter(byte[] file, FileMetaData meta, long start)
    {
        var buf = new ArrayBufferWriter<byte>();
        meta.Write(new CompactWriter(buf));
        var result = new byte[start + buf.WrittenCount + 8];
        file.AsSpan(0, (int)start).CopyTo(result);
        buf.WrittenSpan.CopyTo(result.AsSpan((int)start));
        BinaryPrimitives.WriteInt32LittleEndian(result.AsSpan(result.Length - 8), buf.WrittenCount);
        "PAR1"u8.CopyTo(result.AsSpan(result.Length - 4));
        return result;
    }

    /// <summary>Rewrites the first page header of the first column; later offsets in the footer follow the change in length.</summary>
    private static byte[] WithFirstPageHeader(byte[] file, Action<PageHeader> change)
    {
        var (meta, footerStart) = Footer(file);
        long offset = meta.RowGroups[0].Columns[0].MetaData!.DataPageOffset;
        var r = new CompactReader(file, (int)offset, file.Length, 0, "test");
        var header = PageHeader.Read(r);
        int end = r.Position;
        change(header);
        var buf = new ArrayBufferWriter<byte>();
        header.Write(new CompactWriter(buf));
        int delta = buf.WrittenCount - (end - (int)offset);
        var spliced = file[..(int)offset].Concat(buf.WrittenSpan.ToArray()).Concat(file[end..]).ToArray();
        foreach (var m in meta.RowGroups.SelectMany(g => g.Columns).Select(c => c.MetaData!))
        {
            if (m.DataPageOffset > offset) m.DataPageOffset += delta;
            if (m.DictionaryPageOffset > offset) m.DictionaryPageOffset += delta;
        }
        meta.RowGroups[0].Columns[0].MetaData!.TotalCompressedSize += delta;
        return WithFooter(spliced, meta, footerStart + delta);
    }

    [Fact]
    public async Task TheBaseFileIsValid() => await ReadEverything(ValidFile(CompressionCodec.Snappy), "valid.parquet");

    [Fact]
    public async Task BadMagicAtTheStart()
    {
        var f = ValidFile(CompressionCodec.Snappy);
        f[0] = (byte)'X';
        var e = await AssertCorrupt(f, "bad-head.parquet", "magic");
        Assert.Equal(0, e.Offset);
    }

    [Fact]
    public async Task BadMagicAtTheEnd()
    {
        var f = ValidFile(CompressionCodec.Snappy);
        f[^1] = (byte)'X';
        var e = await AssertCorrupt(f, "bad-tail.parquet", "magic");
        Assert.Equal(f.Length - 4, e.Offset);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(11)]
    public async Task TinyFiles(int length) =>
        await AssertCorrupt(ValidFile(CompressionCodec.Snappy)[..length], $"tiny-{length}.parquet");

    [Fact]
    public async Task TruncatedFile() =>
        await AssertCorrupt(ValidFile(CompressionCodec.Snappy)[..^20], "truncated.parquet", "magic");

    [Fact]
    public async Task TruncatedFooterKeepsItsTail()
    {
        // Drop the middle of the footer but keep length + magic: the length now reaches back into page data.
        var f = ValidFile(CompressionCodec.Snappy);
        var (_, start) = Footer(f);
        var cut = f[..(int)(start + 30)].Concat(f[^8..]).ToArray();
        await AssertCorrupt(cut, "truncated-footer.parquet");
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(1000.0)]
    public async Task FooterLengthLargerThanTheFile(double factor)
    {
        var f = ValidFile(CompressionCodec.Snappy);
        BinaryPrimitives.WriteInt32LittleEndian(f.AsSpan(f.Length - 8), (int)Math.Min(int.MaxValue, f.Length * factor));
        var e = await AssertCorrupt(f, "long-footer.parquet", "footer length");
        Assert.Equal(f.Length - 8, e.Offset);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task GarbageFooter(int seed)
    {
        var f = ValidFile(CompressionCodec.Snappy);
        var (_, start) = Footer(f);
        new Random(seed).NextBytes(f.AsSpan((int)start, f.Length - 8 - (int)start));
        await AssertCorrupt(f, $"garbage-{seed}.parquet");
    }

    private static byte[] FileWithFooter(byte[] footer)
    {
        var f = new byte[4 + footer.Length + 8];
        "PAR1"u8.CopyTo(f);
        footer.CopyTo(f, 4);
        BinaryPrimitives.WriteInt32LittleEndian(f.AsSpan(f.Length - 8), footer.Length);
        "PAR1"u8.CopyTo(f.AsSpan(f.Length - 4));
        return f;
    }

    [Fact]
    public async Task DeeplyNestedThriftIsRefused()
    {
        // An unknown field (id 15) of type struct, nested again and again: skipping must stop at a fixed depth.
        var footer = Enumerable.Repeat((byte)0xFC, 100_000).ToArray();
        await AssertCorrupt(FileWithFooter(footer), "deep.parquet", "nesting too deep");
    }

    [Fact]
    public async Task HugeListCountIsNotAllocated()
    {
        // version = 1, then schema: a list header claiming 2^32-1 struct elements in a 9-byte footer.
        byte[] footer = [0x15, 0x02, 0x19, 0xFC, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F];
        await AssertCorrupt(FileWithFooter(footer), "huge-list.parquet", "exceeds the");
    }

    [Fact]
    public async Task HugeStringLengthIsNotAllocated()
    {
        // created_by (field 6, binary) with a length of 2^31-1.
        byte[] footer = [0x68, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x41];
        await AssertCorrupt(FileWithFooter(footer), "huge-string.parquet", "binary length");
    }

    [Fact]
    public async Task PageClaimsMoreBytesThanTheChunkHas()
    {
        var f = WithFirstPageHeader(ValidFile(CompressionCodec.Uncompressed), h => h.CompressedPageSize += 100);
        await AssertCorrupt(f, "page-compressed-lie.parquet", "compressed bytes");
    }

    [Fact]
    public async Task PageClaimsAnAbsurdUncompressedSize()
    {
        var f = WithFirstPageHeader(ValidFile(CompressionCodec.Zstd), h => h.UncompressedPageSize = int.MaxValue);
        await AssertCorrupt(f, "page-huge.parquet", "uncompressed bytes");
    }

    [Theory]
    [InlineData(CompressionCodec.Uncompressed)]
    [InlineData(CompressionCodec.Snappy)]
    [InlineData(CompressionCodec.Gzip)]
    [InlineData(CompressionCodec.Zstd)]
    public async Task PageDecompressesToTheWrongSize(CompressionCodec codec)
    {
        var f = WithFirstPageHeader(ValidFile(codec), h => h.UncompressedPageSize -= 16);
        await AssertCorrupt(f, $"wrong-size-{codec}.parquet", "bytes");
        f = WithFirstPageHeader(ValidFile(codec), h => h.UncompressedPageSize += 16);
        await AssertCorrupt(f, $"wrong-size-up-{codec}.parquet", "bytes");
    }

    [Fact]
    public async Task ChunkOutsideTheFile()
    {
        var f = ValidFile(CompressionCodec.Snappy);
        var (meta, _) = Footer(f);
        meta.RowGroups[0].Columns[1].MetaData!.DataPageOffset = f.Length + 1000;
        await AssertCorrupt(WithFooter(f, meta), "chunk-outside.parquet", "outside the data region");
    }

    [Fact]
    public async Task ChunkClaimsMoreValuesThanItHas()
    {
        var f = ValidFile(CompressionCodec.Snappy);
        var (meta, _) = Footer(f);
        meta.RowGroups[0].Columns[0].MetaData!.NumValues += 5;
        await AssertCorrupt(WithFooter(f, meta), "num-values.parquet", "values");
    }

    [Fact]
    public async Task ChunkClaimsBillionsOfValues()
    {
        var f = ValidFile(CompressionCodec.Snappy);
        var (meta, _) = Footer(f);
        meta.RowGroups[0].Columns[0].MetaData!.NumValues = 40_000_000_000;
        await AssertCorrupt(WithFooter(f, meta), "billions.parquet", "num_values");
    }

    [Fact]
    public async Task SchemaWithImpossibleChildCount()
    {
        var f = ValidFile(CompressionCodec.Snappy);
        var (meta, _) = Footer(f);
        meta.Schema[0].NumChildren = 1_000_000;
        await AssertCorrupt(WithFooter(f, meta), "children.parquet", "schema");
    }

    /// <summary>Random byte damage anywhere: the reader either succeeds or raises a located format error, quickly.</summary>
    [Theory]
    [InlineData(CompressionCodec.Uncompressed, false)]
    [InlineData(CompressionCodec.Snappy, true)]
    [InlineData(CompressionCodec.Gzip, false)]
    [InlineData(CompressionCodec.Zstd, true)]
    public async Task RandomDamageNeverEscapesAsAnotherException(CompressionCodec codec, bool dictionary)
    {
        var original = ValidFile(codec, dictionary, rows: 300);
        var rnd = new Random((int)codec * 31 + (dictionary ? 1 : 0));
        var sw = Stopwatch.StartNew();
        for (int iteration = 0; iteration < 150; iteration++)
        {
            var f = (byte[])original.Clone();
            int flips = rnd.Next(1, 5);
            for (int i = 0; i < flips; i++) f[rnd.Next(f.Length)] = (byte)rnd.Next(256);
            string name = $"fuzz-{codec}-{iteration}.parquet";
            var before = GC.GetTotalAllocatedBytes(precise: false);
            try
            {
                await ReadEverything(f, name);
            }
            catch (ParquetFormatException e)
            {
                Assert.Contains(name, e.Message);
                Assert.Matches(@"byte offset \d+", e.Message);
            }
            long allocated = GC.GetTotalAllocatedBytes(precise: false) - before;
            Assert.True(allocated < 256L << 20, $"{name} allocated {allocated >> 20} MB");
        }
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), $"fuzzing took {sw.Elapsed}");
    }
}
