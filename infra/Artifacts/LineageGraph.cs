using Dreamer.Schemas;
using Dreamer.Storage;

namespace Dreamer.Artifacts;

/// <summary>A committed artifact in the lineage graph, with how its configuration differs from its predecessor's.</summary>
public sealed record LineageNode(CommittedArtifact Artifact, string? PreviousArtifactId, IReadOnlyList<ConfigChange> ConfigChanges)
{
    public ArtifactManifest Manifest => Artifact.Manifest;
}

/// <summary>
/// Every committed manifest of a store, indexed for lineage questions: what made an artifact (upstream
/// down to raw files by content hash) and what an artifact or a raw file went into (downstream).
/// </summary>
public sealed class LineageGraph
{
    private readonly Dictionary<string, LineageNode> _nodes;
    private readonly Dictionary<string, List<string>> _consumers = new(StringComparer.Ordinal);

    private LineageGraph(Dictionary<string, LineageNode> nodes)
    {
        _nodes = nodes;
        foreach (var node in nodes.Values)
            foreach (var input in node.Manifest.Inputs)
            {
                if (!_consumers.TryGetValue(input.ArtifactId, out var list)) _consumers[input.ArtifactId] = list = [];
                list.Add(node.Manifest.ArtifactId);
            }
    }

    public IReadOnlyCollection<LineageNode> Nodes => _nodes.Values;

    public static async Task<LineageGraph> LoadAsync(IBlobStore store, CancellationToken ct = default)
    {
        var catalog = new ArtifactCatalog(store);
        var nodes = new Dictionary<string, LineageNode>(StringComparer.Ordinal);
        foreach (var stage in await catalog.ListStagesAsync(ct).ConfigureAwait(false))
        {
            CommittedArtifact? previous = null;
            foreach (var artifact in await catalog.ListCommittedAsync(stage, ct).ConfigureAwait(false)) // oldest first
            {
                var changes = previous == null ? [] : ConfigDiff.Compare(previous.Manifest.Config, artifact.Manifest.Config);
                nodes[artifact.Manifest.ArtifactId] = new LineageNode(artifact, previous?.Manifest.ArtifactId, changes);
                previous = artifact;
            }
        }
        return new LineageGraph(nodes);
    }

    public LineageNode? Find(string artifactId) => _nodes.GetValueOrDefault(artifactId);

    /// <summary>
    /// Resolves what the user named: an artifact id, a store path inside an artifact
    /// (artifacts/&lt;stage&gt;/&lt;id&gt;/...), or a raw source (URI or path) — for a source, the artifacts that read it.
    /// </summary>
    public IReadOnlyList<LineageNode> Resolve(string what)
    {
        if (_nodes.TryGetValue(what, out var byId)) return [byId];
        var parts = what.Split('/');
        if (parts.Length >= 3 && parts[0] == "artifacts" && _nodes.TryGetValue(parts[2], out var byPath)) return [byPath];
        return _nodes.Values.Where(n => n.Manifest.Sources.Any(s => s.Uri == what || s.Uri.EndsWith("/" + what, StringComparison.Ordinal)))
            .ToList();
    }

    /// <summary>Direct inputs that are committed in this store (an input whose manifest is gone is reported by Missing).</summary>
    public IEnumerable<LineageNode> Inputs(LineageNode node) =>
        node.Manifest.Inputs.Select(i => _nodes.GetValueOrDefault(i.ArtifactId)).OfType<LineageNode>();

    public IEnumerable<ManifestInput> MissingInputs(LineageNode node) =>
        node.Manifest.Inputs.Where(i => !_nodes.ContainsKey(i.ArtifactId));

    public IEnumerable<LineageNode> Consumers(LineageNode node) =>
        _consumers.GetValueOrDefault(node.Manifest.ArtifactId, []).Select(id => _nodes[id]);

    /// <summary>Every artifact upstream of a node (not the node itself).</summary>
    public IReadOnlyList<LineageNode> UpstreamClosure(LineageNode node) => Closure(node, Inputs);

    public IReadOnlyList<LineageNode> DownstreamClosure(LineageNode node) => Closure(node, Consumers);

    /// <summary>Every raw source file that went into a node, directly or through its inputs.</summary>
    public IReadOnlyList<ManifestSource> AllSources(LineageNode node) =>
        UpstreamClosure(node).Prepend(node).SelectMany(n => n.Manifest.Sources).DistinctBy(s => s.Uri).ToList();

    private static IReadOnlyList<LineageNode> Closure(LineageNode start, Func<LineageNode, IEnumerable<LineageNode>> next)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal) { start.Manifest.ArtifactId };
        var order = new List<LineageNode>();
        var queue = new Queue<LineageNode>([start]);
        while (queue.Count > 0)
            foreach (var n in next(queue.Dequeue()))
                if (seen.Add(n.Manifest.ArtifactId))
                {
                    order.Add(n);
                    queue.Enqueue(n);
                }
        return order;
    }
}
