using Microsoft.Extensions.Logging;

namespace Dreamer.Storage;

/// <summary>
/// Holds a lease on a claim blob while work runs: creates the blob (empty, create-only) if missing, renews
/// in the background every third of the duration, fires <see cref="LeaseLost"/> when the lease is broken,
/// taken, or could not be renewed before it would have expired, and releases it on dispose.
/// Writes guarded by the lease pass <see cref="WriteOptions"/> so the store rejects them once it is lost.
/// </summary>
public sealed class LeaseHolder : IAsyncDisposable
{
    readonly IBlobStore _store;
    readonly TimeSpan _duration;
    readonly ILogger? _logger;
    readonly CancellationTokenSource _lost = new();
    readonly CancellationTokenSource _stop = new();
    readonly Task _renewer;
    int _disposed;

    LeaseHolder(IBlobStore store, string path, string leaseId, TimeSpan duration, ILogger? logger)
    {
        _store = store;
        Path = path;
        LeaseId = leaseId;
        _duration = duration;
        _logger = logger;
        _renewer = Task.Run(RenewLoopAsync);
    }

    public string Path { get; }

    public string LeaseId { get; }

    /// <summary>Cancelled when the lease is lost; link the guarded work to it.</summary>
    public CancellationToken LeaseLost => _lost.Token;

    public bool IsLost => _lost.IsCancellationRequested;

    /// <summary>Options for a write under this lease, optionally on top of others (condition, metadata).</summary>
    public BlobWriteOptions WriteOptions(BlobWriteOptions? options = null) => (options ?? new BlobWriteOptions()) with { LeaseId = LeaseId };

    /// <summary>
    /// Work that one of several workers does once: returns its result when it is there already; otherwise takes
    /// the lease on <paramref name="path"/> and does the work (unless the result appeared meanwhile), or, while
    /// another worker holds the lease, polls until that worker's result appears or its lease expires (a dead
    /// worker's work is taken over). <paramref name="waiting"/> is called once, when this worker starts waiting.
    /// </summary>
    public static async Task<T> RunOnceAsync<T>(IBlobStore store, string path, TimeSpan duration, ILogger? logger,
        Func<Task<T?>> result, Func<LeaseHolder, Task<T>> work, Action waiting, TimeSpan poll, CancellationToken ct) where T : class
    {
        var waited = false;
        while (true)
        {
            if (await result().ConfigureAwait(false) is { } done) return done;
            await using (var lease = await TryAcquireAsync(store, path, duration, logger, ct).ConfigureAwait(false))
            {
                if (lease != null) return await result().ConfigureAwait(false) ?? await work(lease).ConfigureAwait(false);
            }
            if (!waited) waiting();
            waited = true;
            await Task.Delay(poll, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Takes the lease if it is free; null when another holder has it.</summary>
    public static async Task<LeaseHolder?> TryAcquireAsync(IBlobStore store, string path, TimeSpan duration,
        ILogger? logger = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (duration <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(duration), "a held lease needs a finite duration");
        if (await store.GetPropertiesAsync(path, ct).ConfigureAwait(false) == null)
        {
            try
            {
                await store.WriteBytesAsync(path, ReadOnlyMemory<byte>.Empty, BlobWriteOptions.CreateOnly, ct).ConfigureAwait(false);
            }
            catch (BlobConditionFailedException) { } // another claimant created it first: fine
        }
        var leaseId = await store.TryAcquireLeaseAsync(path, duration, null, ct).ConfigureAwait(false);
        return leaseId == null ? null : new LeaseHolder(store, path, leaseId, duration, logger);
    }

    /// <summary>Waits, polling every pollInterval (default a third of the duration), until the lease is free.</summary>
    public static async Task<LeaseHolder> AcquireAsync(IBlobStore store, string path, TimeSpan duration,
        TimeSpan? pollInterval = null, ILogger? logger = null, CancellationToken ct = default)
    {
        while (true)
        {
            if (await TryAcquireAsync(store, path, duration, logger, ct).ConfigureAwait(false) is { } holder) return holder;
            await Task.Delay(pollInterval ?? duration / 3, ct).ConfigureAwait(false);
        }
    }

    async Task RenewLoopAsync()
    {
        var renewedAt = DateTime.UtcNow;
        var interval = _duration / 3;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, _stop.Token).ConfigureAwait(false);
                await _store.RenewLeaseAsync(Path, LeaseId, _stop.Token).ConfigureAwait(false);
                renewedAt = DateTime.UtcNow;
                interval = _duration / 3;
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is BlobLeaseLostException or BlobNotFoundException)
            {
                MarkLost(e.Message);
                return;
            }
            catch (Exception e)
            {
                // Transient trouble: keep trying, faster, while the lease may still be ours.
                if (DateTime.UtcNow - renewedAt >= _duration)
                {
                    MarkLost($"could not renew within the lease duration: {e.Message}");
                    return;
                }
                _logger?.LogWarning("renewing lease on {Path} failed, retrying: {Error}", Path, e.Message);
                interval = _duration / 10;
            }
        }
    }

    void MarkLost(string reason)
    {
        _logger?.LogError("lease on {Path} lost: {Reason}", Path, reason);
        _lost.Cancel();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        await _renewer.ConfigureAwait(false);
        if (!IsLost)
        {
            try
            {
                await _store.ReleaseLeaseAsync(Path, LeaseId).ConfigureAwait(false);
            }
            catch (BlobStoreException e)
            {
                // The lease expires on its own; a failed release only delays the next holder.
                _logger?.LogWarning("releasing lease on {Path} failed: {Error}", Path, e.Message);
            }
        }
        _stop.Dispose();
        _lost.Dispose();
    }
}
