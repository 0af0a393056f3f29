using System.Text.Json;
using System.Text.Json.Serialization;
using Dreamer.Storage;

namespace Dreamer.Artifacts;

/// <summary>
/// JSON work records beside an uncommitted artifact's parts (`_work/&lt;key&gt;.json`): how the workers of one
/// artifact share finished pieces of work (a video's part, an encoded shard, the trained model) until the
/// commit, so that whichever worker commits can list them all and a rerun after a kill skips what is done.
/// The record types belong to the stage; a record that is missing or unreadable reads as null (the work is redone).
/// </summary>
public sealed class WorkRecords(IBlobStore store, string stage, string artifactId)
{
    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public string Folder { get; } = StorePaths.WorkPrefix(stage, artifactId);

    public string PathOf(string key) => $"{Folder}{key}.json";

    /// <summary>Keys of the records there are.</summary>
    public async Task<HashSet<string>> ListKeysAsync(CancellationToken ct)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var blob in store.ListAllAsync(Folder, ct).ConfigureAwait(false))
            if (blob.Path.EndsWith(".json", StringComparison.Ordinal)) keys.Add(blob.Path[Folder.Length..^".json".Length]);
        return keys;
    }

    public Task<bool> ExistsAsync(string key, CancellationToken ct) => store.ExistsAsync(PathOf(key), ct);

    /// <summary>The record, or null when there is none or it is unreadable.</summary>
    public async Task<T?> ReadAsync<T>(string key, CancellationToken ct) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(await store.ReadAllBytesAsync(PathOf(key), ct).ConfigureAwait(false), Json);
        }
        catch (BlobNotFoundException) { return null; }
        catch (JsonException) { return null; }
    }

    public Task WriteAsync<T>(string key, T record, CancellationToken ct) =>
        store.WriteBytesAsync(PathOf(key), JsonSerializer.SerializeToUtf8Bytes(record, Json), new BlobWriteOptions { ContentType = "application/json" }, ct);

    public Task DeleteAsync(string key, CancellationToken ct) => store.DeleteAsync(PathOf(key), null, ct);
}
