using System.Buffers;

namespace Dreamer.Storage.Azure;

/// <summary>
/// Forward-only read of [position, end) as ranged GETs of one chunk each, a few fetched ahead in parallel.
/// Every chunk is a separate retried request pinned to the first chunk's ETag, so a failure mid-way costs one
/// chunk and a blob replaced during the read fails loudly instead of mixing versions. Memory: chunk × (ahead + 1).
/// </summary>
internal sealed class AzureDownloadStream : Stream
{
    readonly AzureBlobStore _store;
    readonly string _path, _etag;
    readonly long _end;
    readonly int _chunkSize, _ahead;
    readonly Queue<Task<(byte[] Buffer, int Length)>> _fetches = new();
    readonly CancellationTokenSource _disposed = new();
    long _nextFetch;
    byte[]? _current;
    int _currentLength, _currentOffset;
    long _position;
    readonly long _start;

    public AzureDownloadStream(AzureBlobStore store, string path, string etag, byte[] firstChunk, int firstLength,
        long nextOffset, long end, int chunkSize, int ahead)
    {
        _store = store;
        _path = path;
        _etag = etag;
        _end = end;
        _chunkSize = chunkSize;
        _ahead = ahead;
        _current = firstChunk;
        _currentLength = firstLength;
        _start = nextOffset - firstLength;
        _position = _start;
        _nextFetch = nextOffset;
        FillAhead();
    }

    void FillAhead()
    {
        while (_fetches.Count < _ahead && _nextFetch < _end)
        {
            var offset = _nextFetch;
            var size = (int)Math.Min(_chunkSize, _end - offset);
            _nextFetch += size;
            _fetches.Enqueue(FetchAsync(offset, size));
        }
    }

    async Task<(byte[] Buffer, int Length)> FetchAsync(long offset, int size)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var result = await _store.GetRangeAsync(_path, offset, buffer.AsMemory(0, size), _etag, _disposed.Token).ConfigureAwait(false);
            if (result.Length != size)
                throw new BlobStoreException($"short read of {_path} at {offset}: {result.Length} of {size} bytes");
            return (buffer, size);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken ct = default)
    {
        if (destination.IsEmpty) return 0;
        while (_current == null || _currentOffset == _currentLength)
        {
            ReturnCurrent();
            if (!_fetches.TryDequeue(out var next)) return 0;
            (_current, _currentLength) = await next.WaitAsync(ct).ConfigureAwait(false);
            _currentOffset = 0;
            FillAhead();
        }
        var n = Math.Min(destination.Length, _currentLength - _currentOffset);
        _current.AsMemory(_currentOffset, n).CopyTo(destination);
        _currentOffset += n;
        _position += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct)
        => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    void ReturnCurrent()
    {
        if (_current != null) ArrayPool<byte>.Shared.Return(_current);
        _current = null;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => _end - _start;
    public override long Position { get => _position - _start; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) DisposeAsync().AsTask().GetAwaiter().GetResult();
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_disposed.IsCancellationRequested) return;
        await _disposed.CancelAsync().ConfigureAwait(false);
        ReturnCurrent();
        while (_fetches.TryDequeue(out var fetch))
        {
            try
            {
                var (buffer, _) = await fetch.ConfigureAwait(false);
                ArrayPool<byte>.Shared.Return(buffer);
            }
            catch { /* abandoned read-ahead: its error no longer matters */ }
        }
        _disposed.Dispose();
        GC.SuppressFinalize(this);
    }
}
