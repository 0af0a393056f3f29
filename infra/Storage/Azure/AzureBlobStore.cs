using System.Buffers;
using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.Extensions.Logging;

namespace Dreamer.Storage.Azure;

/// <summary>
/// One container of an Azure Blob account (or Azurite) over the REST API, x-ms-version pinned to
/// <see cref="AzureStorageAccount.ServiceVersion"/>. The container is created on the first write if missing.
/// </summary>
public sealed class AzureBlobStore : IBlobStore
{
    readonly AzureStorageAccount _account;
    readonly AzureBlobStoreOptions _options;
    readonly AzureBlobClient _client;
    readonly string _container;
    Task? _containerReady;

    public AzureBlobStore(AzureStorageAccount account, string container, AzureBlobStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(account);
        ValidateContainerName(container);
        _account = account;
        _container = container;
        _options = options ?? new AzureBlobStoreOptions();
        _options.Validate();
        _client = new AzureBlobClient(account, _options);
    }

    public AzureStorageAccount Account => _account;

    public string Container => _container;

    public string DisplayUri => $"{_account.BlobEndpoint.AbsoluteUri.TrimEnd('/')}/{_container}";

    public AzureStoreStatistics Statistics => _client.Statistics;

    public void Dispose() => _client.Dispose();

    static void ValidateContainerName(string name)
    {
        if (name is not { Length: >= 3 and <= 63 } || !name.All(c => c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-')
                                                || name[0] == '-' || name[^1] == '-' || name.Contains("--"))
            throw new BlobStoreConfigurationException("container",
                $"'{name}' is not a valid container name (3-63 lowercase letters, digits and single hyphens)");
    }

    // ---------------------------------------------------------------- reads

    public async Task<BlobProperties?> GetPropertiesAsync(string path, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        var response = await _client.SendAsync(new AzureRequest(HttpMethod.Head, "Get Blob Properties", _container, path), null, ct)
            .ConfigureAwait(false);
        if (response.Status == 404) return null;
        EnsureSuccess(response, "Get Blob Properties", path);
        return ParseProperties(path, response);
    }

    public async Task<int> ReadRangeAsync(string path, long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (buffer.IsEmpty)
            return await GetPropertiesAsync(path, ct).ConfigureAwait(false) == null ? throw new BlobNotFoundException(path) : 0;
        var chunk = await GetRangeAsync(path, offset, buffer, null, ct).ConfigureAwait(false);
        return chunk.Length;
    }

    public async Task<Stream> OpenReadAsync(string path, long offset = 0, long? length = null, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
        if (length == 0)
            return await GetPropertiesAsync(path, ct).ConfigureAwait(false) == null ? throw new BlobNotFoundException(path) : Stream.Null;

        // The first chunk proves the blob exists, tells its length and pins its ETag for the remaining chunks.
        var firstSize = (int)Math.Min(_options.DownloadChunkSize, length ?? long.MaxValue);
        var buffer = ArrayPool<byte>.Shared.Rent(firstSize);
        try
        {
            var first = await GetRangeAsync(path, offset, buffer.AsMemory(0, firstSize), null, ct).ConfigureAwait(false);
            if (first.Length == 0)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                return Stream.Null;
            }
            var end = Math.Min(first.BlobLength, length is { } l ? offset + l : long.MaxValue);
            return new AzureDownloadStream(this, path, first.ETag!, buffer, first.Length, offset + first.Length, end,
                _options.DownloadChunkSize, _options.DownloadParallelism);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    internal readonly record struct RangeResult(int Length, long BlobLength, string? ETag);

    /// <summary>
    /// One ranged Get Blob into destination. Past the end: Length 0. With ifMatch, a blob that changed since
    /// raises BlobConditionFailedException (a multi-chunk read never mixes two versions).
    /// </summary>
    internal async Task<RangeResult> GetRangeAsync(string path, long offset, Memory<byte> destination, string? ifMatch, CancellationToken ct)
    {
        var request = new AzureRequest(HttpMethod.Get, "Get Blob", _container, path)
            .With("x-ms-range", $"bytes={offset}-{offset + destination.Length - 1}")
            .With("If-Match", ifMatch);
        var response = await _client.SendAsync(request, destination, ct).ConfigureAwait(false);
        switch (response.Status)
        {
            case 416:
                return new RangeResult(0, offset, ifMatch);
            case 412:
                throw new BlobConditionFailedException(path, "the blob changed while it was being read");
        }
        EnsureSuccess(response, "Get Blob", path);
        // "Content-Range: bytes 0-99/1234" carries the blob length; a 200 (no range applied) has none.
        var contentRange = response.Header("Content-Range");
        var total = contentRange != null && contentRange.LastIndexOf('/') is var slash and >= 0
            ? long.Parse(contentRange[(slash + 1)..], CultureInfo.InvariantCulture)
            : long.Parse(response.Header("Content-Length") ?? "0", CultureInfo.InvariantCulture);
        return new RangeResult(response.BodyLength, total, response.Header("ETag"));
    }

    // ---------------------------------------------------------------- writes

    public async Task<BlobProperties> WriteAsync(string path, Stream content, BlobWriteOptions? options = null, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        ArgumentNullException.ThrowIfNull(content);
        options ??= new BlobWriteOptions();
        BlobNames.ValidateWriteOptions(options);
        var metadata = BlobNames.ValidateMetadata(options.Metadata);
        await EnsureContainerAsync(ct).ConfigureAwait(false);

        // Tags this write so a retried conditional write that meets its own earlier landing can recognise it.
        var writeId = Guid.NewGuid().ToString("N");
        var blockSize = _options.BlockSize;
        using var wholeMd5 = _options.StoreBlobMd5 ? IncrementalHash.CreateHash(HashAlgorithmName.MD5) : null;
        byte[]? first = ArrayPool<byte>.Shared.Rent(blockSize);
        byte[]? second = null;
        try
        {
            var firstLength = await AzureBlobClient.ReadFullyAsync(content, first.AsMemory(0, blockSize), ct).ConfigureAwait(false);
            var secondLength = 0;
            if (firstLength == blockSize)
            {
                second = ArrayPool<byte>.Shared.Rent(blockSize);
                secondLength = await AzureBlobClient.ReadFullyAsync(content, second.AsMemory(0, blockSize), ct).ConfigureAwait(false);
            }
            if (secondLength == 0)
            {
                var body = first.AsMemory(0, firstLength);
                var put = CommitRequest("Put Blob", path, options, metadata, writeId, body, MD5.HashData(body.Span));
                put.Headers["x-ms-blob-type"] = "BlockBlob";
                return await CommitAsync(put, path, body.Length, options, metadata, writeId, ct).ConfigureAwait(false);
            }

            wholeMd5?.AppendData(first, 0, firstLength);
            wholeMd5?.AppendData(second!, 0, secondLength);
            var buffers = new[] { (first, firstLength), (second!, secondLength) };
            (first, second) = (null, null); // the block stager owns them now
            var (blockIds, length) = await StageBlocksAsync(path, writeId, content, buffers, wholeMd5, options.LeaseId, ct).ConfigureAwait(false);

            var list = new StringBuilder("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
            foreach (var id in blockIds) list.Append("<Latest>").Append(id).Append("</Latest>");
            var xml = Encoding.UTF8.GetBytes(list.Append("</BlockList>").ToString());
            var commit = CommitRequest("Put Block List", path, options, metadata, writeId, xml, MD5.HashData(xml))
                .WithQuery("comp", "blocklist")
                .With("Content-Type", "application/xml")
                .With("x-ms-blob-content-md5", wholeMd5 == null ? null : Convert.ToBase64String(wholeMd5.GetHashAndReset()));
            return await CommitAsync(commit, path, length, options, metadata, writeId, ct).ConfigureAwait(false);
        }
        finally
        {
            if (first != null) ArrayPool<byte>.Shared.Return(first);
            if (second != null) ArrayPool<byte>.Shared.Return(second);
        }
    }

    AzureRequest CommitRequest(string operation, string path, BlobWriteOptions options, IReadOnlyDictionary<string, string> metadata,
        string writeId, ReadOnlyMemory<byte> body, byte[] bodyMd5)
    {
        var request = new AzureRequest(HttpMethod.Put, operation, _container, path) { Body = body }
            .With("Content-MD5", Convert.ToBase64String(bodyMd5))
            .With("x-ms-blob-content-type", options.ContentType ?? BlobNames.DefaultContentType)
            .With("x-ms-lease-id", options.LeaseId)
            .With("x-ms-meta-" + BlobNames.WriteIdKey, writeId);
        foreach (var (key, value) in metadata) request.Headers["x-ms-meta-" + key] = value;
        return options.Condition switch
        {
            WriteCondition.CreateOnly => request.With("If-None-Match", "*"),
            WriteCondition.IfMatch => request.With("If-Match", BlobNames.QuoteETag(options.IfMatchETag!)),
            _ => request,
        };
    }

    /// <summary>
    /// Sends Put Blob / Put Block List and maps the answer. The lost-response trap: when an attempt landed but
    /// its response was lost, the retry meets our own blob and gets 409/412; the write id in the blob's
    /// metadata tells that apart from a genuine conflict.
    /// </summary>
    async Task<BlobProperties> CommitAsync(AzureRequest request, string path, long length, BlobWriteOptions options,
        IReadOnlyDictionary<string, string> metadata, string writeId, CancellationToken ct)
    {
        var response = await _client.SendAsync(request, null, ct).ConfigureAwait(false);
        if (response.Status is 409 or 412 && response.Attempts > 1)
        {
            var (current, currentWriteId) = await GetPropertiesWithWriteIdAsync(path, ct).ConfigureAwait(false);
            if (current != null && currentWriteId == writeId)
            {
                _options.Logger?.LogInformation("{Operation} {Path}: a retry met this write's own earlier landing; accepted",
                    request.Operation, path);
                return current;
            }
        }
        if (response.Status is 409 or 412) throw WriteConflict(response, path, options.LeaseId);
        EnsureSuccess(response, request.Operation, path);
        return new BlobProperties(path, length, response.Header("ETag") ?? "", ParseDate(response.Header("Last-Modified")),
            options.ContentType ?? BlobNames.DefaultContentType, metadata, options.LeaseId != null ? "leased" : "available");
    }

    static BlobStoreException WriteConflict(AzureResponse response, string path, string? leaseId)
    {
        var code = response.ErrorCode ?? "";
        if (code.StartsWith("Lease", StringComparison.Ordinal))
            return leaseId != null
                ? new BlobLeaseLostException(path, $"the write's lease is not the blob's active lease ({code})")
                : new BlobConditionFailedException(path, $"blob is leased and the write carries no lease id ({code})");
        return new BlobConditionFailedException(path, response.Status == 409 ? $"blob already exists ({code})" : $"ETag does not match ({code})");
    }

    /// <summary>
    /// Uploads blocks with at most UploadParallelism in flight. The next block is read and its Content-MD5 hashed
    /// while all slots are busy, so a freed slot sends at once instead of first waiting for a read and a hash; memory
    /// stays bounded (UploadParallelism + 1 blocks) however long the source is. Returns the block ids in order and
    /// the total length.
    /// </summary>
    async Task<(List<string> Ids, long Length)> StageBlocksAsync(string path, string writeId, Stream content,
        (byte[] Buffer, int Length)[] alreadyRead, IncrementalHash? wholeMd5, string? leaseId, CancellationToken ct)
    {
        var blockSize = _options.BlockSize;
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var slots = new SemaphoreSlim(_options.UploadParallelism);
        var tasks = new List<Task>();
        var ids = new List<string>();
        long total = 0;

        // The hash runs on the thread pool beside the sends; the buffer goes back to the pool only after it ends.
        static Task<string> HashAsync(byte[] buffer, int length)
            => Task.Run(() => Convert.ToBase64String(MD5.HashData(buffer.AsSpan(0, length))));

        void Dispatch(byte[] buffer, int length, Task<string> md5)
        {
            // Fixed-length ids (Azure requires one length per blob), unique per write so two writers racing on
            // one name never replace each other's uncommitted blocks.
            var id = Convert.ToBase64String(Encoding.ASCII.GetBytes($"{writeId}-{ids.Count:D6}"));
            ids.Add(id);
            total += length;
            tasks.Add(Task.Run(async () =>
            {
                try
                {
                    var body = buffer.AsMemory(0, length);
                    var request = new AzureRequest(HttpMethod.Put, "Put Block", _container, path) { Body = body }
                        .WithQuery("comp", "block")
                        .WithQuery("blockid", id)
                        .With("Content-MD5", await md5.ConfigureAwait(false))
                        .With("x-ms-lease-id", leaseId);
                    var response = await _client.SendAsync(request, null, failed.Token).ConfigureAwait(false);
                    if (response.Status == 412) throw WriteConflict(response, path, leaseId);
                    EnsureSuccess(response, "Put Block", path);
                }
                catch
                {
                    await failed.CancelAsync().ConfigureAwait(false);
                    throw;
                }
                finally
                {
                    try { await md5.ConfigureAwait(false); } catch { /* only its buffer matters here */ }
                    ArrayPool<byte>.Shared.Return(buffer);
                    slots.Release();
                }
            }, CancellationToken.None));
        }

        var pending = new Queue<(byte[] Buffer, int Length)>(alreadyRead);
        (byte[] Buffer, int Length, Task<string> Md5)? prepared = null;
        try
        {
            while (true)
            {
                byte[] buffer;
                int length;
                if (pending.TryDequeue(out var ready)) (buffer, length) = ready;
                else
                {
                    buffer = ArrayPool<byte>.Shared.Rent(blockSize);
                    try { length = await AzureBlobClient.ReadFullyAsync(content, buffer.AsMemory(0, blockSize), failed.Token).ConfigureAwait(false); }
                    catch { ArrayPool<byte>.Shared.Return(buffer); throw; }
                    if (length == 0)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        break;
                    }
                    wholeMd5?.AppendData(buffer, 0, length);
                }
                prepared = (buffer, length, HashAsync(buffer, length));
                await slots.WaitAsync(failed.Token).ConfigureAwait(false);
                Dispatch(buffer, length, prepared.Value.Md5);
                prepared = null;
                if (length < blockSize) break;
            }
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await failed.CancelAsync().ConfigureAwait(false);
            if (prepared is { } unsent)
            {
                try { await unsent.Md5.ConfigureAwait(false); } catch { /* only its buffer matters here */ }
                ArrayPool<byte>.Shared.Return(unsent.Buffer);
            }
            foreach (var (buffer, _) in pending) ArrayPool<byte>.Shared.Return(buffer);
            try { await Task.WhenAll(tasks).ConfigureAwait(false); } catch { /* reported below */ }
            // The first real failure, not the cancellations it caused in the other blocks.
            var cause = tasks.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!)
                .FirstOrDefault(x => x is not OperationCanceledException);
            if (cause != null && !ct.IsCancellationRequested) ExceptionDispatchInfo.Throw(cause);
            ExceptionDispatchInfo.Throw(e);
        }
        return (ids, total);
    }

    public async Task<bool> DeleteAsync(string path, string? ifMatch = null, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        var request = new AzureRequest(HttpMethod.Delete, "Delete Blob", _container, path)
            .With("If-Match", ifMatch == null ? null : BlobNames.QuoteETag(ifMatch));
        var response = await _client.SendAsync(request, null, ct).ConfigureAwait(false);
        switch (response.Status)
        {
            case 202:
                return true;
            // After a retry, "gone" most likely means an earlier attempt of ours deleted it.
            case 404 when response.Attempts > 1:
                return true;
            case 404 when ifMatch == null:
                return false;
            case 404:
                throw new BlobConditionFailedException(path, "blob does not exist");
            case 412 when response.Attempts > 1 && await GetPropertiesAsync(path, ct).ConfigureAwait(false) == null:
                return true;
            case 412 or 409 when (response.ErrorCode ?? "").StartsWith("Lease", StringComparison.Ordinal):
                throw new BlobConditionFailedException(path, $"blob is leased ({response.ErrorCode})");
            case 412:
                throw new BlobConditionFailedException(path, $"ETag does not match ({response.ErrorCode})");
        }
        EnsureSuccess(response, "Delete Blob", path);
        return true;
    }

    // ---------------------------------------------------------------- listing

    public async Task<BlobListPage> ListPageAsync(string prefix, string? delimiter = null, string? continuation = null,
        int maxResults = 5000, CancellationToken ct = default)
    {
        BlobNames.ValidatePrefix(prefix);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxResults, 1);
        var request = new AzureRequest(HttpMethod.Get, "List Blobs", _container)
            .WithQuery("restype", "container")
            .WithQuery("comp", "list")
            .WithQuery("prefix", prefix)
            .WithQuery("delimiter", delimiter)
            .WithQuery("marker", continuation)
            .WithQuery("maxresults", Math.Min(maxResults, 5000).ToString(CultureInfo.InvariantCulture));
        var response = await _client.SendAsync(request, null, ct).ConfigureAwait(false);
        if (response.Status == 404) return new BlobListPage([], [], null); // no container yet: nothing written
        EnsureSuccess(response, "List Blobs", prefix);

        var root = XDocument.Load(new MemoryStream(response.Body, 0, response.BodyLength)).Root!;
        var blobs = new List<BlobItem>();
        var prefixes = new List<string>();
        foreach (var element in root.Element("Blobs")?.Elements() ?? [])
        {
            var name = element.Element("Name")!.Value;
            if (element.Name.LocalName == "BlobPrefix")
            {
                prefixes.Add(name);
                continue;
            }
            var properties = element.Element("Properties")!;
            blobs.Add(new BlobItem(name,
                long.Parse(properties.Element("Content-Length")!.Value, CultureInfo.InvariantCulture),
                BlobNames.QuoteETag(properties.Element("Etag")!.Value),
                ParseDate(properties.Element("Last-Modified")!.Value)));
        }
        var next = root.Element("NextMarker")?.Value;
        return new BlobListPage(blobs, prefixes, string.IsNullOrEmpty(next) ? null : next);
    }

    // ---------------------------------------------------------------- leases

    public async Task<string?> TryAcquireLeaseAsync(string path, TimeSpan? duration, string? proposedLeaseId = null, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        if (duration is { } d && (d < TimeSpan.FromSeconds(15) || d > TimeSpan.FromSeconds(60)))
            throw new ArgumentOutOfRangeException(nameof(duration), "an Azure lease lasts 15-60 s or forever (null)");
        // Always propose an id: re-acquiring with the id we already hold succeeds, so a retry after a lost
        // response is idempotent instead of reporting our own lease as taken.
        var leaseId = proposedLeaseId ?? Guid.NewGuid().ToString();
        var response = await SendLeaseAsync(path, "acquire", ct, request => request
            .With("x-ms-lease-duration", duration is { } dd ? ((int)Math.Round(dd.TotalSeconds)).ToString(CultureInfo.InvariantCulture) : "-1")
            .With("x-ms-proposed-lease-id", leaseId)).ConfigureAwait(false);
        if (response.Status == 409) return null;
        EnsureSuccess(response, "Lease Blob (acquire)", path);
        return response.Header("x-ms-lease-id") ?? leaseId;
    }

    public async Task RenewLeaseAsync(string path, string leaseId, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        var response = await SendLeaseAsync(path, "renew", ct, request => request.With("x-ms-lease-id", leaseId)).ConfigureAwait(false);
        if (response.Status is 409 or 412) throw new BlobLeaseLostException(path, response.ErrorCode ?? $"HTTP {response.Status}");
        EnsureSuccess(response, "Lease Blob (renew)", path);
    }

    public async Task ReleaseLeaseAsync(string path, string leaseId, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        var response = await SendLeaseAsync(path, "release", ct, request => request.With("x-ms-lease-id", leaseId)).ConfigureAwait(false);
        // 409: not ours any more, or a retried release whose first attempt landed (azure-sdk-for-net#29944).
        if (response.Status is 409 or 412 or 404) return;
        EnsureSuccess(response, "Lease Blob (release)", path);
    }

    public async Task BreakLeaseAsync(string path, TimeSpan breakPeriod, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(breakPeriod, TimeSpan.Zero);
        var seconds = (int)Math.Ceiling(Math.Min(breakPeriod.TotalSeconds, 60));
        var response = await SendLeaseAsync(path, "break", ct,
            request => request.With("x-ms-lease-break-period", seconds.ToString(CultureInfo.InvariantCulture))).ConfigureAwait(false);
        if (response.Status == 409) return; // no lease to break
        EnsureSuccess(response, "Lease Blob (break)", path);
    }

    Task<AzureResponse> SendLeaseAsync(string path, string action, CancellationToken ct, Func<AzureRequest, AzureRequest> configure)
    {
        var request = new AzureRequest(HttpMethod.Put, $"Lease Blob ({action})", _container, path)
            .WithQuery("comp", "lease")
            .With("x-ms-lease-action", action);
        return _client.SendAsync(configure(request), null, ct);
    }

    // ---------------------------------------------------------------- helpers

    async Task EnsureContainerAsync(CancellationToken ct)
    {
        var ready = _containerReady;
        if (ready is { IsCompletedSuccessfully: true }) return;
        if (ready == null || ready.IsFaulted || ready.IsCanceled)
        {
            var created = CreateContainerAsync(ct);
            ready = Interlocked.CompareExchange(ref _containerReady, created, ready) == ready ? created : _containerReady!;
        }
        await ready.ConfigureAwait(false);
    }

    async Task CreateContainerAsync(CancellationToken ct)
    {
        var request = new AzureRequest(HttpMethod.Put, "Create Container", _container).WithQuery("restype", "container");
        var response = await _client.SendAsync(request, null, ct).ConfigureAwait(false);
        if (response.Status is 201 or 409) return; // 409 ContainerAlreadyExists: someone (maybe our earlier attempt) made it
        // A container-scoped SAS may not create containers; the container then has to exist already.
        if (response.Status == 403 && _account.UsesSas && response.ErrorCode != "AuthenticationFailed") return;
        EnsureSuccess(response, "Create Container", "");
    }

    async Task<(BlobProperties? Properties, string? WriteId)> GetPropertiesWithWriteIdAsync(string path, CancellationToken ct)
    {
        var response = await _client.SendAsync(new AzureRequest(HttpMethod.Head, "Get Blob Properties", _container, path), null, ct)
            .ConfigureAwait(false);
        if (response.Status == 404) return (null, null);
        EnsureSuccess(response, "Get Blob Properties", path);
        return (ParseProperties(path, response), response.Header("x-ms-meta-" + BlobNames.WriteIdKey));
    }

    static BlobProperties ParseProperties(string path, AzureResponse response)
    {
        var metadata = new Dictionary<string, string>();
        foreach (var (name, value) in response.Headers)
            if (name.StartsWith("x-ms-meta-", StringComparison.OrdinalIgnoreCase))
            {
                var key = name["x-ms-meta-".Length..].ToLowerInvariant();
                if (key != BlobNames.WriteIdKey) metadata[key] = value;
            }
        return new BlobProperties(path,
            long.Parse(response.Header("Content-Length") ?? "0", CultureInfo.InvariantCulture),
            response.Header("ETag") ?? "",
            ParseDate(response.Header("Last-Modified")),
            response.Header("Content-Type"),
            metadata,
            response.Header("x-ms-lease-state") ?? "available");
    }

    static DateTimeOffset ParseDate(string? value)
        => value == null ? default : DateTimeOffset.Parse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    void EnsureSuccess(AzureResponse response, string operation, string path)
    {
        if (response.Status is >= 200 and < 300) return;
        var code = response.ErrorCode ?? "";
        throw response.Status switch
        {
            404 when code is "ContainerNotFound" or "BlobNotFound" or "" => new BlobNotFoundException(path),
            403 => new BlobStoreAccessDeniedException(
                $"{operation} {DisplayUri}/{path}: access denied (HTTP 403 {code}); check the credential from {_account.CredentialSource}"),
            _ => new BlobStoreException($"{operation} {DisplayUri}/{path}: HTTP {response.Status} {code}"),
        };
    }
}
