using System.Text.Json.Nodes;

namespace Dreamer.Artifacts;

public static class ArtifactIds
{
    /// <summary>
    /// stage + short hash of (stage, code version, canonical configuration, input artifact ids by binding name).
    /// The same inputs give the same id; an attempt salt (from --force) gives a fresh one.
    /// </summary>
    public static string Compute(string stage, string codeVersion, JsonObject config,
        IReadOnlyDictionary<string, string> inputArtifactIds, string? salt = null)
    {
        StorePaths.ValidateSegment(stage, "stage name");
        var inputs = new JsonObject();
        foreach (var (name, id) in inputArtifactIds) inputs[name] = id;
        var key = new JsonObject
        {
            ["stage"] = stage,
            ["code"] = codeVersion,
            ["config"] = config.DeepClone(),
            ["inputs"] = inputs,
        };
        if (salt != null) key["salt"] = salt;
        return $"{stage}-{CanonicalJson.Sha256Hex(key)[..16]}";
    }

    /// <summary>
    /// Content digest of a set of external source files (order-free): what "inputs" means for a stage that
    /// reads raw files, so the same videos give the same artifact id wherever they are listed from.
    /// </summary>
    public static string SourcesDigest(IEnumerable<Schemas.ManifestSource> sources)
    {
        var list = new JsonArray(sources.OrderBy(s => s.Uri, StringComparer.Ordinal)
            .Select(s => (JsonNode)new JsonArray(s.Uri, s.Sha256)).ToArray());
        return "sources-" + CanonicalJson.Sha256Hex(list)[..16];
    }
}
