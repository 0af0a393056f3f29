using System.Text.Json;
using System.Text.Json.Serialization;
using Dreamer.Schemas;
using Dreamer.Storage;

namespace Dreamer.Stages.Ingest;

/// <summary>
/// The outcome of one video, kept beside the parts (`_work/&lt;key&gt;.json`) until the commit: the part's
/// hash and counts, or why the video was rejected. Workers share results through these, so whichever
/// worker commits can list every part and rejection, and a rerun after a kill skips finished videos.
/// </summary>
internal sealed record WorkRecord(
    [property: JsonPropertyName("video")] string Video,
    [property: JsonPropertyName("part")] ManifestOutput? Part,
    [property: JsonPropertyName("labeledFrames")] int LabeledFrames,
    [property: JsonPropertyName("split")] string? Split,
    [property: JsonPropertyName("rejected")] string? Rejected,
    [property: JsonPropertyName("runId")] string RunId);

internal sealed class WorkRecords(IBlobStore store, string artifactPrefix)
{
    static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    readonly string _folder = artifactPrefix + "_work/";

    string PathOf(VideoItem item) => $"{_folder}{item.Key}.json";

    /// <summary>Keys of the videos that have a record.</summary>
    public async Task<HashSet<string>> ListKeysAsync(CancellationToken ct)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var blob in store.ListAllAsync(_folder, ct).ConfigureAwait(false))
            if (blob.Path.EndsWith(".json", StringComparison.Ordinal)) keys.Add(blob.Path[_folder.Length..^".json".Length]);
        return keys;
    }

    public Task<bool> ExistsAsync(VideoItem item, CancellationToken ct) => store.ExistsAsync(PathOf(item), ct);

    /// <summary>The record, or null when there is none or it is unreadable (then the video is simply redone).</summary>
    public async Task<WorkRecord?> ReadAsync(VideoItem item, CancellationToken ct)
    {
        try
        {
            var record = JsonSerializer.Deserialize<WorkRecord>(await store.ReadAllBytesAsync(PathOf(item), ct).ConfigureAwait(false), Json);
            return record?.Video == item.Video.Path ? record : null;
        }
        catch (BlobNotFoundException) { return null; }
        catch (JsonException) { return null; }
    }

    public Task WriteAsync(VideoItem item, WorkRecord record, CancellationToken ct) =>
        store.WriteBytesAsync(PathOf(item), JsonSerializer.SerializeToUtf8Bytes(record, Json),
            new BlobWriteOptions { ContentType = "application/json" }, ct);

    public Task DeleteAsync(VideoItem item, CancellationToken ct) => store.DeleteAsync(PathOf(item), null, ct);
}
