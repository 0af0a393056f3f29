namespace Dreamer.Artifacts;

/// <summary>The store layout of DESIGN.md, in one place.</summary>
public static class StorePaths
{
    public static string ArtifactPrefix(string stage, string artifactId) => $"artifacts/{stage}/{artifactId}/";
    public static string StagePrefix(string stage) => $"artifacts/{stage}/";
    public static string Manifest(string stage, string artifactId) => ArtifactPrefix(stage, artifactId) + Schemas.ArtifactManifest.FileName;
    /// <summary>Work records of an uncommitted artifact's workers (<see cref="WorkRecords"/>), beside its parts.</summary>
    public static string WorkPrefix(string stage, string artifactId) => ArtifactPrefix(stage, artifactId) + "_work/";
    public static string CheckpointPrefix(string stage, string artifactId) => $"checkpoints/{stage}/{artifactId}/";
    public static string CheckpointStep(string stage, string artifactId, long step) => $"{CheckpointPrefix(stage, artifactId)}step-{step:D9}/";
    public static string CheckpointLatest(string stage, string artifactId) => CheckpointPrefix(stage, artifactId) + "LATEST";
    public static string Lock(string stage, string artifactId, string? shard = null) =>
        shard is null ? $"locks/{stage}/{artifactId}" : $"locks/{stage}/{artifactId}/{shard}";
    public static string LineageEvent(DateTimeOffset time, string runId, int sequence) =>
        $"lineage/events/{time.UtcDateTime:yyyy-MM-dd}/{runId}-{sequence:D3}.json";

    /// <summary>Stage names and artifact ids become path segments: keep them to a safe alphabet.</summary>
    public static void ValidateSegment(string value, string what)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 128 ||
            !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || value.StartsWith('.'))
            throw new ArgumentException($"invalid {what} '{value}': expected 1-128 characters of letters, digits, '-', '_', '.'");
    }
}
