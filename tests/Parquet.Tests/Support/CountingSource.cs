using Dreamer.Parquet.IO;

namespace Dreamer.Parquet.Tests.Support;

/// <summary>Counts the bytes and requests that go through a source (what a network store would be asked for).</summary>
public sealed class CountingSource(IRandomAccessSource inner) : IRandomAccessSource
{
    public long BytesRead;
    public int Requests;
    public long Length => inner.Length;

    public async ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        int n = await inner.ReadAsync(offset, buffer, ct);
        Interlocked.Add(ref BytesRead, n);
        Interlocked.Increment(ref Requests);
        return n;
    }

    public void Dispose() => inner.Dispose();
}
