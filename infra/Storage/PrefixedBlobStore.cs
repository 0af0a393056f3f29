namespace Dreamer.Storage;

/// <summary>
/// Scopes a store to the blobs under a prefix ("runs/2026/"): paths are relative to it, listings strip it.
/// Stores opened from a URI or connection string with a prefix are this wrapper around the container's store.
/// Errors name the full path inside the container, which is what an operator can look up.
/// </summary>
public sealed class PrefixedBlobStore : IBlobStore
{
    readonly IBlobStore _inner;
    readonly string _prefix;

    public PrefixedBlobStore(IBlobStore inner, string prefix)
    {
        ArgumentNullException.ThrowIfNull(inner);
        BlobNames.ValidatePrefix(prefix);
        if (prefix.Length == 0) throw new ArgumentException("a scoping prefix must not be empty", nameof(prefix));
        _inner = inner;
        _prefix = prefix.EndsWith('/') ? prefix : prefix + "/";
    }

    public IBlobStore Inner => _inner;

    public string Prefix => _prefix;

    public string DisplayUri => $"{_inner.DisplayUri}/{_prefix.TrimEnd('/')}";

    public void Dispose() => _inner.Dispose();

    string Full(string path) => _prefix + BlobNames.ValidatePath(path);

    string Relative(string path) => path[_prefix.Length..];

    public async Task<BlobProperties?> GetPropertiesAsync(string path, CancellationToken ct = default)
        => await _inner.GetPropertiesAsync(Full(path), ct).ConfigureAwait(false) is { } p ? p with { Path = path } : null;

    public Task<int> ReadRangeAsync(string path, long offset, Memory<byte> buffer, CancellationToken ct = default)
        => _inner.ReadRangeAsync(Full(path), offset, buffer, ct);

    public Task<Stream> OpenReadAsync(string path, long offset = 0, long? length = null, CancellationToken ct = default)
        => _inner.OpenReadAsync(Full(path), offset, length, ct);

    public async Task<BlobProperties> WriteAsync(string path, Stream content, BlobWriteOptions? options = null, CancellationToken ct = default)
        => (await _inner.WriteAsync(Full(path), content, options, ct).ConfigureAwait(false)) with { Path = path };

    public async Task<BlobListPage> ListPageAsync(string prefix, string? delimiter = null, string? continuation = null,
        int maxResults = 5000, CancellationToken ct = default)
    {
        BlobNames.ValidatePrefix(prefix);
        var page = await _inner.ListPageAsync(_prefix + prefix, delimiter, continuation, maxResults, ct).ConfigureAwait(false);
        return new BlobListPage(
            page.Blobs.Select(b => b with { Path = Relative(b.Path) }).ToList(),
            page.Prefixes.Select(Relative).ToList(),
            page.Continuation);
    }

    public Task<bool> DeleteAsync(string path, string? ifMatch = null, CancellationToken ct = default)
        => _inner.DeleteAsync(Full(path), ifMatch, ct);

    public Task<string?> TryAcquireLeaseAsync(string path, TimeSpan? duration, string? proposedLeaseId = null, CancellationToken ct = default)
        => _inner.TryAcquireLeaseAsync(Full(path), duration, proposedLeaseId, ct);

    public Task RenewLeaseAsync(string path, string leaseId, CancellationToken ct = default)
        => _inner.RenewLeaseAsync(Full(path), leaseId, ct);

    public Task ReleaseLeaseAsync(string path, string leaseId, CancellationToken ct = default)
        => _inner.ReleaseLeaseAsync(Full(path), leaseId, ct);

    public Task BreakLeaseAsync(string path, TimeSpan breakPeriod, CancellationToken ct = default)
        => _inner.BreakLeaseAsync(Full(path), breakPeriod, ct);
}
