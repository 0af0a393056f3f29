using System.Text;
using System.Text.Json;

namespace Dreamer.Storage;

public sealed record LocalFolderStoreOptions
{
    /// <summary>fsync each blob before it becomes visible, so a power loss never leaves a torn file.</summary>
    public bool Durable { get; init; } = true;

    /// <summary>Temp files of writers that died (unlocked and at least this old) are deleted when a store opens.</summary>
    public TimeSpan StaleTempAge { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How long an operation waits for another process's short per-blob critical section.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// A folder as a blob store: blob "a/b.bin" is the plain file root/a/b.bin, so users and tools (cp, DuckDB)
/// can read it directly. Bookkeeping lives under root/.blobstore/:
/// <list type="bullet">
/// <item>tmp/: content is streamed to a temp file there, then renamed into place, so a blob appears atomically
/// and a crashed writer leaves only an ignored temp file (deleted when unlocked and stale).</item>
/// <item>locks/: 256 striped lock files; a short critical section per blob (condition check, lease check, rename)
/// holds one with FileShare.None, which .NET implements as flock(2) on Unix: exclusive across processes and
/// released by the kernel when a holder dies (so DOTNET_SYSTEM_IO_DISABLEFILELOCKING must stay unset).</item>
/// <item>meta/&lt;path&gt;.meta/&lt;etag&gt;: content type and metadata of one version, keyed by its ETag so a reader
/// never pairs new content with old metadata.</item>
/// <item>leases/&lt;path&gt;.lease: lease id, duration and expiry, so a crashed holder's lease simply expires.</item>
/// </list>
/// The ETag is the file's modification time (set by the writer, strictly increasing under the blob lock) plus its
/// length: it changes on every write, survives the rename, and also changes when someone edits the file by hand.
/// </summary>
public sealed class LocalFolderStore : IBlobStore
{
    internal const string HiddenDir = ".blobstore";
    const int LockStripes = 256;
    const int CopyBufferSize = 1 << 20;

    readonly string _root;
    readonly string _tmp, _meta, _leases, _locks;
    readonly LocalFolderStoreOptions _options;

    public LocalFolderStore(string root, LocalFolderStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        _options = options ?? new LocalFolderStoreOptions();
        _root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        var hidden = Path.Combine(_root, HiddenDir);
        _tmp = Path.Combine(hidden, "tmp");
        _meta = Path.Combine(hidden, "meta");
        _leases = Path.Combine(hidden, "leases");
        _locks = Path.Combine(hidden, "locks");
        foreach (var dir in new[] { _tmp, _meta, _leases, _locks }) Directory.CreateDirectory(dir);
        CleanupStaleTempFiles(_options.StaleTempAge);
    }

    public string RootPath => _root;

    public string DisplayUri => new Uri(_root + Path.DirectorySeparatorChar).AbsoluteUri.TrimEnd('/');

    public void Dispose() { }

    /// <summary>Deletes temp files that no live writer holds and that are at least minAge old; returns how many.</summary>
    public int CleanupStaleTempFiles(TimeSpan minAge)
    {
        var removed = 0;
        foreach (var file in new DirectoryInfo(_tmp).EnumerateFiles())
        {
            if (DateTime.UtcNow - file.LastWriteTimeUtc < minAge) continue;
            try
            {
                // A live writer holds its temp file with FileShare.None; opening it the same way fails then.
                using (new FileStream(file.FullName, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) { }
                file.Delete();
                removed++;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return removed;
    }

    // ---------------------------------------------------------------- reads

    public Task<BlobProperties?> GetPropertiesAsync(string path, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        var file = BlobFile(path);
        // A concurrent writer may swap the content between our stat and the sidecar read; the sidecar of the
        // version we saw is deleted only after its replacement is in place, so re-stat and retry on a change.
        for (var attempt = 0; ; attempt++)
        {
            ct.ThrowIfCancellationRequested();
            var info = new FileInfo(file);
            if (!info.Exists) return Task.FromResult<BlobProperties?>(null);
            var (etag, length, modified) = (ETagOf(info), info.Length, info.LastWriteTimeUtc);
            var sidecar = ReadSidecar(path, etag);
            info.Refresh();
            if (attempt < 10 && (!info.Exists || ETagOf(info) != etag)) continue;
            var lease = ReadLease(path).StateAt(DateTime.UtcNow);
            return Task.FromResult<BlobProperties?>(new BlobProperties(path, length, etag, modified,
                sidecar.ContentType, sidecar.Metadata, lease));
        }
    }

    public async Task<int> ReadRangeAsync(string path, long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        using var handle = OpenForRead(path);
        var total = 0;
        while (total < buffer.Length)
        {
            var n = await RandomAccess.ReadAsync(handle, buffer[total..], offset + total, ct).ConfigureAwait(false);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    public Task<Stream> OpenReadAsync(string path, long offset = 0, long? length = null, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
        var handle = OpenForRead(path);
        try
        {
            var fileLength = RandomAccess.GetLength(handle);
            var start = Math.Min(offset, fileLength);
            var end = length is { } l ? Math.Min(fileLength, start + l) : fileLength;
            var stream = new FileStream(handle, FileAccess.Read, CopyBufferSize);
            stream.Position = start;
            return Task.FromResult<Stream>(new BoundedReadStream(stream, end - start));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    Microsoft.Win32.SafeHandles.SafeFileHandle OpenForRead(string path)
    {
        try
        {
            // Share everything: a reader must never block a writer's rename or a delete (the open handle keeps
            // the old version readable, which is exactly snapshot semantics).
            return File.OpenHandle(BlobFile(path), FileMode.Open, FileAccess.Read,
                FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException
                                      && !File.Exists(BlobFile(path)))
        {
            throw new BlobNotFoundException(path);
        }
    }

    // ---------------------------------------------------------------- writes

    public async Task<BlobProperties> WriteAsync(string path, Stream content, BlobWriteOptions? options = null, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        ArgumentNullException.ThrowIfNull(content);
        options ??= new BlobWriteOptions();
        BlobNames.ValidateWriteOptions(options);
        var metadata = BlobNames.ValidateMetadata(options.Metadata);
        RejectHidden(path);

        var temp = Path.Combine(_tmp, Guid.NewGuid().ToString("N"));
        try
        {
            // Held with FileShare.None while streaming, so the stale-temp cleaner of another process skips it.
            await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None,
                             1, FileOptions.Asynchronous))
            {
                await content.CopyToAsync(stream, CopyBufferSize, ct).ConfigureAwait(false);
                if (_options.Durable) stream.Flush(flushToDisk: true);
            }

            using var blobLock = await LockAsync(path, ct).ConfigureAwait(false);
            var file = BlobFile(path);
            var current = new FileInfo(file);
            var currentETag = current.Exists ? ETagOf(current) : null;
            CheckLeaseForWrite(path, options.LeaseId);
            switch (options.Condition)
            {
                case WriteCondition.CreateOnly when currentETag != null:
                    throw new BlobConditionFailedException(path, "blob already exists");
                case WriteCondition.IfMatch when currentETag != BlobNames.QuoteETag(options.IfMatchETag!):
                    throw new BlobConditionFailedException(path, currentETag == null ? "blob does not exist" : "ETag does not match");
            }

            var etag = StampNewVersion(temp, current.Exists ? current.LastWriteTimeUtc : (DateTime?)null);
            var contentType = options.ContentType ?? BlobNames.DefaultContentType;
            if (contentType != BlobNames.DefaultContentType || metadata.Count > 0)
                WriteSidecar(path, etag, new Sidecar(contentType, new Dictionary<string, string>(metadata)));
            MoveIntoPlace(temp, file, overwrite: options.Condition != WriteCondition.CreateOnly, path);
            DeleteSidecarsExcept(path, etag);

            var written = new FileInfo(file);
            return new BlobProperties(path, written.Length, etag, written.LastWriteTimeUtc, contentType, metadata,
                ReadLease(path).StateAt(DateTime.UtcNow));
        }
        finally
        {
            DeleteFileIfPresent(temp);
        }
    }

    /// <summary>
    /// Gives the temp file a modification time later than the version it replaces; the time (with the length)
    /// is the ETag, so it must differ even when two writes land within one clock tick or the file system
    /// stores coarser timestamps than .NET ticks.
    /// </summary>
    static string StampNewVersion(string temp, DateTime? previous)
    {
        var stamp = DateTime.UtcNow;
        if (previous is { } p && stamp <= p) stamp = p.AddTicks(1);
        for (var step = TimeSpan.FromTicks(1); ; step *= 10)
        {
            File.SetLastWriteTimeUtc(temp, stamp);
            var stored = File.GetLastWriteTimeUtc(temp);
            if (previous is not { } prev || stored > prev) return ETagOf(new FileInfo(temp));
            stamp = prev + step;
        }
    }

    void MoveIntoPlace(string temp, string file, bool overwrite, string path)
    {
        // A concurrent delete of a sibling may prune the parent folder between CreateDirectory and Move.
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                // Without overwrite .NET refuses an existing target atomically (link(2) on Unix), which keeps
                // create-only safe even against writers that do not take our lock.
                File.Move(temp, file, overwrite);
                return;
            }
            catch (DirectoryNotFoundException) when (attempt < 5) { }
            catch (IOException) when (!overwrite && File.Exists(file))
            {
                throw new BlobConditionFailedException(path, "blob already exists");
            }
            catch (IOException e) when (Directory.Exists(file) || AncestorIsFile(file))
            {
                throw new BlobStoreException($"a folder cannot hold both a blob and blobs below it: {path} in {DisplayUri}", e);
            }
        }
    }

    bool AncestorIsFile(string file)
    {
        for (var dir = Path.GetDirectoryName(file); dir != null && dir.Length > _root.Length; dir = Path.GetDirectoryName(dir))
            if (File.Exists(dir)) return true;
        return false;
    }

    public async Task<bool> DeleteAsync(string path, string? ifMatch = null, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        RejectHidden(path);
        using var blobLock = await LockAsync(path, ct).ConfigureAwait(false);
        var info = new FileInfo(BlobFile(path));
        if (!info.Exists)
        {
            if (ifMatch != null) throw new BlobConditionFailedException(path, "blob does not exist");
            return false;
        }
        if (ifMatch != null && ETagOf(info) != BlobNames.QuoteETag(ifMatch))
            throw new BlobConditionFailedException(path, "ETag does not match");
        if (ReadLease(path).StateAt(DateTime.UtcNow) is "leased" or "breaking")
            throw new BlobConditionFailedException(path, "blob is leased");
        info.Delete();
        DeleteSidecarsExcept(path, keepETag: null);
        DeleteFileIfPresent(LeaseFile(path));
        PruneEmptyParents(BlobFile(path), _root);
        PruneEmptyParents(SidecarDir(path), _meta);
        PruneEmptyParents(LeaseFile(path), _leases);
        return true;
    }

    /// <summary>File.Delete tolerates a missing file but not a missing folder.</summary>
    static void DeleteFileIfPresent(string file)
    {
        try { File.Delete(file); }
        catch (DirectoryNotFoundException) { }
    }

    static void PruneEmptyParents(string fileOrDir, string stopAt)
    {
        for (var dir = Path.GetDirectoryName(fileOrDir); dir != null && dir.Length > stopAt.Length; dir = Path.GetDirectoryName(dir))
        {
            try { Directory.Delete(dir, recursive: false); }
            catch (IOException) { return; } // not empty (or gone): stop
        }
    }

    // ---------------------------------------------------------------- listing

    public Task<BlobListPage> ListPageAsync(string prefix, string? delimiter = null, string? continuation = null,
        int maxResults = 5000, CancellationToken ct = default)
    {
        BlobNames.ValidatePrefix(prefix);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxResults, 1);
        if (delimiter == "") delimiter = null;
        var resume = ListCursor.Parse(continuation);

        var blobs = new List<BlobItem>();
        var prefixes = new List<string>();
        ListCursor? last = null;
        string? next = null;
        var baseDir = prefix.LastIndexOf('/') is var slash and >= 0 ? prefix[..(slash + 1)] : "";
        var baseFull = baseDir.Length == 0 ? _root : Path.Combine(_root, baseDir);
        if (Directory.Exists(baseFull))
        {
            var walk = new ListWalk(prefix, delimiter == "/", resume);
            foreach (var (key, file) in walk.Enumerate(baseFull, baseDir))
            {
                ct.ThrowIfCancellationRequested();
                var rolled = file == null ? key : null;
                if (rolled == null && delimiter != null && key.IndexOf(delimiter, prefix.Length, StringComparison.Ordinal) is var at and >= 0)
                    rolled = key[..(at + delimiter.Length)];
                // Names under one rolled-up prefix are contiguous in sorted order: report the prefix once.
                if (rolled != null && (last is { IsPrefix: true } && last.Key == rolled || resume?.Prefix == rolled)) continue;
                if (blobs.Count + prefixes.Count == maxResults)
                {
                    next = last!.ToToken();
                    break;
                }
                if (rolled != null) prefixes.Add(rolled);
                else blobs.Add(new BlobItem(key, file!.Length, ETagOf(file), file.LastWriteTimeUtc));
                last = new ListCursor(rolled ?? key, rolled != null);
            }
        }
        return Task.FromResult(new BlobListPage(blobs, prefixes, next));
    }

    /// <summary>Where a listing resumes: after a blob name, or after every name under a rolled-up prefix.</summary>
    internal sealed record ListCursor(string Key, bool IsPrefix)
    {
        public string? Prefix => IsPrefix ? Key : null;

        public string ToToken() => Convert.ToBase64String(Encoding.UTF8.GetBytes((IsPrefix ? "p:" : "b:") + Key));

        public static ListCursor? Parse(string? token)
        {
            if (string.IsNullOrEmpty(token)) return null;
            try
            {
                var text = Encoding.UTF8.GetString(Convert.FromBase64String(token));
                if (text.StartsWith("p:") || text.StartsWith("b:")) return new ListCursor(text[2..], text[0] == 'p');
            }
            catch (FormatException) { }
            throw new ArgumentException("not a continuation token of this store", nameof(token));
        }

        /// <summary>True when the name was already listed: at or before the cursor, or under its rolled-up prefix.</summary>
        public bool Covers(string name) =>
            IsPrefix && name.StartsWith(Key, StringComparison.Ordinal) || string.CompareOrdinal(name, Key) <= 0;
    }

    /// <summary>
    /// Depth-first walk yielding names in ordinal order (a folder "a" sorts as "a/"), pruning folders outside
    /// the prefix or already covered by the cursor; with delimiter "/" a folder one level below the prefix is
    /// yielded once as a rolled-up prefix (file null) without walking it.
    /// </summary>
    internal sealed class ListWalk(string prefix, bool rollUpFolders, ListCursor? resume)
    {
        static bool HoldsFiles(DirectoryInfo dir)
        {
            try { return dir.EnumerateFiles("*", SearchOption.AllDirectories).Any(); }
            catch (DirectoryNotFoundException) { return false; }
        }

        public IEnumerable<(string Key, FileInfo? File)> Enumerate(string dirFull, string dirKey)
        {
            var entries = new List<(string Key, FileSystemInfo Info)>();
            // A folder emptied and removed by a writer (a checkpoint pruned) while the walk runs lists as empty, as the
            // names under it would no longer show in a blob listing either.
            try
            {
                foreach (var info in new DirectoryInfo(dirFull).EnumerateFileSystemInfos())
                {
                    if (dirKey.Length == 0 && info.Name == HiddenDir) continue;
                    entries.Add((dirKey + info.Name + (info is DirectoryInfo ? "/" : ""), info));
                }
            }
            catch (DirectoryNotFoundException) { yield break; }
            entries.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
            foreach (var (key, info) in entries)
            {
                if (info is DirectoryInfo dir)
                {
                    if (!key.StartsWith(prefix, StringComparison.Ordinal) && !prefix.StartsWith(key, StringComparison.Ordinal)) continue;
                    // Every name below starts with key: skip the folder when the cursor is past all of them.
                    if (resume != null && (resume.IsPrefix && key.StartsWith(resume.Key, StringComparison.Ordinal)
                                           || string.CompareOrdinal(key, resume.Key) < 0 && !resume.Key.StartsWith(key, StringComparison.Ordinal)))
                        continue;
                    if (rollUpFolders && key.Length > prefix.Length && key.IndexOf('/', prefix.Length) == key.Length - 1)
                    {
                        if (resume?.Covers(key) != true && HoldsFiles(dir))
                            yield return (key, null);
                        continue;
                    }
                    foreach (var item in Enumerate(dir.FullName, key)) yield return item;
                }
                else if (key.StartsWith(prefix, StringComparison.Ordinal) && resume?.Covers(key) != true)
                {
                    yield return (key, (FileInfo)info);
                }
            }
        }
    }

    // ---------------------------------------------------------------- leases

    public async Task<string?> TryAcquireLeaseAsync(string path, TimeSpan? duration, string? proposedLeaseId = null, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        if (duration is { } d && d <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(duration), "a lease lasts a positive time or forever (null)");
        using var blobLock = await LockAsync(path, ct).ConfigureAwait(false);
        RequireBlob(path);
        var now = DateTime.UtcNow;
        var lease = ReadLease(path);
        var state = lease.StateAt(now);
        var id = proposedLeaseId ?? Guid.NewGuid().ToString();
        if (state == "breaking" || state == "leased" && lease.Id != id) return null;
        WriteLease(path, new LeaseRecord(id, duration?.Ticks, duration is { } dur ? (now + dur).Ticks : null, null));
        return id;
    }

    public async Task RenewLeaseAsync(string path, string leaseId, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        using var blobLock = await LockAsync(path, ct).ConfigureAwait(false);
        RequireBlob(path);
        var now = DateTime.UtcNow;
        var lease = ReadLease(path);
        var state = lease.StateAt(now);
        // Like Azure: an expired lease that nobody took can still be renewed by its holder.
        if (lease.Id != leaseId || state is not ("leased" or "expired"))
            throw new BlobLeaseLostException(path, state is "breaking" or "broken" ? "the lease was broken" : "another holder has it or it was released");
        WriteLease(path, lease with { ExpiresTicks = lease.DurationTicks is { } d ? now.Ticks + d : null });
    }

    public async Task ReleaseLeaseAsync(string path, string leaseId, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        using var blobLock = await LockAsync(path, ct).ConfigureAwait(false);
        if (ReadLease(path).Id == leaseId) DeleteFileIfPresent(LeaseFile(path));
    }

    public async Task BreakLeaseAsync(string path, TimeSpan breakPeriod, CancellationToken ct = default)
    {
        BlobNames.ValidatePath(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(breakPeriod, TimeSpan.Zero);
        using var blobLock = await LockAsync(path, ct).ConfigureAwait(false);
        RequireBlob(path);
        var now = DateTime.UtcNow;
        var lease = ReadLease(path);
        var state = lease.StateAt(now);
        if (state is "available" or "broken") return;
        // Azure: the lease ends at the earlier of now + break period and its own expiry; a shorter break wins.
        var breakAt = now.Ticks + breakPeriod.Ticks;
        if (lease.ExpiresTicks is { } expires) breakAt = Math.Min(breakAt, Math.Max(expires, now.Ticks));
        if (lease.BreakAtTicks is { } earlier) breakAt = Math.Min(breakAt, earlier);
        WriteLease(path, lease with { BreakAtTicks = breakAt });
    }

    void CheckLeaseForWrite(string path, string? leaseId)
    {
        var lease = ReadLease(path);
        var held = lease.StateAt(DateTime.UtcNow) is "leased" or "breaking";
        if (leaseId != null && (!held || lease.Id != leaseId))
            throw new BlobLeaseLostException(path, "the write's lease is not the blob's active lease");
        if (leaseId == null && held)
            throw new BlobConditionFailedException(path, "blob is leased and the write carries no lease id");
    }

    void RequireBlob(string path)
    {
        if (!File.Exists(BlobFile(path))) throw new BlobNotFoundException(path);
    }

    /// <summary>Lease file content; times are UTC ticks, null expiry = infinite.</summary>
    sealed record LeaseRecord(string? Id, long? DurationTicks, long? ExpiresTicks, long? BreakAtTicks)
    {
        public static LeaseRecord None { get; } = new(null, null, null, null);

        public string StateAt(DateTime now)
        {
            if (Id == null) return "available";
            if (BreakAtTicks is { } breakAt) return now.Ticks < breakAt ? "breaking" : "broken";
            return ExpiresTicks is { } expires && now.Ticks >= expires ? "expired" : "leased";
        }
    }

    LeaseRecord ReadLease(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<LeaseRecord>(File.ReadAllBytes(LeaseFile(path))) ?? LeaseRecord.None;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return LeaseRecord.None; }
    }

    void WriteLease(string path, LeaseRecord lease) => WriteSmallFileAtomically(LeaseFile(path), JsonSerializer.SerializeToUtf8Bytes(lease));

    // ---------------------------------------------------------------- sidecars, locks, paths

    sealed record Sidecar(string ContentType, Dictionary<string, string> Metadata);

    (string ContentType, IReadOnlyDictionary<string, string> Metadata) ReadSidecar(string path, string etag)
    {
        try
        {
            var sidecar = JsonSerializer.Deserialize<Sidecar>(File.ReadAllBytes(SidecarFile(path, etag)));
            if (sidecar != null) return (sidecar.ContentType, sidecar.Metadata);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { }
        return (BlobNames.DefaultContentType, BlobNames.Empty);
    }

    void WriteSidecar(string path, string etag, Sidecar sidecar)
        => WriteSmallFileAtomically(SidecarFile(path, etag), JsonSerializer.SerializeToUtf8Bytes(sidecar));

    void DeleteSidecarsExcept(string path, string? keepETag)
    {
        var dir = new DirectoryInfo(SidecarDir(path));
        if (!dir.Exists) return;
        var keep = keepETag == null ? null : ETagFileName(keepETag);
        foreach (var file in dir.EnumerateFiles())
            if (file.Name != keep) file.Delete();
        if (keep == null || !dir.EnumerateFiles().Any())
        {
            try { dir.Delete(); } catch (IOException) { }
        }
    }

    void WriteSmallFileAtomically(string target, byte[] bytes)
    {
        var temp = Path.Combine(_tmp, Guid.NewGuid().ToString("N"));
        File.WriteAllBytes(temp, bytes);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.Move(temp, target, overwrite: true);
    }

    /// <summary>The per-blob critical section: an exclusive lock on one of the striped lock files.</summary>
    async Task<IDisposable> LockAsync(string path, CancellationToken ct)
    {
        var file = Path.Combine(_locks, $"{Fnv1a(path) % LockStripes:x2}.lock");
        var deadline = DateTime.UtcNow + _options.LockTimeout;
        for (var delay = 1; ; delay = Math.Min(delay * 2, 50))
        {
            try
            {
                return new FileStream(file, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(delay, ct).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw new BlobStoreException($"timed out waiting for the lock of {path} in {DisplayUri}", e);
            }
        }
    }

    /// <summary>Stable across processes, unlike string.GetHashCode.</summary>
    static uint Fnv1a(string text)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(text)) hash = (hash ^ b) * 16777619u;
        return hash;
    }

    static string ETagOf(FileInfo info) => $"\"{info.LastWriteTimeUtc.Ticks:x}-{info.Length:x}\"";

    static string ETagFileName(string etag) => etag.Trim('"');

    string BlobFile(string path) => Path.Combine(_root, path);

    string SidecarDir(string path) => Path.Combine(_meta, path + ".meta");

    string SidecarFile(string path, string etag) => Path.Combine(SidecarDir(path), ETagFileName(etag));

    string LeaseFile(string path) => Path.Combine(_leases, path + ".lease");

    static void RejectHidden(string path)
    {
        if (path == HiddenDir || path.StartsWith(HiddenDir + "/", StringComparison.Ordinal))
            throw new ArgumentException($"'{HiddenDir}/' is reserved for the store's bookkeeping", nameof(path));
    }

    /// <summary>Read-only view of the next `length` bytes of a stream.</summary>
    sealed class BoundedReadStream(Stream inner, long length) : Stream
    {
        readonly long _length = length;
        long _remaining = length;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => _length;
        public override long Position { get => _length - _remaining; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = inner.Read(buffer[..(int)Math.Min(buffer.Length, _remaining)]);
            _remaining -= n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct)
            => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            var n = await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _remaining)], ct).ConfigureAwait(false);
            _remaining -= n;
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }
}
