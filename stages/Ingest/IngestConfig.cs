using System.Globalization;
using System.Text.Json.Nodes;
using Dreamer.Hosting;

namespace Dreamer.Stages.Ingest;

/// <summary>Configuration root: everything lives under the "Ingest" section.</summary>
public sealed class IngestConfig : IValidatedConfig
{
    public IngestSection Ingest { get; set; } = new();

    public IEnumerable<string> Validate() => Ingest.Validate();
}

/// <summary>`Ingest:*` keys.</summary>
public sealed class IngestSection
{
    /// <summary>Output frame size; unset: the size dataset.json declares.</summary>
    public int? Width { get; set; }
    public int? Height { get; set; }
    /// <summary>How a video of another shape reaches Width x Height: crop (fill, centre crop), pad (fit, black bars) or stretch.</summary>
    public string Resize { get; set; } = "crop";
    /// <summary>Share of episodes assigned to validation by a stable hash of the episode id.</summary>
    public double ValidationFraction { get; set; } = 0.1;
    /// <summary>Fail (exit 2, naming the file) on the first bad source instead of listing it under "rejected".</summary>
    public bool Strict { get; set; }
    public int RowGroupFrames { get; set; } = 4096;
    /// <summary>Frames per batch between the decode, transform and write steps; RowGroupFrames is a multiple of it.</summary>
    public int BatchFrames { get; set; } = 256;
    public int ZstdLevel { get; set; } = 1;
    /// <summary>ffmpeg decoders running at once (twice as many videos are in hand, so store I/O overlaps decoding); 0 = one per core.</summary>
    public int Decoders { get; set; }
    /// <summary>Threads of each ffmpeg decoder; frames are small, so parallel videos scale better than threads.</summary>
    public int DecoderThreads { get; set; } = 1;
    /// <summary>Lease on a video while a worker ingests it; a killed worker's videos are free again after this.</summary>
    public int LeaseSeconds { get; set; } = 30;
    public string Ffmpeg { get; set; } = "ffmpeg";

    public static readonly IReadOnlyList<string> ResizeModes = ["crop", "pad", "stretch"];

    /// <summary>Keys that change how fast or where ingest runs, or whether it stops, but never its output: left out of the artifact id.</summary>
    static readonly string[] ExecutionKeys = [nameof(Strict), nameof(Decoders), nameof(DecoderThreads), nameof(LeaseSeconds), nameof(Ffmpeg)];

    public int EffectiveDecoders() => Decoders > 0 ? Decoders : Environment.ProcessorCount;

    /// <summary>The settings that decide the artifact's bytes, for the artifact id.</summary>
    public static JsonObject ContentJson(JsonObject effectiveConfig)
    {
        var content = (JsonObject)effectiveConfig.DeepClone();
        if (content[nameof(IngestConfig.Ingest)] is JsonObject section)
            foreach (var key in ExecutionKeys) section.Remove(key);
        return content;
    }

    public IEnumerable<string> Validate()
    {
        var inv = CultureInfo.InvariantCulture;
        if (Width is < 16 or > 4096) yield return $"Ingest:Width = {Width}: expected an integer in [16, 4096], or unset for the dataset's size";
        if (Height is < 16 or > 4096) yield return $"Ingest:Height = {Height}: expected an integer in [16, 4096], or unset for the dataset's size";
        if (!ResizeModes.Contains(Resize)) yield return $"Ingest:Resize = '{Resize}': expected one of {string.Join(", ", ResizeModes)}";
        if (!(ValidationFraction >= 0 && ValidationFraction <= 1))
            yield return $"Ingest:ValidationFraction = {ValidationFraction.ToString(inv)}: expected a fraction in [0, 1]";
        if (BatchFrames is < 1 or > 65536) yield return $"Ingest:BatchFrames = {BatchFrames}: expected an integer in [1, 65536]";
        if (RowGroupFrames is < 1 or > 1_000_000) yield return $"Ingest:RowGroupFrames = {RowGroupFrames}: expected an integer in [1, 1000000]";
        else if (BatchFrames > 0 && RowGroupFrames % BatchFrames != 0)
            yield return $"Ingest:RowGroupFrames = {RowGroupFrames}: expected a multiple of Ingest:BatchFrames ({BatchFrames})";
        if (ZstdLevel is < 1 or > 19) yield return $"Ingest:ZstdLevel = {ZstdLevel}: expected an integer in [1, 19]";
        if (Decoders is < 0 or > 1024) yield return $"Ingest:Decoders = {Decoders}: expected 0 (one per core) or a positive integer";
        if (DecoderThreads is < 0 or > 64) yield return $"Ingest:DecoderThreads = {DecoderThreads}: expected 0 (ffmpeg decides) or an integer in [1, 64]";
        if (LeaseSeconds is < 15 or > 60) yield return $"Ingest:LeaseSeconds = {LeaseSeconds}: expected an integer in [15, 60] (blob lease limits)";
        if (string.IsNullOrWhiteSpace(Ffmpeg)) yield return "Ingest:Ffmpeg: expected the ffmpeg executable (name or path)";
    }
}
