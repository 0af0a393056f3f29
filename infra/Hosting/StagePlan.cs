using System.Text.Json.Nodes;
using Dreamer.Artifacts;
using Dreamer.Schemas;
using Dreamer.Storage;

namespace Dreamer.Hosting;

/// <summary>
/// What a stage would produce, computed without doing the work: its artifact id from (stage, code,
/// configuration, inputs). Inputs are upstream artifact ids by binding name, or "sources" with
/// <see cref="ArtifactIds.SourcesDigest"/> for a stage that reads raw files.
/// </summary>
public sealed record StagePlan(string ArtifactId, JsonObject Config, IReadOnlyDictionary<string, string> Inputs);

/// <summary>The decision for a plan: reuse a committed artifact, or run, and why.</summary>
public sealed record PlanDecision(string Stage, string ArtifactId, bool Committed, string? PreviousArtifactId, IReadOnlyList<string> Reasons)
{
    public JsonObject ToJson() => new()
    {
        ["stage"] = Stage,
        ["artifactId"] = ArtifactId,
        ["action"] = Committed ? "reuse" : "run",
        ["committed"] = Committed,
        ["previous"] = PreviousArtifactId,
        ["reasons"] = new JsonArray(Reasons.Select(r => (JsonNode)r).ToArray()),
    };
}

public static class StagePlanner
{
    /// <summary>Compares a plan with the store: committed already, or what changed since the stage's latest artifact.</summary>
    public static async Task<PlanDecision> DecideAsync(IBlobStore store, string stage, StagePlan plan, string codeVersion, CancellationToken ct = default)
    {
        var catalog = new ArtifactCatalog(store);
        if (await catalog.TryGetAsync(stage, plan.ArtifactId, ct).ConfigureAwait(false) is { } committed)
            return new PlanDecision(stage, plan.ArtifactId, true, committed.Manifest.ArtifactId, ["committed artifact with the same inputs, configuration and code"]);

        var previous = await catalog.LatestAsync(stage, ct).ConfigureAwait(false);
        if (previous == null)
            return new PlanDecision(stage, plan.ArtifactId, false, null, ["no artifact of this stage yet"]);

        var m = previous.Manifest;
        var reasons = new List<string>();
        var before = PreviousInputs(m);
        foreach (var name in before.Keys.Union(plan.Inputs.Keys).Order(StringComparer.Ordinal))
        {
            var was = before.GetValueOrDefault(name);
            var now = plan.Inputs.GetValueOrDefault(name);
            if (was != now) reasons.Add($"new input {name}: {was ?? "(none)"} -> {now ?? "(none)"}");
        }
        foreach (var change in ConfigDiff.Compare(m.Config, plan.Config)) reasons.Add($"changed config {change}");
        if (m.Code.Version != codeVersion) reasons.Add($"changed code: {m.Code.Version} -> {codeVersion}");
        if (reasons.Count == 0) reasons.Add("same inputs, configuration and code as the latest artifact, but a different id (forced attempt)");
        return new PlanDecision(stage, plan.ArtifactId, false, m.ArtifactId, reasons);
    }

    /// <summary>The inputs a committed artifact was made from, in plan form.</summary>
    public static Dictionary<string, string> PreviousInputs(ArtifactManifest m)
    {
        var inputs = m.Inputs.ToDictionary(i => i.Name, i => i.ArtifactId, StringComparer.Ordinal);
        if (m.Sources.Count > 0) inputs["sources"] = ArtifactIds.SourcesDigest(m.Sources);
        return inputs;
    }
}
