namespace Dreamer.Storage;

/// <summary>
/// A flat namespace of immutable-by-convention blobs addressed by '/'-separated paths
/// (no leading slash). Implemented by a local folder and by Azure Blob over REST; both
/// pass one contract test suite, so stages never know which one they talk to.
/// </summary>
public interface IBlobStore : IDisposable
{
    /// <summary>Where this store points, safe to log: never contains a key or SAS token.</summary>
    string DisplayUri { get; }

    /// <summary>Properties of a blob, or null when it does not exist.</summary>
    Task<BlobProperties?> GetPropertiesAsync(string path, CancellationToken ct = default);

    /// <summary>Reads up to buffer.Length bytes at offset; returns the count read (0 at or past the end).</summary>
    /// <exception cref="BlobNotFoundException">the blob does not exist.</exception>
    Task<int> ReadRangeAsync(string path, long offset, Memory<byte> buffer, CancellationToken ct = default);

    /// <summary>
    /// A forward-only stream over [offset, offset+length) (length null: to the end), fetching lazily
    /// so multi-GB blobs are never held in memory.
    /// </summary>
    Task<Stream> OpenReadAsync(string path, long offset = 0, long? length = null, CancellationToken ct = default);

    /// <summary>
    /// Writes a whole blob from a stream (read once, forward only, any size). The blob becomes
    /// visible atomically when this returns. Conditions and lease ids come from options.
    /// </summary>
    /// <exception cref="BlobConditionFailedException">a create-only or If-Match condition failed.</exception>
    Task<BlobProperties> WriteAsync(string path, Stream content, BlobWriteOptions? options = null, CancellationToken ct = default);

    /// <summary>One page of a listing by prefix; with a delimiter, deeper names roll up into prefixes.</summary>
    Task<BlobListPage> ListPageAsync(string prefix, string? delimiter = null, string? continuation = null,
        int maxResults = 5000, CancellationToken ct = default);

    /// <summary>Deletes a blob; returns false when it did not exist. ifMatch makes it conditional.</summary>
    Task<bool> DeleteAsync(string path, string? ifMatch = null, CancellationToken ct = default);

    /// <summary>
    /// Acquires a lease on an existing blob (create it first, e.g. an empty claim blob).
    /// Returns the lease id, or null when another holder has it. duration: 15-60 s, or null for infinite.
    /// </summary>
    Task<string?> TryAcquireLeaseAsync(string path, TimeSpan? duration, string? proposedLeaseId = null, CancellationToken ct = default);

    /// <exception cref="BlobLeaseLostException">the lease expired and was taken, or was broken.</exception>
    Task RenewLeaseAsync(string path, string leaseId, CancellationToken ct = default);

    /// <summary>Releases a lease; releasing one already released is not an error.</summary>
    Task ReleaseLeaseAsync(string path, string leaseId, CancellationToken ct = default);

    /// <summary>Breaks whatever lease is held, after breakPeriod (0 = now).</summary>
    Task BreakLeaseAsync(string path, TimeSpan breakPeriod, CancellationToken ct = default);
}

public enum WriteCondition
{
    /// <summary>Overwrite whatever is there.</summary>
    None,
    /// <summary>Fail with BlobConditionFailedException when the blob exists (If-None-Match: *).</summary>
    CreateOnly,
    /// <summary>Replace only when the current ETag equals BlobWriteOptions.IfMatchETag (compare-and-swap).</summary>
    IfMatch,
}

public sealed record BlobWriteOptions
{
    public WriteCondition Condition { get; init; } = WriteCondition.None;
    public string? IfMatchETag { get; init; }
    public string? LeaseId { get; init; }
    public string? ContentType { get; init; }
    /// <summary>User metadata (ASCII keys, C# identifier rules like Azure's x-ms-meta-*).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    public static BlobWriteOptions CreateOnly { get; } = new() { Condition = WriteCondition.CreateOnly };
    public static BlobWriteOptions IfMatch(string etag) => new() { Condition = WriteCondition.IfMatch, IfMatchETag = etag };
}

public sealed record BlobProperties(
    string Path,
    long Length,
    string ETag,
    DateTimeOffset LastModified,
    string? ContentType,
    IReadOnlyDictionary<string, string> Metadata,
    /// <summary>"available", "leased", "expired", "breaking" or "broken" (Azure's lease states).</summary>
    string LeaseState = "available");

public sealed record BlobItem(string Path, long Length, string ETag, DateTimeOffset LastModified);

/// <summary>Blobs directly under the prefix, plus rolled-up sub-prefixes (ending in the delimiter) when a delimiter was given.</summary>
public sealed record BlobListPage(IReadOnlyList<BlobItem> Blobs, IReadOnlyList<string> Prefixes, string? Continuation);

public class BlobStoreException : Exception
{
    public BlobStoreException(string message, Exception? inner = null) : base(message, inner) { }
}

public sealed class BlobNotFoundException(string path)
    : BlobStoreException($"blob not found: {path}")
{
    public string Path { get; } = path;
}

public sealed class BlobConditionFailedException(string path, string detail)
    : BlobStoreException($"condition failed on {path}: {detail}")
{
    public string Path { get; } = path;
}

public sealed class BlobLeaseLostException(string path, string detail)
    : BlobStoreException($"lease lost on {path}: {detail}")
{
    public string Path { get; } = path;
}

/// <summary>The service refused the credentials (HTTP 403): a wrong key, an expired or under-privileged SAS.</summary>
public sealed class BlobStoreAccessDeniedException(string message) : BlobStoreException(message);

/// <summary>A store URI, connection string or credential setting is malformed or missing; Setting names it.</summary>
public sealed class BlobStoreConfigurationException(string setting, string message)
    : BlobStoreException($"{setting}: {message}")
{
    public string Setting { get; } = setting;
}

public static class BlobStoreExtensions
{
    public static async Task<bool> ExistsAsync(this IBlobStore store, string path, CancellationToken ct = default)
        => await store.GetPropertiesAsync(path, ct).ConfigureAwait(false) != null;

    /// <summary>Every blob under a prefix, following continuations.</summary>
    public static async IAsyncEnumerable<BlobItem> ListAllAsync(this IBlobStore store, string prefix,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        string? continuation = null;
        do
        {
            var page = await store.ListPageAsync(prefix, null, continuation, 5000, ct).ConfigureAwait(false);
            foreach (var blob in page.Blobs) yield return blob;
            continuation = page.Continuation;
        } while (continuation != null);
    }

    public static async Task<byte[]> ReadAllBytesAsync(this IBlobStore store, string path, CancellationToken ct = default)
    {
        await using var stream = await store.OpenReadAsync(path, 0, null, ct).ConfigureAwait(false);
        using var memory = new MemoryStream();
        await stream.CopyToAsync(memory, ct).ConfigureAwait(false);
        return memory.ToArray();
    }

    public static Task<BlobProperties> WriteBytesAsync(this IBlobStore store, string path, ReadOnlyMemory<byte> bytes,
        BlobWriteOptions? options = null, CancellationToken ct = default)
    {
        var stream = new MemoryStream(bytes.ToArray(), writable: false);
        return store.WriteAsync(path, stream, options, ct);
    }
}
