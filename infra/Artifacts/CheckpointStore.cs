using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dreamer.Storage;

namespace Dreamer.Artifacts;

/// <summary>
/// `state.json` of a checkpoint: what a resumed run needs besides the tensors.
/// Rng and DataCursor are opaque to the store; the training loop owns their shape.
/// </summary>
public sealed record CheckpointState(long Step, string ConfigHash, JsonObject Rng, JsonObject DataCursor)
{
    public JsonObject Extra { get; init; } = new();
    public DateTimeOffset SavedAt { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>A checkpoint found in the store; files are read on demand.</summary>
public sealed class LoadedCheckpoint(IBlobStore store, string prefix, CheckpointState state, IReadOnlyList<string> files)
{
    public CheckpointState State { get; } = state;
    public long Step => State.Step;
    public IReadOnlyList<string> Files { get; } = files;

    public Task<byte[]> ReadFileAsync(string name, CancellationToken ct = default) => store.ReadAllBytesAsync(prefix + name, ct);

    public Task<Stream> OpenFileAsync(string name, CancellationToken ct = default) => store.OpenReadAsync(prefix + name, 0, null, ct);
}

/// <summary>Another writer moved LATEST under us: two runs are training the same artifact.</summary>
public sealed class CheckpointConflictException(string message) : Exception(message);

/// <summary>
/// Checkpoints of one artifact under checkpoints/&lt;stage&gt;/&lt;artifact-id&gt;/step-&lt;n&gt;/.
/// Save order makes a crash at any moment safe: files, then state.json, then LATEST by compare-and-swap.
/// A step directory without state.json, or one LATEST does not point to yet, is never loaded.
/// </summary>
public sealed class CheckpointStore
{
    private const string StateFile = "state.json";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    private readonly IBlobStore _store;
    private readonly string _stage;
    private readonly string _artifactId;
    private readonly int _keepLast;

    public CheckpointStore(IBlobStore store, string stage, string artifactId, int keepLast = 3)
    {
        if (keepLast < 1) throw new ArgumentOutOfRangeException(nameof(keepLast), keepLast, "expected at least 1 checkpoint to keep");
        StorePaths.ValidateSegment(stage, "stage name");
        StorePaths.ValidateSegment(artifactId, "artifact id");
        (_store, _stage, _artifactId, _keepLast) = (store, stage, artifactId, keepLast);
    }

    private string LatestPath => StorePaths.CheckpointLatest(_stage, _artifactId);

    public async Task SaveAsync(CheckpointState state, IReadOnlyDictionary<string, Stream> files, CancellationToken ct = default)
    {
        var prefix = StorePaths.CheckpointStep(_stage, _artifactId, state.Step);
        foreach (var (name, content) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            if (name == StateFile || name.Contains('/')) throw new ArgumentException($"invalid checkpoint file name '{name}'");
            await _store.WriteAsync(prefix + name, content, null, ct).ConfigureAwait(false);
        }
        var stateJson = new JsonObject
        {
            ["step"] = state.Step,
            ["configHash"] = state.ConfigHash,
            ["rng"] = state.Rng.DeepClone(),
            ["dataCursor"] = state.DataCursor.DeepClone(),
            ["extra"] = state.Extra.DeepClone(),
            ["savedAt"] = state.SavedAt.ToString("O"),
            ["files"] = new JsonArray(files.Keys.Order(StringComparer.Ordinal).Select(k => (JsonNode)k).ToArray()),
        };
        await _store.WriteBytesAsync(prefix + StateFile, JsonSerializer.SerializeToUtf8Bytes(stateJson, Json), null, ct).ConfigureAwait(false);
        await MoveLatestAsync(state.Step, ct).ConfigureAwait(false);
        await PruneAsync(state.Step, ct).ConfigureAwait(false);
    }

    private async Task MoveLatestAsync(long step, CancellationToken ct)
    {
        var current = await _store.GetPropertiesAsync(LatestPath, ct).ConfigureAwait(false);
        var options = current == null ? BlobWriteOptions.CreateOnly : BlobWriteOptions.IfMatch(current.ETag);
        try
        {
            await _store.WriteBytesAsync(LatestPath, Encoding.UTF8.GetBytes(step.ToString()), options, ct).ConfigureAwait(false);
        }
        catch (BlobConditionFailedException)
        {
            throw new CheckpointConflictException(
                $"{LatestPath} changed while saving step {step}: another run is writing checkpoints of {_artifactId}");
        }
    }

    /// <summary>Keeps the newest N complete steps; never touches the step LATEST points to.</summary>
    private async Task PruneAsync(long latest, CancellationToken ct)
    {
        var steps = await ListStepsAsync(ct).ConfigureAwait(false);
        foreach (var step in steps.Where(s => s != latest).OrderByDescending(s => s).Skip(_keepLast - 1))
        {
            var prefix = StorePaths.CheckpointStep(_stage, _artifactId, step);
            var blobs = new List<BlobItem>();
            await foreach (var blob in _store.ListAllAsync(prefix, ct).ConfigureAwait(false)) blobs.Add(blob);
            // state.json first, so a half-pruned step is never mistaken for a complete one.
            foreach (var blob in blobs.OrderBy(b => b.Path.EndsWith(StateFile, StringComparison.Ordinal) ? 0 : 1))
                await _store.DeleteAsync(blob.Path, null, ct).ConfigureAwait(false);
        }
    }

    public async Task<IReadOnlyList<long>> ListStepsAsync(CancellationToken ct = default)
    {
        var root = StorePaths.CheckpointPrefix(_stage, _artifactId);
        var steps = new List<long>();
        string? continuation = null;
        do
        {
            var page = await _store.ListPageAsync(root, "/", continuation, 5000, ct).ConfigureAwait(false);
            foreach (var p in page.Prefixes)
            {
                var name = p[root.Length..].TrimEnd('/');
                if (name.StartsWith("step-", StringComparison.Ordinal) && long.TryParse(name[5..], out var step)) steps.Add(step);
            }
            continuation = page.Continuation;
        } while (continuation != null);
        return steps.Order().ToList();
    }

    /// <summary>
    /// The checkpoint LATEST points to, or null when there is none (a fresh run); one saved under another
    /// configuration (<paramref name="configHash"/>, the state's ConfigHash) is an error, never resumed from.
    /// </summary>
    public async Task<LoadedCheckpoint?> LoadLatestAsync(string configHash, CancellationToken ct = default)
    {
        var latest = await LoadLatestAsync(ct).ConfigureAwait(false);
        if (latest != null && latest.State.ConfigHash != configHash)
            throw new InvalidDataException($"checkpoint of {_artifactId} at step {latest.Step} has config hash {latest.State.ConfigHash}, expected {configHash}");
        return latest;
    }

    /// <summary>The checkpoint LATEST points to, or null when there is none (a fresh run).</summary>
    public async Task<LoadedCheckpoint?> LoadLatestAsync(CancellationToken ct = default)
    {
        byte[] pointer;
        try
        {
            pointer = await _store.ReadAllBytesAsync(LatestPath, ct).ConfigureAwait(false);
        }
        catch (BlobNotFoundException)
        {
            return null;
        }
        if (!long.TryParse(Encoding.UTF8.GetString(pointer).Trim(), out var step))
            throw new InvalidDataException($"{LatestPath}: expected a step number, found '{Encoding.UTF8.GetString(pointer)}'");
        var prefix = StorePaths.CheckpointStep(_stage, _artifactId, step);
        JsonObject state;
        try
        {
            state = JsonNode.Parse(await _store.ReadAllBytesAsync(prefix + StateFile, ct).ConfigureAwait(false))!.AsObject();
        }
        catch (Exception e) when (e is BlobNotFoundException or JsonException or InvalidOperationException)
        {
            throw new InvalidDataException($"{prefix}{StateFile}: LATEST points to step {step} but its state is missing or unreadable", e);
        }
        var parsed = new CheckpointState(
            state["step"]!.GetValue<long>(),
            state["configHash"]!.GetValue<string>(),
            state["rng"]!.AsObject(),
            state["dataCursor"]!.AsObject())
        {
            Extra = state["extra"]?.AsObject() ?? new JsonObject(),
            SavedAt = DateTimeOffset.Parse(state["savedAt"]!.GetValue<string>()),
        };
        var files = state["files"]!.AsArray().Select(f => f!.GetValue<string>()).ToList();
        return new LoadedCheckpoint(_store, prefix, parsed, files);
    }
}
