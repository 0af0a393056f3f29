using Dreamer.Schemas;
using Dreamer.Storage;
using Microsoft.Extensions.Logging;

namespace Dreamer.Artifacts;

/// <summary>
/// The commit: an artifact's manifest written last, create-only (local: temp + rename without overwrite;
/// Azure: If-None-Match: *), so exactly one writer wins however many workers finish the same artifact.
/// </summary>
public static class ManifestCommit
{
    /// <summary>
    /// Commits <paramref name="manifest"/>; when another worker committed the artifact first, returns theirs
    /// (Ours = false, logged) instead: both workers then go on with the same committed artifact.
    /// </summary>
    public static async Task<(CommittedArtifact Artifact, bool Ours)> CommitOrReadExistingAsync(IBlobStore store, ArtifactManifest manifest,
        ILogger log, CancellationToken ct)
    {
        if (await TryWriteAsync(store, manifest, ct).ConfigureAwait(false) is { } bytes)
            return (new CommittedArtifact(manifest, Hashing.Sha256Hex(bytes)), true);
        log.LogInformation("another worker committed {ArtifactId} first", manifest.ArtifactId);
        var theirs = await new ArtifactCatalog(store).TryGetAsync(manifest.Stage, manifest.ArtifactId, ct).ConfigureAwait(false)
                     ?? throw new IOException($"{StorePaths.Manifest(manifest.Stage, manifest.ArtifactId)} exists but cannot be read back");
        return (theirs, false);
    }

    /// <summary>The manifest bytes written, or null when a manifest is there already.</summary>
    internal static async Task<byte[]?> TryWriteAsync(IBlobStore store, ArtifactManifest manifest, CancellationToken ct)
    {
        var bytes = manifest.ToJsonBytes();
        try
        {
            await store.WriteBytesAsync(StorePaths.Manifest(manifest.Stage, manifest.ArtifactId), bytes,
                BlobWriteOptions.CreateOnly with { ContentType = "application/json" }, ct).ConfigureAwait(false);
            return bytes;
        }
        catch (BlobConditionFailedException)
        {
            return null;
        }
    }
}
