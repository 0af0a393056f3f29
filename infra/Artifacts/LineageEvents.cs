using System.Text.Json;
using System.Text.Json.Nodes;
using Dreamer.Storage;

namespace Dreamer.Artifacts;

/// <summary>A dataset as OpenLineage names it: namespace (the store) + name (path), with a content version.</summary>
public sealed record LineageDataset(string Name, string? ContentVersion = null, long? Rows = null, long? Bytes = null, int? Files = null);

/// <summary>The run a stage run belongs to (a nightly pipeline run), for the parent facet.</summary>
public sealed record LineageParent(string RunId, string JobName);

/// <summary>
/// Writes OpenLineage 2-0-2 RunEvents (START, then COMPLETE or FAIL) as one JSON blob each under
/// lineage/events/. Events are the audit trail; manifests stay the source of truth for contents.
/// </summary>
public sealed class LineageRecorder
{
    public const string SchemaUrl = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
    public const string Producer = "https://github.com/dreamer-pipeline/dreamer";
    private const string FacetBase = "https://openlineage.io/spec/facets/";

    private readonly IBlobStore _store;
    private readonly string _datasetNamespace;
    private int _sequence;

    public string RunId { get; }
    public string JobNamespace { get; }
    public string JobName { get; }

    /// <param name="datasetNamespace">The store's URI without secrets (IBlobStore.DisplayUri).</param>
    public LineageRecorder(IBlobStore store, string jobName, string? runId = null, string jobNamespace = "dreamer")
    {
        _store = store;
        _datasetNamespace = store.DisplayUri;
        JobName = jobName;
        JobNamespace = jobNamespace;
        RunId = runId ?? NewRunId();
    }

    /// <summary>OpenLineage clients generate UUIDv7 run ids (time-ordered).</summary>
    public static string NewRunId() => Guid.CreateVersion7().ToString();

    public Task<JsonObject> StartAsync(IReadOnlyList<LineageDataset> inputs, ManifestCodeInfo code,
        LineageParent? parent, IReadOnlyDictionary<string, string>? parameters = null, CancellationToken ct = default) =>
        EmitAsync("START", inputs, [], code, parent, parameters, null, ct);

    public Task<JsonObject> CompleteAsync(IReadOnlyList<LineageDataset> inputs, IReadOnlyList<LineageDataset> outputs,
        ManifestCodeInfo code, LineageParent? parent, CancellationToken ct = default) =>
        EmitAsync("COMPLETE", inputs, outputs, code, parent, null, null, ct);

    public Task<JsonObject> FailAsync(IReadOnlyList<LineageDataset> inputs, ManifestCodeInfo code, LineageParent? parent,
        Exception error, CancellationToken ct = default) =>
        EmitAsync("FAIL", inputs, [], code, parent, null, error, ct);

    private async Task<JsonObject> EmitAsync(string eventType, IReadOnlyList<LineageDataset> inputs,
        IReadOnlyList<LineageDataset> outputs, ManifestCodeInfo code, LineageParent? parent,
        IReadOnlyDictionary<string, string>? parameters, Exception? error, CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        var runFacets = new JsonObject
        {
            ["processing_engine"] = Facet("ProcessingEngineRunFacet.json", new JsonObject
            {
                ["version"] = code.Version,
                ["name"] = "dreamer",
                ["openlineageAdapterVersion"] = "2-0-2",
            }),
        };
        if (parent != null)
            runFacets["parent"] = Facet("ParentRunFacet.json", new JsonObject
            {
                ["run"] = new JsonObject { ["runId"] = parent.RunId },
                ["job"] = new JsonObject { ["namespace"] = JobNamespace, ["name"] = parent.JobName },
            });
        if (parameters is { Count: > 0 })
            runFacets["executionParameters"] = Facet("ExecutionParametersRunFacet.json", new JsonObject
            {
                ["parameters"] = new JsonArray(parameters.OrderBy(p => p.Key, StringComparer.Ordinal)
                    .Select(p => (JsonNode)new JsonObject { ["key"] = p.Key, ["value"] = p.Value }).ToArray()),
            });
        if (error != null)
            runFacets["errorMessage"] = Facet("ErrorMessageRunFacet.json", new JsonObject
            {
                ["message"] = error.Message,
                ["programmingLanguage"] = "C#",
                ["stackTrace"] = error.ToString(),
            });

        var jobFacets = new JsonObject
        {
            ["jobType"] = Facet("JobTypeJobFacet.json", new JsonObject
            {
                ["processingType"] = "BATCH", ["integration"] = "DREAMER", ["jobType"] = "TASK",
            }),
        };
        if (code.GitCommit != null)
            jobFacets["sourceCodeLocation"] = Facet("SourceCodeLocationJobFacet.json", new JsonObject
            {
                ["type"] = "git", ["url"] = Producer, ["version"] = code.GitCommit,
            });

        var ev = new JsonObject
        {
            ["eventType"] = eventType,
            ["eventTime"] = now.ToString("yyyy-MM-ddTHH:mm:ss.fffZ"),
            ["producer"] = Producer,
            ["schemaURL"] = SchemaUrl,
            ["run"] = new JsonObject { ["runId"] = RunId, ["facets"] = runFacets },
            ["job"] = new JsonObject { ["namespace"] = JobNamespace, ["name"] = JobName, ["facets"] = jobFacets },
            ["inputs"] = new JsonArray(inputs.Select(d => (JsonNode)Dataset(d, output: false)).ToArray()),
            ["outputs"] = new JsonArray(outputs.Select(d => (JsonNode)Dataset(d, output: true)).ToArray()),
        };
        var seq = Interlocked.Increment(ref _sequence);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(ev, new JsonSerializerOptions { WriteIndented = true });
        await _store.WriteBytesAsync(StorePaths.LineageEvent(now, RunId, seq), bytes,
            BlobWriteOptions.CreateOnly with { ContentType = "application/json" }, ct).ConfigureAwait(false);
        return ev;
    }

    private JsonObject Dataset(LineageDataset d, bool output)
    {
        var obj = new JsonObject { ["namespace"] = _datasetNamespace, ["name"] = d.Name };
        var facets = new JsonObject();
        if (d.ContentVersion != null)
            facets["version"] = Facet("DatasetVersionDatasetFacet.json", new JsonObject { ["datasetVersion"] = d.ContentVersion });
        obj["facets"] = facets;
        if (output && (d.Rows != null || d.Bytes != null))
        {
            var stats = new JsonObject();
            if (d.Rows != null) stats["rowCount"] = d.Rows;
            if (d.Bytes != null) stats["size"] = d.Bytes;
            if (d.Files != null) stats["fileCount"] = d.Files;
            obj["outputFacets"] = new JsonObject { ["outputStatistics"] = Facet("OutputStatisticsOutputDatasetFacet.json", stats) };
        }
        return obj;
    }

    private static JsonObject Facet(string schemaFile, JsonObject body)
    {
        body["_producer"] = Producer;
        body["_schemaURL"] = FacetBase + schemaFile;
        return body;
    }
}

/// <summary>The code identity a lineage event carries (from the manifest's code record).</summary>
public sealed record ManifestCodeInfo(string Version, string? GitCommit)
{
    public static ManifestCodeInfo From(Dreamer.Schemas.ManifestCode code) => new(code.Version, code.GitCommit);
}
