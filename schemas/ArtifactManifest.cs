using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Dreamer.Schemas;

/// <summary>
/// The `_manifest.json` of an artifact, written last: its presence is the commit.
/// Field names are the on-disk JSON names; bump <see cref="CurrentSchemaVersion"/> on any breaking change.
/// </summary>
public sealed record ArtifactManifest
{
    public const int CurrentSchemaVersion = 1;
    public const string FileName = "_manifest.json";

    [JsonPropertyName("schemaVersion")] public int SchemaVersion { get; init; } = CurrentSchemaVersion;
    [JsonPropertyName("artifactId")] public required string ArtifactId { get; init; }
    [JsonPropertyName("stage")] public required string Stage { get; init; }
    [JsonPropertyName("runId")] public required string RunId { get; init; }
    [JsonPropertyName("attempt")] public int Attempt { get; init; } = 1;
    [JsonPropertyName("inputs")] public IReadOnlyList<ManifestInput> Inputs { get; init; } = [];
    /// <summary>For stages reading external files (ingest): every source file by content hash.</summary>
    [JsonPropertyName("sources")] public IReadOnlyList<ManifestSource> Sources { get; init; } = [];
    /// <summary>For ingest: sources left out with the reason (null, and absent from the JSON, for other stages).</summary>
    [JsonPropertyName("rejected")] public IReadOnlyList<ManifestRejected>? Rejected { get; init; }
    /// <summary>Canonical effective configuration, secrets removed.</summary>
    [JsonPropertyName("config")] public JsonObject Config { get; init; } = new();
    [JsonPropertyName("code")] public required ManifestCode Code { get; init; }
    [JsonPropertyName("environment")] public required ManifestEnvironment Environment { get; init; }
    [JsonPropertyName("outputs")] public IReadOnlyList<ManifestOutput> Outputs { get; init; } = [];
    [JsonPropertyName("metrics")] public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();
    [JsonPropertyName("startedAt")] public DateTimeOffset StartedAt { get; init; }
    [JsonPropertyName("committedAt")] public DateTimeOffset CommittedAt { get; init; }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public byte[] ToJsonBytes() => JsonSerializer.SerializeToUtf8Bytes(this, JsonOptions);

    /// <summary>Parses a manifest; returns null for a truncated, malformed or future-version document.</summary>
    public static ArtifactManifest? TryParse(ReadOnlySpan<byte> json)
    {
        try
        {
            var manifest = JsonSerializer.Deserialize<ArtifactManifest>(json, JsonOptions);
            return manifest is { SchemaVersion: > 0 and <= CurrentSchemaVersion } ? manifest : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <param name="Name">The binding name of the input (e.g. "frames").</param>
/// <param name="ManifestSha256">Hash of the upstream manifest bytes, pinning exactly what was read.</param>
public sealed record ManifestInput(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("stage")] string Stage,
    [property: JsonPropertyName("artifactId")] string ArtifactId,
    [property: JsonPropertyName("manifestSha256")] string ManifestSha256);

public sealed record ManifestSource(
    [property: JsonPropertyName("uri")] string Uri,
    [property: JsonPropertyName("bytes")] long Bytes,
    [property: JsonPropertyName("sha256")] string Sha256);

public sealed record ManifestOutput(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("bytes")] long Bytes,
    [property: JsonPropertyName("sha256")] string Sha256,
    [property: JsonPropertyName("rows")] long? Rows);

/// <param name="Version">Content hash of the code that ran (the stage's assemblies and native shim).</param>
public sealed record ManifestCode(
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("gitCommit")] string? GitCommit,
    [property: JsonPropertyName("gitDirty")] bool? GitDirty);

public sealed record ManifestEnvironment(
    [property: JsonPropertyName("host")] string Host,
    [property: JsonPropertyName("os")] string Os,
    [property: JsonPropertyName("dotnet")] string DotNet,
    [property: JsonPropertyName("libtorch")] string? LibTorch,
    [property: JsonPropertyName("threads")] int Threads,
    [property: JsonPropertyName("device")] string? Device);

/// <summary>A source file ingest left out, and why (an empty file, a truncated video, a log that does not fit).</summary>
public sealed record ManifestRejected(
    [property: JsonPropertyName("uri")] string Uri,
    [property: JsonPropertyName("reason")] string Reason);
