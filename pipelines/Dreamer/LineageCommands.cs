using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dreamer.Artifacts;
using Dreamer.Parquet;
using Dreamer.Storage;

namespace Dreamer.Cli;

/// <summary>`dreamer lineage WHAT [--downstream] [--format text|json|dot]` and `dreamer lineage index`.</summary>
internal static class LineageCommands
{
    public const string IndexPath = "lineage/index.parquet";

    public static Command Create()
    {
        var store = StoreCommands.StoreOption();
        var what = new Argument<string>("what") { Description = "an artifact id, a path inside an artifact, or a raw source file (URI or path)" };
        var downstream = new Option<bool>("--downstream") { Description = "what was made from it, instead of what it was made from" };
        var format = new Option<string>("--format") { Description = "text, json or dot", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json", "dot");
        var command = new Command("lineage", "where an artifact came from (raw files, configs, code, metrics), or where it went") { store, what, downstream, format };
        command.SetAction((parse, ct) => StoreCommands.WithStore(parse.GetValue(store)!, async s =>
        {
            var graph = await LineageGraph.LoadAsync(s, ct);
            var roots = graph.Resolve(parse.GetValue(what)!);
            if (roots.Count == 0)
            {
                Console.Error.WriteLine($"lineage: no committed artifact or source matches '{parse.GetValue(what)}' in {s.DisplayUri}");
                return 2;
            }
            var down = parse.GetValue(downstream);
            Console.Write(parse.GetValue(format) switch
            {
                "json" => Json(graph, roots, down).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n",
                "dot" => Dot(graph, roots, down),
                _ => Text(graph, roots, down),
            });
            return 0;
        }));

        var output = new Option<string?>("--out") { Description = "also write the index to this local file" };
        var index = new Command("index", $"write every manifest as one Parquet table ({IndexPath} in the store) for DuckDB") { store, output };
        index.SetAction((parse, ct) => StoreCommands.WithStore(parse.GetValue(store)!, async s =>
        {
            var graph = await LineageGraph.LoadAsync(s, ct);
            var bytes = WriteIndex(graph);
            await s.WriteBytesAsync(IndexPath, bytes, null, ct);
            if (parse.GetValue(output) is { } path) await File.WriteAllBytesAsync(path, bytes, ct);
            Console.Error.WriteLine($"lineage index: {graph.Nodes.Count} artifacts -> {s.DisplayUri}/{IndexPath}");
            return 0;
        }));
        command.Subcommands.Add(index);
        return command;
    }

    private static string Describe(LineageNode n)
    {
        var m = n.Manifest;
        var git = m.Code.GitCommit == null ? "" : $", git {m.Code.GitCommit[..Math.Min(12, m.Code.GitCommit.Length)]}{(m.Code.GitDirty == true ? " dirty" : "")}";
        return $"{m.ArtifactId} [{m.Stage}] committed {m.CommittedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z, code {m.Code.Version}{git}";
    }

    private static string Text(LineageGraph graph, IReadOnlyList<LineageNode> roots, bool downstream)
    {
        var sb = new StringBuilder();
        void Node(LineageNode n, string indent, string edge, HashSet<string> path)
        {
            var m = n.Manifest;
            sb.AppendLine($"{indent}{edge}{Describe(n)}");
            var pad = indent + (edge.Length > 0 ? "   " : "");
            if (m.Metrics.Count > 0)
                sb.AppendLine($"{pad}metrics: {string.Join(", ", m.Metrics.OrderBy(k => k.Key).Select(k => $"{k.Key}={k.Value:G6}"))}");
            if (n.PreviousArtifactId != null)
                sb.AppendLine(n.ConfigChanges.Count == 0
                    ? $"{pad}config: same as previous {n.PreviousArtifactId}"
                    : $"{pad}config vs previous {n.PreviousArtifactId}: {string.Join("; ", n.ConfigChanges)}");
            if (!path.Add(m.ArtifactId)) return;
            if (downstream)
            {
                foreach (var c in graph.Consumers(n)) Node(c, pad, "-> ", path);
            }
            else
            {
                foreach (var s in m.Sources) sb.AppendLine($"{pad}<- source {s.Uri} ({s.Bytes} bytes, sha256 {s.Sha256})");
                foreach (var missing in graph.MissingInputs(n)) sb.AppendLine($"{pad}<- {missing.Name}: {missing.ArtifactId} (manifest not in this store)");
                foreach (var input in m.Inputs)
                    if (graph.Find(input.ArtifactId) is { } up) Node(up, pad, $"<- {input.Name}: ", path);
            }
            path.Remove(m.ArtifactId);
        }
        foreach (var root in roots) Node(root, "", "", []);
        return sb.ToString();
    }

    private static JsonObject Json(LineageGraph graph, IReadOnlyList<LineageNode> roots, bool downstream)
    {
        JsonObject Node(LineageNode n, HashSet<string> path)
        {
            var m = n.Manifest;
            var obj = new JsonObject
            {
                ["artifactId"] = m.ArtifactId,
                ["stage"] = m.Stage,
                ["committedAt"] = m.CommittedAt.ToString("O"),
                ["code"] = JsonSerializer.SerializeToNode(m.Code),
                ["metrics"] = JsonSerializer.SerializeToNode(m.Metrics, new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }),
                ["previous"] = n.PreviousArtifactId,
                ["configChanges"] = new JsonArray(n.ConfigChanges.Select(c => (JsonNode)new JsonObject { ["key"] = c.Key, ["before"] = c.Before, ["after"] = c.After }).ToArray()),
            };
            if (!path.Add(m.ArtifactId)) return obj;
            if (downstream)
                obj["consumers"] = new JsonArray(graph.Consumers(n).Select(c => (JsonNode)Node(c, path)).ToArray());
            else
            {
                obj["sources"] = JsonSerializer.SerializeToNode(m.Sources);
                obj["inputs"] = new JsonArray(m.Inputs.Select(i => (JsonNode)(graph.Find(i.ArtifactId) is { } up
                    ? new JsonObject { ["name"] = i.Name, ["artifact"] = Node(up, path) }
                    : new JsonObject { ["name"] = i.Name, ["artifactId"] = i.ArtifactId, ["missing"] = true })).ToArray());
            }
            path.Remove(m.ArtifactId);
            return obj;
        }
        return new JsonObject { ["direction"] = downstream ? "downstream" : "upstream", ["roots"] = new JsonArray(roots.Select(r => (JsonNode)Node(r, [])).ToArray()) };
    }

    private static string Dot(LineageGraph graph, IReadOnlyList<LineageNode> roots, bool downstream)
    {
        var sb = new StringBuilder("digraph lineage {\n  rankdir=LR;\n  node [shape=box];\n");
        var nodes = roots.SelectMany(r => (downstream ? graph.DownstreamClosure(r) : graph.UpstreamClosure(r)).Prepend(r))
            .DistinctBy(n => n.Manifest.ArtifactId).ToList();
        var ids = nodes.Select(n => n.Manifest.ArtifactId).ToHashSet();
        static string Q(string s) => "\"" + s.Replace("\"", "\\\"") + "\"";
        foreach (var n in nodes)
        {
            sb.AppendLine($"  {Q(n.Manifest.ArtifactId)} [label={Q($"{n.Manifest.ArtifactId}\\n{n.Manifest.Stage}")}];");
            foreach (var input in n.Manifest.Inputs.Where(i => ids.Contains(i.ArtifactId)))
                sb.AppendLine($"  {Q(input.ArtifactId)} -> {Q(n.Manifest.ArtifactId)} [label={Q(input.Name)}];");
            if (!downstream || roots.Contains(n))
                foreach (var s in n.Manifest.Sources)
                    sb.AppendLine($"  {Q(s.Uri)} [shape=note]; {Q(s.Uri)} -> {Q(n.Manifest.ArtifactId)};");
        }
        return sb.Append("}\n").ToString();
    }

    /// <summary>
    /// One row per committed artifact; upstream closures are precomputed so "which checkpoints used video X"
    /// is a plain filter: WHERE list_contains(all_source_uris, 'raw/demo/ep-0001.mp4').
    /// </summary>
    public static byte[] WriteIndex(LineageGraph graph)
    {
        var nodes = graph.Nodes.OrderBy(n => n.Manifest.Stage, StringComparer.Ordinal).ThenBy(n => n.Manifest.CommittedAt).ToList();
        var schema = new ParquetSchema(
            ParquetField.String("artifact_id"),
            ParquetField.String("stage"),
            ParquetField.Timestamp("committed_at", TimeUnit.Micros),
            ParquetField.String("code_version"),
            ParquetField.String("git_commit", nullable: true),
            ParquetField.String("run_id"),
            ParquetField.List("input_artifact_ids", ParquetField.String("element")),
            ParquetField.List("all_upstream_artifact_ids", ParquetField.String("element")),
            ParquetField.List("source_uris", ParquetField.String("element")),
            ParquetField.List("all_source_uris", ParquetField.String("element")),
            ParquetField.List("all_source_sha256", ParquetField.String("element")),
            ParquetField.List("outputs", ParquetField.String("element")),
            ParquetField.String("config_json"),
            ParquetField.String("metrics_json"),
            ParquetField.String("manifest_sha256"));

        ColumnData Lists(Func<LineageNode, IEnumerable<string>> pick)
        {
            var offsets = new List<int> { 0 };
            var values = new List<string?>();
            foreach (var n in nodes)
            {
                values.AddRange(pick(n));
                offsets.Add(values.Count);
            }
            return ColumnData.List(ColumnData.Strings(values), offsets.ToArray());
        }
        var epoch = DateTimeOffset.UnixEpoch;
        using var buffer = new MemoryStream();
        using (var writer = new ParquetWriter(buffer, schema, new ParquetWriterOptions { Compression = CompressionCodec.Zstd }, leaveOpen: true))
        {
            writer.Metadata["dreamer.table"] = "lineage-index";
            writer.Write(
                ColumnData.Strings(nodes.Select(n => (string?)n.Manifest.ArtifactId).ToList()),
                ColumnData.Strings(nodes.Select(n => (string?)n.Manifest.Stage).ToList()),
                ColumnData.Primitive(nodes.Select(n => (n.Manifest.CommittedAt - epoch).Ticks / 10).ToArray()),
                ColumnData.Strings(nodes.Select(n => (string?)n.Manifest.Code.Version).ToList()),
                ColumnData.Strings(nodes.Select(n => n.Manifest.Code.GitCommit).ToList()),
                ColumnData.Strings(nodes.Select(n => (string?)n.Manifest.RunId).ToList()),
                Lists(n => n.Manifest.Inputs.Select(i => i.ArtifactId)),
                Lists(n => graph.UpstreamClosure(n).Select(u => u.Manifest.ArtifactId)),
                Lists(n => n.Manifest.Sources.Select(s => s.Uri)),
                Lists(n => graph.AllSources(n).Select(s => s.Uri)),
                Lists(n => graph.AllSources(n).Select(s => s.Sha256)),
                Lists(n => n.Manifest.Outputs.Select(o => o.Path)),
                ColumnData.Strings(nodes.Select(n => (string?)CanonicalJson.Serialize(n.Manifest.Config)).ToList()),
                ColumnData.Strings(nodes.Select(n => (string?)JsonSerializer.Serialize(n.Manifest.Metrics,
                    new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals })).ToList()),
                ColumnData.Strings(nodes.Select(n => (string?)n.Artifact.ManifestSha256).ToList()));
            writer.Finish();
        }
        return buffer.ToArray();
    }
}
