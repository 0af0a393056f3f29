using System.Text;
using System.Text.Json.Nodes;
using Dreamer.Artifacts;
using Dreamer.Schemas;
using Dreamer.Storage;

namespace Dreamer.Artifacts.Tests;

public class ArtifactIdTests
{
    private static readonly Dictionary<string, string> NoInputs = new();

    [Fact]
    public void Same_inputs_give_the_same_id_whatever_the_key_order()
    {
        var a = ArtifactIds.Compute("tokenize", "c1", JsonNode.Parse("""{"x":1,"y":{"b":2,"a":3}}""")!.AsObject(), NoInputs);
        var b = ArtifactIds.Compute("tokenize", "c1", JsonNode.Parse("""{"y":{"a":3,"b":2},"x":1}""")!.AsObject(), NoInputs);
        Assert.Equal(a, b);
        Assert.StartsWith("tokenize-", a);
    }

    [Fact]
    public void Any_change_of_code_config_inputs_or_salt_changes_the_id()
    {
        var config = JsonNode.Parse("""{"steps":10}""")!.AsObject();
        var inputs = new Dictionary<string, string> { ["frames"] = "ingest-aaaa" };
        var baseline = ArtifactIds.Compute("tokenize", "c1", config, inputs);
        var variants = new[]
        {
            ArtifactIds.Compute("tokenize", "c2", config, inputs),
            ArtifactIds.Compute("tokenize", "c1", JsonNode.Parse("""{"steps":11}""")!.AsObject(), inputs),
            ArtifactIds.Compute("tokenize", "c1", config, new Dictionary<string, string> { ["frames"] = "ingest-bbbb" }),
            ArtifactIds.Compute("tokenize", "c1", config, inputs, salt: "force-1"),
        };
        Assert.All(variants, v => Assert.NotEqual(baseline, v));
        Assert.Equal(variants.Length, variants.Distinct().Count());
    }

    [Fact]
    public void Unsafe_stage_names_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => ArtifactIds.Compute("../etc", "c", new JsonObject(), NoInputs));
    }
}

public class ArtifactStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("artifact-tests").FullName;
    private readonly LocalFolderStore _store;
    private readonly ArtifactCatalog _catalog;

    public ArtifactStoreTests()
    {
        _store = new LocalFolderStore(_root);
        _catalog = new ArtifactCatalog(_store);
    }

    public void Dispose()
    {
        _store.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private static readonly ManifestCode Code = new("abc123", "0123456789abcdef", false);
    private static readonly ManifestEnvironment Env = CodeVersion.Environment("1.13.1", 2, "cpu");

    private static async Task<ArtifactManifest> CommitAsync(ArtifactWriter writer, string config = """{"k":1}""") =>
        await writer.CommitAsync("run-1", 1, [], [], JsonNode.Parse(config)!.AsObject(), Code, Env,
            new Dictionary<string, double> { ["loss"] = 0.5 });

    [Fact]
    public async Task Parts_are_invisible_until_the_manifest_is_committed()
    {
        var writer = new ArtifactWriter(_store, "ingest", "ingest-0001");
        await writer.WritePartAsync("part-00000.parquet", new MemoryStream(Encoding.UTF8.GetBytes("hello")), rows: 1);
        Assert.Null(await _catalog.TryGetAsync("ingest", "ingest-0001"));
        Assert.Empty(await _catalog.ListCommittedAsync("ingest"));

        var manifest = await CommitAsync(writer);
        var committed = await _catalog.TryGetAsync("ingest", "ingest-0001");
        Assert.NotNull(committed);
        Assert.Equal(manifest.Outputs, committed!.Manifest.Outputs);
        var part = Assert.Single(committed.Manifest.Outputs);
        Assert.Equal(5, part.Bytes);
        Assert.Equal(Hashing.Sha256Hex("hello"u8), part.Sha256);
        Assert.Equal(0.5, committed.Manifest.Metrics["loss"]);
        Assert.Equal("ingest-0001", (await _catalog.LatestAsync("ingest"))!.Manifest.ArtifactId);
    }

    [Fact]
    public async Task A_committed_artifact_is_immutable()
    {
        var writer = new ArtifactWriter(_store, "ingest", "ingest-0002");
        await writer.WritePartAsync("a.bin", new MemoryStream([1, 2, 3]));
        await CommitAsync(writer);
        var again = new ArtifactWriter(_store, "ingest", "ingest-0002");
        await Assert.ThrowsAsync<ArtifactAlreadyCommittedException>(() => CommitAsync(again, """{"k":2}"""));
        Assert.Equal(1, (await _catalog.TryGetAsync("ingest", "ingest-0002"))!.Manifest.Config["k"]!.GetValue<int>());
    }

    [Fact]
    public async Task Verify_names_a_corrupted_or_missing_part()
    {
        var writer = new ArtifactWriter(_store, "tokenize", "tokenize-0001");
        await writer.WritePartAsync("good.bin", new MemoryStream([1, 2, 3]));
        await writer.WritePartAsync("bad.bin", new MemoryStream([4, 5, 6]));
        await writer.WritePartAsync("gone.bin", new MemoryStream([7]));
        var manifest = await CommitAsync(writer);
        Assert.Empty(await _catalog.VerifyAsync(manifest));

        await _store.WriteBytesAsync("artifacts/tokenize/tokenize-0001/bad.bin", new byte[] { 4, 5, 7 });
        await _store.DeleteAsync("artifacts/tokenize/tokenize-0001/gone.bin");
        var problems = await _catalog.VerifyAsync(manifest);
        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("artifacts/tokenize/tokenize-0001/bad.bin:") && p.Contains("expected 3 bytes"));
        Assert.Contains(problems, p => p.StartsWith("artifacts/tokenize/tokenize-0001/gone.bin:") && p.Contains("missing"));
    }

    [Fact]
    public async Task A_truncated_or_foreign_manifest_means_not_committed()
    {
        var writer = new ArtifactWriter(_store, "ingest", "ingest-0003");
        var manifest = await CommitAsync(writer);
        var bytes = manifest.ToJsonBytes();
        await _store.DeleteAsync(StorePaths.Manifest("ingest", "ingest-0003"));
        await _store.WriteBytesAsync(StorePaths.Manifest("ingest", "ingest-0003"), bytes.AsMemory(0, bytes.Length / 2));
        Assert.Null(await _catalog.TryGetAsync("ingest", "ingest-0003"));

        // A manifest copied under another id does not commit that id.
        await _store.WriteBytesAsync(StorePaths.Manifest("ingest", "ingest-0004"), bytes);
        Assert.Null(await _catalog.TryGetAsync("ingest", "ingest-0004"));
    }

    [Fact]
    public async Task Resolve_explains_what_is_missing()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => _catalog.ResolveAsync("ingest", "latest"));
        Assert.Contains("no committed artifact of stage 'ingest'", e.Message);
        e = await Assert.ThrowsAsync<ArgumentException>(() => _catalog.ResolveAsync("ingest", "ingest-ffff"));
        Assert.Contains("ingest-ffff", e.Message);
    }

    [Fact]
    public async Task Gc_removes_only_old_uncommitted_prefixes()
    {
        var committed = new ArtifactWriter(_store, "ingest", "ingest-c");
        await committed.WritePartAsync("p.bin", new MemoryStream([1]));
        await CommitAsync(committed);
        var orphan = new ArtifactWriter(_store, "ingest", "ingest-orphan");
        await orphan.WritePartAsync("p.bin", new MemoryStream([1]));
        await orphan.WritePartAsync("q.bin", new MemoryStream([2]));

        var young = await _catalog.CollectGarbageAsync(TimeSpan.FromHours(1), dryRun: false);
        Assert.Empty(young.RemovedPrefixes);
        Assert.Equal(["artifacts/ingest/ingest-orphan/"], young.KeptYoungPrefixes);

        var dry = await _catalog.CollectGarbageAsync(TimeSpan.Zero, dryRun: true);
        Assert.Equal(["artifacts/ingest/ingest-orphan/"], dry.RemovedPrefixes);
        Assert.True(await _store.ExistsAsync("artifacts/ingest/ingest-orphan/p.bin"));

        var report = await _catalog.CollectGarbageAsync(TimeSpan.Zero, dryRun: false);
        Assert.Equal(2, report.RemovedBlobs);
        Assert.False(await _store.ExistsAsync("artifacts/ingest/ingest-orphan/p.bin"));
        Assert.NotNull(await _catalog.TryGetAsync("ingest", "ingest-c"));
    }
}

public class LineageTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lineage-tests").FullName;
    private readonly LocalFolderStore _store;

    public LineageTests() => _store = new LocalFolderStore(_root);

    public void Dispose()
    {
        _store.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private static void AssertFacetsCarryProducerAndSchema(JsonObject? facets)
    {
        if (facets == null) return;
        foreach (var (name, facet) in facets)
        {
            Assert.False(string.IsNullOrEmpty(facet!["_producer"]?.GetValue<string>()), $"facet {name} lacks _producer");
            Assert.StartsWith("https://openlineage.io/spec/facets/", facet["_schemaURL"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task Events_carry_the_required_openlineage_fields()
    {
        var recorder = new LineageRecorder(_store, "tokenize");
        var code = new ManifestCodeInfo("abc", "0123abcd");
        var parent = new LineageParent(LineageRecorder.NewRunId(), "nightly");
        var inputs = new[] { new LineageDataset("artifacts/ingest/ingest-1/", "sha256:aa") };
        await recorder.StartAsync(inputs, code, parent, new Dictionary<string, string> { ["Steps"] = "10" });
        await recorder.CompleteAsync(inputs, [new LineageDataset("artifacts/tokenize/t-1/", "sha256:bb", Rows: 7, Bytes: 99, Files: 1)], code, parent);

        var blobs = new List<BlobItem>();
        await foreach (var b in _store.ListAllAsync("lineage/events/")) blobs.Add(b);
        Assert.Equal(2, blobs.Count);
        var events = new List<JsonObject>();
        foreach (var b in blobs.OrderBy(b => b.Path))
            events.Add(JsonNode.Parse(await _store.ReadAllBytesAsync(b.Path))!.AsObject());

        Assert.Equal(["START", "COMPLETE"], events.Select(e => e["eventType"]!.GetValue<string>()));
        foreach (var e in events)
        {
            Assert.True(DateTimeOffset.TryParse(e["eventTime"]!.GetValue<string>(), out _));
            Assert.StartsWith("https://", e["producer"]!.GetValue<string>());
            Assert.EndsWith("#/$defs/RunEvent", e["schemaURL"]!.GetValue<string>());
            var runId = Guid.Parse(e["run"]!["runId"]!.GetValue<string>());
            Assert.Equal(7, runId.Version); // UUIDv7
            Assert.Equal(recorder.RunId, runId.ToString());
            Assert.Equal("dreamer", e["job"]!["namespace"]!.GetValue<string>());
            Assert.Equal("tokenize", e["job"]!["name"]!.GetValue<string>());
            Assert.Equal(parent.RunId, e["run"]!["facets"]!["parent"]!["run"]!["runId"]!.GetValue<string>());
            AssertFacetsCarryProducerAndSchema(e["run"]!["facets"]!.AsObject());
            AssertFacetsCarryProducerAndSchema(e["job"]!["facets"]!.AsObject());
            Assert.Equal("sha256:aa", e["inputs"]![0]!["facets"]!["version"]!["datasetVersion"]!.GetValue<string>());
            Assert.Equal(_store.DisplayUri, e["inputs"]![0]!["namespace"]!.GetValue<string>());
        }
        var output = events[1]["outputs"]![0]!;
        Assert.Equal(7, output["outputFacets"]!["outputStatistics"]!["rowCount"]!.GetValue<long>());
        Assert.Equal("0123abcd", events[0]["job"]!["facets"]!["sourceCodeLocation"]!["version"]!.GetValue<string>());
    }

    [Fact]
    public async Task Failure_events_carry_the_error_message()
    {
        var recorder = new LineageRecorder(_store, "ingest");
        var ev = await recorder.FailAsync([], new ManifestCodeInfo("abc", null), null, new InvalidDataException("bad frame in x.mp4"));
        Assert.Equal("FAIL", ev["eventType"]!.GetValue<string>());
        Assert.Equal("bad frame in x.mp4", ev["run"]!["facets"]!["errorMessage"]!["message"]!.GetValue<string>());
        Assert.Null(ev["job"]!["facets"]!["sourceCodeLocation"]);
    }
}

public class CheckpointStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("checkpoint-tests").FullName;
    private readonly LocalFolderStore _store;

    public CheckpointStoreTests() => _store = new LocalFolderStore(_root);

    public void Dispose()
    {
        _store.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private static CheckpointState State(long step) =>
        new(step, "cfg-1", new JsonObject { ["seed"] = 7 }, new JsonObject { ["batch"] = step * 10 });

    private static Dictionary<string, Stream> Files(long step) => new()
    {
        ["model.safetensors"] = new MemoryStream(BitConverter.GetBytes(step)),
        ["optimizer.safetensors"] = new MemoryStream(BitConverter.GetBytes(-step)),
    };

    [Fact]
    public async Task A_fresh_run_has_no_checkpoint()
    {
        Assert.Null(await new CheckpointStore(_store, "tokenize", "tokenize-1").LoadLatestAsync());
    }

    [Fact]
    public async Task Latest_follows_saves_and_only_the_last_n_are_kept()
    {
        var checkpoints = new CheckpointStore(_store, "tokenize", "tokenize-1", keepLast: 2);
        foreach (var step in new long[] { 10, 20, 30, 40 }) await checkpoints.SaveAsync(State(step), Files(step));

        var latest = await checkpoints.LoadLatestAsync();
        Assert.Equal(40, latest!.Step);
        Assert.Equal(400, latest.State.DataCursor["batch"]!.GetValue<long>());
        Assert.Equal("cfg-1", latest.State.ConfigHash);
        Assert.Equal(["model.safetensors", "optimizer.safetensors"], latest.Files);
        Assert.Equal(40, BitConverter.ToInt64(await latest.ReadFileAsync("model.safetensors")));
        Assert.Equal([30L, 40L], await checkpoints.ListStepsAsync());
    }

    [Fact]
    public async Task A_step_written_without_moving_latest_is_ignored()
    {
        var checkpoints = new CheckpointStore(_store, "tokenize", "tokenize-2");
        await checkpoints.SaveAsync(State(5), Files(5));
        // A crash after the files of step 6 but before LATEST moved.
        await _store.WriteBytesAsync(StorePaths.CheckpointStep("tokenize", "tokenize-2", 6) + "model.safetensors", new byte[] { 1 });
        Assert.Equal(5, (await checkpoints.LoadLatestAsync())!.Step);
    }

    [Fact]
    public async Task A_concurrent_writer_moving_latest_is_detected()
    {
        var checkpoints = new CheckpointStore(_store, "tokenize", "tokenize-3");
        await checkpoints.SaveAsync(State(1), Files(1));
        var latest = StorePaths.CheckpointLatest("tokenize", "tokenize-3");
        var before = await _store.GetPropertiesAsync(latest);
        await _store.WriteBytesAsync(latest, "1"u8.ToArray(), BlobWriteOptions.IfMatch(before!.ETag));
        await Assert.ThrowsAsync<BlobConditionFailedException>(() =>
            _store.WriteBytesAsync(latest, "2"u8.ToArray(), BlobWriteOptions.IfMatch(before.ETag)));
    }

    [Fact]
    public async Task A_corrupt_latest_pointer_is_reported_with_its_path()
    {
        var checkpoints = new CheckpointStore(_store, "tokenize", "tokenize-4");
        await _store.WriteBytesAsync(StorePaths.CheckpointLatest("tokenize", "tokenize-4"), "garbage"u8.ToArray());
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => checkpoints.LoadLatestAsync());
        Assert.Contains("checkpoints/tokenize/tokenize-4/LATEST", e.Message);
    }
}
