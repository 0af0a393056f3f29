namespace Dreamer.Parquet.IO;

/// <summary>
/// Positional reads over an immutable byte sequence: a local file, a seekable stream or a blob
/// in a store. The reader only ever asks for the footer and the column chunks it needs, so an
/// implementation over a network store turns each call into one ranged request.
/// </summary>
public interface IRandomAccessSource : IDisposable
{
    long Length { get; }

    /// <summary>Reads up to buffer.Length bytes at offset; returns the count read (0 at or past the end).</summary>
    ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default);
}

public static class RandomAccessSourceExtensions
{
    /// <summary>Fills the buffer completely or throws; short reads are retried until the end of the source.</summary>
    public static async ValueTask ReadExactlyAsync(this IRandomAccessSource source, long offset, Memory<byte> buffer,
        string fileName, CancellationToken ct = default)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = await source.ReadAsync(offset + done, buffer[done..], ct).ConfigureAwait(false);
            if (n <= 0)
                throw new ParquetFormatException(fileName, offset + done,
                    $"unexpected end of data: wanted {buffer.Length} bytes, got {done}");
            done += n;
        }
    }
}

/// <summary>A local file read with positional I/O (no shared file position, safe for concurrent reads).</summary>
public sealed class FileSource : IRandomAccessSource
{
    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _handle;

    public FileSource(string path)
    {
        _handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        Length = RandomAccess.GetLength(_handle);
    }

    public long Length { get; }

    public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        if (offset >= Length) return ValueTask.FromResult(0);
        // Synchronous positional reads: local files are page-cache hits in practice and this
        // avoids the thread-pool hop of the async path for many small reads.
        return ValueTask.FromResult(RandomAccess.Read(_handle, buffer.Span, offset));
    }

    public void Dispose() => _handle.Dispose();
}

/// <summary>A seekable stream; reads are serialized because a stream has one position.</summary>
public sealed class StreamSource : IRandomAccessSource
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly SemaphoreSlim _lock = new(1, 1);

    public StreamSource(Stream stream, bool leaveOpen = false)
    {
        if (!stream.CanSeek || !stream.CanRead) throw new ArgumentException("the stream must be readable and seekable", nameof(stream));
        _stream = stream;
        _leaveOpen = leaveOpen;
    }

    public long Length => _stream.Length;

    public async ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        await _lock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (offset >= _stream.Length) return 0;
            _stream.Position = offset;
            return await _stream.ReadAsync(buffer, ct).ConfigureAwait(false);
        }
        finally { _lock.Release(); }
    }

    public void Dispose()
    {
        if (!_leaveOpen) _stream.Dispose();
        _lock.Dispose();
    }
}

/// <summary>Bytes already in memory (tests, small files).</summary>
public sealed class MemorySource(ReadOnlyMemory<byte> data) : IRandomAccessSource
{
    public long Length => data.Length;

    public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        if (offset >= data.Length) return ValueTask.FromResult(0);
        int n = (int)Math.Min(buffer.Length, data.Length - offset);
        data.Span.Slice((int)offset, n).CopyTo(buffer.Span);
        return ValueTask.FromResult(n);
    }

    public void Dispose() { }
}
