using System.Text.Json.Nodes;
using Dreamer.Schemas;
using Dreamer.Storage;

namespace Dreamer.Artifacts;

public sealed class ArtifactAlreadyCommittedException(string stage, string artifactId)
    : Exception($"artifact {artifactId} of stage {stage} is already committed; artifacts are immutable")
{
    public string ArtifactId { get; } = artifactId;
}

/// <summary>
/// Writes an artifact's parts under its prefix, hashing each while it uploads, then commits by writing
/// `_manifest.json` create-only. Until the commit nothing is visible to readers; a crash leaves an
/// uncommitted prefix that the next run overwrites or `gc` removes.
/// </summary>
public sealed class ArtifactWriter
{
    private readonly IBlobStore _store;
    private readonly List<ManifestOutput> _outputs = [];
    private readonly object _gate = new();

    public string Stage { get; }
    public string ArtifactId { get; }
    public string Prefix { get; }
    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    public ArtifactWriter(IBlobStore store, string stage, string artifactId)
    {
        StorePaths.ValidateSegment(stage, "stage name");
        StorePaths.ValidateSegment(artifactId, "artifact id");
        _store = store;
        Stage = stage;
        ArtifactId = artifactId;
        Prefix = StorePaths.ArtifactPrefix(stage, artifactId);
    }

    public IReadOnlyList<ManifestOutput> Outputs { get { lock (_gate) return _outputs.ToList(); } }

    /// <summary>Uploads one part (any size, streamed) and records its bytes and SHA-256.</summary>
    public async Task<ManifestOutput> WritePartAsync(string name, Stream content, long? rows = null, CancellationToken ct = default)
    {
        ValidatePartName(name);
        await using var hashing = new HashingReadStream(content);
        await _store.WriteAsync(Prefix + name, hashing, null, ct).ConfigureAwait(false);
        var output = new ManifestOutput(name, hashing.BytesRead, hashing.Sha256Hex(), rows);
        lock (_gate)
        {
            _outputs.RemoveAll(o => o.Path == name);
            _outputs.Add(output);
        }
        return output;
    }

    public async Task<ManifestOutput> WritePartFromFileAsync(string name, string localPath, long? rows = null, CancellationToken ct = default)
    {
        await using var file = new FileStream(localPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        return await WritePartAsync(name, file, rows, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Commits: writes the manifest create-only. The manifest's outputs are the parts written here, in name order.
    /// </summary>
    /// <exception cref="ArtifactAlreadyCommittedException">another run committed this artifact first.</exception>
    public async Task<ArtifactManifest> CommitAsync(string runId, int attempt, IReadOnlyList<ManifestInput> inputs,
        IReadOnlyList<ManifestSource> sources, JsonObject config, ManifestCode code, ManifestEnvironment environment,
        IReadOnlyDictionary<string, double> metrics, CancellationToken ct = default)
    {
        var manifest = new ArtifactManifest
        {
            ArtifactId = ArtifactId,
            Stage = Stage,
            RunId = runId,
            Attempt = attempt,
            Inputs = inputs,
            Sources = sources,
            Config = (JsonObject)config.DeepClone(),
            Code = code,
            Environment = environment,
            Outputs = Outputs.OrderBy(o => o.Path, StringComparer.Ordinal).ToList(),
            Metrics = metrics,
            StartedAt = StartedAt,
            CommittedAt = DateTimeOffset.UtcNow,
        };
        if (await ManifestCommit.TryWriteAsync(_store, manifest, ct).ConfigureAwait(false) == null)
            throw new ArtifactAlreadyCommittedException(Stage, ArtifactId);
        return manifest;
    }

    private static void ValidatePartName(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.StartsWith('/') || name.Contains("..") || name == ArtifactManifest.FileName)
            throw new ArgumentException($"invalid part name '{name}': expected a relative path, not the manifest");
    }
}
