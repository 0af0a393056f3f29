using Dreamer.Schemas;
using Dreamer.Storage;

namespace Dreamer.Artifacts;

/// <summary>A committed artifact: its manifest and the hash of the manifest bytes (what downstream pins).</summary>
public sealed record CommittedArtifact(ArtifactManifest Manifest, string ManifestSha256)
{
    public ManifestInput AsInput(string bindingName) =>
        new(bindingName, Manifest.Stage, Manifest.ArtifactId, ManifestSha256);

    /// <summary>The artifact as the output of the run that made it: its prefix, versioned by the manifest hash, with its outputs' rows, bytes and count.</summary>
    public LineageDataset AsLineageOutput() =>
        new(StorePaths.ArtifactPrefix(Manifest.Stage, Manifest.ArtifactId).TrimEnd('/'), ManifestSha256,
            Rows: Manifest.Outputs.Sum(o => o.Rows ?? 0), Bytes: Manifest.Outputs.Sum(o => o.Bytes), Files: Manifest.Outputs.Count);
}

public sealed record GarbageReport(IReadOnlyList<string> RemovedPrefixes, IReadOnlyList<string> KeptYoungPrefixes, long RemovedBlobs);

/// <summary>Reads the store's artifacts. Only committed ones exist for readers: no manifest, no artifact.</summary>
public sealed class ArtifactCatalog(IBlobStore store)
{
    /// <summary>The committed artifact, or null when absent, uncommitted, truncated or unreadable.</summary>
    public async Task<CommittedArtifact?> TryGetAsync(string stage, string artifactId, CancellationToken ct = default)
    {
        byte[] bytes;
        try
        {
            bytes = await store.ReadAllBytesAsync(StorePaths.Manifest(stage, artifactId), ct).ConfigureAwait(false);
        }
        catch (BlobNotFoundException)
        {
            return null;
        }
        var manifest = ArtifactManifest.TryParse(bytes);
        if (manifest == null || manifest.ArtifactId != artifactId || manifest.Stage != stage) return null;
        return new CommittedArtifact(manifest, Hashing.Sha256Hex(bytes));
    }

    public async Task<bool> IsCommittedAsync(string stage, string artifactId, CancellationToken ct = default) =>
        await TryGetAsync(stage, artifactId, ct).ConfigureAwait(false) != null;

    /// <summary>Artifact ids under a stage, committed or not (the prefixes present).</summary>
    public async Task<IReadOnlyList<string>> ListArtifactIdsAsync(string stage, CancellationToken ct = default)
    {
        var ids = new List<string>();
        string? continuation = null;
        var prefix = StorePaths.StagePrefix(stage);
        do
        {
            var page = await store.ListPageAsync(prefix, "/", continuation, 5000, ct).ConfigureAwait(false);
            ids.AddRange(page.Prefixes.Select(p => p[prefix.Length..].TrimEnd('/')));
            continuation = page.Continuation;
        } while (continuation != null);
        return ids;
    }

    public async Task<IReadOnlyList<string>> ListStagesAsync(CancellationToken ct = default)
    {
        var page = await store.ListPageAsync("artifacts/", "/", null, 5000, ct).ConfigureAwait(false);
        return page.Prefixes.Select(p => p["artifacts/".Length..].TrimEnd('/')).ToList();
    }

    public async Task<IReadOnlyList<CommittedArtifact>> ListCommittedAsync(string stage, CancellationToken ct = default)
    {
        var result = new List<CommittedArtifact>();
        foreach (var id in await ListArtifactIdsAsync(stage, ct).ConfigureAwait(false))
        {
            var artifact = await TryGetAsync(stage, id, ct).ConfigureAwait(false);
            if (artifact != null) result.Add(artifact);
        }
        return result.OrderBy(a => a.Manifest.CommittedAt).ToList();
    }

    /// <summary>The most recently committed artifact of a stage, or null.</summary>
    public async Task<CommittedArtifact?> LatestAsync(string stage, CancellationToken ct = default) =>
        (await ListCommittedAsync(stage, ct).ConfigureAwait(false)).LastOrDefault();

    /// <summary>Resolves "latest" or an artifact id to a committed artifact, or explains why not.</summary>
    public async Task<CommittedArtifact> ResolveAsync(string stage, string idOrLatest, CancellationToken ct = default)
    {
        var artifact = idOrLatest == "latest"
            ? await LatestAsync(stage, ct).ConfigureAwait(false)
            : await TryGetAsync(stage, idOrLatest, ct).ConfigureAwait(false);
        return artifact ?? throw new ArgumentException(idOrLatest == "latest"
            ? $"no committed artifact of stage '{stage}' in {store.DisplayUri}"
            : $"artifact '{idOrLatest}' of stage '{stage}' is not committed in {store.DisplayUri}");
    }

    /// <summary>Re-hashes every part; returns one line per problem (empty: all parts match the manifest).</summary>
    public async Task<IReadOnlyList<string>> VerifyAsync(ArtifactManifest manifest, CancellationToken ct = default)
    {
        var problems = new List<string>();
        var prefix = StorePaths.ArtifactPrefix(manifest.Stage, manifest.ArtifactId);
        foreach (var output in manifest.Outputs)
        {
            var path = prefix + output.Path;
            try
            {
                await using var stream = await store.OpenReadAsync(path, 0, null, ct).ConfigureAwait(false);
                await using var hashing = new HashingReadStream(stream);
                await hashing.CopyToAsync(Stream.Null, ct).ConfigureAwait(false);
                if (hashing.BytesRead != output.Bytes || hashing.Sha256Hex() != output.Sha256)
                    problems.Add($"{path}: expected {output.Bytes} bytes sha256 {output.Sha256}, found {hashing.BytesRead} bytes sha256 {hashing.Sha256Hex()}");
            }
            catch (BlobNotFoundException)
            {
                problems.Add($"{path}: missing");
            }
        }
        return problems;
    }

    /// <summary>
    /// Deletes uncommitted artifact prefixes whose newest blob is older than the grace period
    /// (younger ones may belong to a run in progress).
    /// </summary>
    public async Task<GarbageReport> CollectGarbageAsync(TimeSpan grace, bool dryRun, CancellationToken ct = default)
    {
        var removed = new List<string>();
        var young = new List<string>();
        long removedBlobs = 0;
        var cutoff = DateTimeOffset.UtcNow - grace;
        foreach (var stage in await ListStagesAsync(ct).ConfigureAwait(false))
        {
            foreach (var id in await ListArtifactIdsAsync(stage, ct).ConfigureAwait(false))
            {
                if (await IsCommittedAsync(stage, id, ct).ConfigureAwait(false)) continue;
                var prefix = StorePaths.ArtifactPrefix(stage, id);
                var blobs = new List<BlobItem>();
                await foreach (var blob in store.ListAllAsync(prefix, ct).ConfigureAwait(false)) blobs.Add(blob);
                if (blobs.Count > 0 && blobs.Max(b => b.LastModified) > cutoff)
                {
                    young.Add(prefix);
                    continue;
                }
                if (!dryRun)
                    foreach (var blob in blobs) await store.DeleteAsync(blob.Path, null, ct).ConfigureAwait(false);
                removedBlobs += blobs.Count;
                removed.Add(prefix);
            }
        }
        return new GarbageReport(removed, young, removedBlobs);
    }
}
