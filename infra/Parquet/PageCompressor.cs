using System.Buffers;
using Dreamer.Parquet.Compression;
using Dreamer.Parquet.Format;
using Dreamer.Parquet.Thrift;

namespace Dreamer.Parquet;

/// <summary>A finished page: header + compressed payload in Buffer[0..Length) (from the shared pool).</summary>
internal readonly record struct EncodedPage(byte[] Buffer, int Length, long UncompressedLength);

/// <summary>A page being compressed, or already done.</summary>
internal readonly struct PendingPage
{
    private readonly Task<EncodedPage>? _task;
    private readonly EncodedPage _done;

    public PendingPage(Task<EncodedPage> task) { _task = task; _done = default; }
    public PendingPage(EncodedPage done) { _task = null; _done = done; }

    public EncodedPage Wait() => _task != null ? _task.GetAwaiter().GetResult() : _done;
}

/// <summary>
/// Compresses the pages of every column of a writer, up to MaxDegreeOfParallelism - 1 of them on pool threads
/// while the caller's thread goes on encoding; when those are all busy, the caller compresses the page itself.
/// So at most that many pages are in flight beside the caller: memory stays bounded and every core works.
/// </summary>
internal sealed class PageCompressor(ParquetWriterOptions options)
{
    private readonly int _background = Math.Max(0, options.MaxDegreeOfParallelism - 1);
    private int _inFlight;

    /// <summary>
    /// Takes ownership of payload (a pooled array holding the page body at [0, length)). The first `raw` bytes
    /// (v2 levels) are stored as they are; the rest is compressed.
    /// </summary>
    public PendingPage Submit(PageHeader header, byte[] payload, int length, int raw = 0, bool inline = false)
    {
        if (inline || _background == 0 || length < 4096 || Volatile.Read(ref _inFlight) >= _background)
            return new PendingPage(Encode(header, payload, length, raw));
        Interlocked.Increment(ref _inFlight);
        return new PendingPage(Task.Run(() =>
        {
            try { return Encode(header, payload, length, raw); }
            finally { Interlocked.Decrement(ref _inFlight); }
        }));
    }

    private EncodedPage Encode(PageHeader header, byte[] payload, int length, int raw)
    {
        byte[] compressed = Codecs.Compress(options.Compression, payload.AsSpan(raw, length - raw), options.ZstdLevel, out int clen);
        try
        {
            header.UncompressedPageSize = length;
            header.CompressedPageSize = raw + clen;
            var hb = new ArrayBufferWriter<byte>(64);
            header.Write(new CompactWriter(hb));
            int total = hb.WrittenCount + raw + clen;
            var page = ArrayPool<byte>.Shared.Rent(total);
            hb.WrittenSpan.CopyTo(page);
            payload.AsSpan(0, raw).CopyTo(page.AsSpan(hb.WrittenCount));
            compressed.AsSpan(0, clen).CopyTo(page.AsSpan(hb.WrittenCount + raw));
            return new EncodedPage(page, total, hb.WrittenCount + (long)length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(compressed);
            ArrayPool<byte>.Shared.Return(payload);
        }
    }
}
