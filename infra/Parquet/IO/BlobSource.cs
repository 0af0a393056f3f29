using Dreamer.Storage;

namespace Dreamer.Parquet.IO;

/// <summary>
/// A blob in an <see cref="IBlobStore"/> as a positional source: each read is one ranged read of the
/// store (an HTTP range GET on Azure), so <see cref="ParquetReader"/> fetches the footer first and then only
/// the column chunks it needs. Large reads are split into parts fetched concurrently, as parallel range
/// GETs are how a blob store delivers bandwidth.
/// </summary>
public sealed class BlobSource : IRandomAccessSource
{
    /// <summary>Reads above this size are split into parts of this size, fetched concurrently.</summary>
    public const int PartBytes = 8 << 20;
    private const int MaxConcurrentParts = 8;

    private readonly IBlobStore _store;
    private readonly bool _ownsStore;

    /// <param name="length">The blob's length (from its properties): reads never go past it.</param>
    public BlobSource(IBlobStore store, string path, long length, bool ownsStore = false)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _store = store;
        Path = path;
        Length = length;
        _ownsStore = ownsStore;
    }

    /// <summary>Looks the blob up (one properties request) for its length.</summary>
    /// <exception cref="BlobNotFoundException">the blob does not exist.</exception>
    public static async Task<BlobSource> OpenAsync(IBlobStore store, string path, bool ownsStore = false, CancellationToken ct = default)
    {
        var props = await store.GetPropertiesAsync(path, ct).ConfigureAwait(false) ?? throw new BlobNotFoundException(path);
        return new BlobSource(store, path, props.Length, ownsStore);
    }

    public string Path { get; }
    public long Length { get; }

    /// <summary>The name the reader uses in error messages: the store's display URI and the blob path.</summary>
    public string DisplayName => _store.DisplayUri.TrimEnd('/') + "/" + Path;

    public async ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (offset >= Length || buffer.IsEmpty) return 0;
        if (buffer.Length > Length - offset) buffer = buffer[..(int)(Length - offset)];
        if (buffer.Length <= PartBytes) return await ReadFullyAsync(offset, buffer, ct).ConfigureAwait(false);

        int parts = (buffer.Length + PartBytes - 1) / PartBytes;
        var counts = new int[parts];
        await Parallel.ForAsync(0, parts, new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentParts, CancellationToken = ct },
            async (i, token) =>
            {
                int start = i * PartBytes, length = Math.Min(PartBytes, buffer.Length - start);
                counts[i] = await ReadFullyAsync(offset + start, buffer.Slice(start, length), token).ConfigureAwait(false);
            }).ConfigureAwait(false);
        // The result counts the contiguous prefix that arrived (a blob that shrank underneath ends it early).
        int total = 0;
        for (int i = 0; i < parts; i++)
        {
            total += counts[i];
            if (counts[i] < Math.Min(PartBytes, buffer.Length - i * PartBytes)) break;
        }
        return total;
    }

    private async Task<int> ReadFullyAsync(long offset, Memory<byte> buffer, CancellationToken ct)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = await _store.ReadRangeAsync(Path, offset + done, buffer[done..], ct).ConfigureAwait(false);
            if (n <= 0) break;
            done += n;
        }
        return done;
    }

    public void Dispose()
    {
        if (_ownsStore) _store.Dispose();
    }
}
