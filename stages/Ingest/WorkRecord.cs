using System.Text.Json.Serialization;
using Dreamer.Schemas;

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
