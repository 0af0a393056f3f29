using System.Text.Json.Nodes;
using Dreamer.Artifacts;
using Dreamer.Hosting;
using Dreamer.Schemas;
using Dreamer.Storage;

namespace Dreamer.Hosting.Tests;

public class StagePlannerTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("planner-tests").FullName;
    private readonly LocalFolderStore _store;

    public StagePlannerTests() => _store = new LocalFolderStore(_root);

    public void Dispose()
    {
        _store.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private static JsonObject Config(int steps) => new() { ["Tokenizer"] = new JsonObject { ["Steps"] = steps } };

    private async Task CommitAsync(string id, JsonObject config, string code, string input)
    {
        var writer = new ArtifactWriter(_store, "tokenize", id);
        await writer.CommitAsync("run", 1, [new ManifestInput("frames", "ingest", input, "sha")], [], config,
            new ManifestCode(code, null, null), CodeVersion.Environment(null, 1, null), new Dictionary<string, double>());
    }

    [Fact]
    public async Task A_stage_with_no_artifact_runs()
    {
        var decision = await StagePlanner.DecideAsync(_store, "tokenize", new StagePlan("tokenize-1", Config(1), new Dictionary<string, string>()), "c1");
        Assert.False(decision.Committed);
        Assert.Equal(["no artifact of this stage yet"], decision.Reasons);
        Assert.Equal("run", decision.ToJson()["action"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_committed_plan_is_reused()
    {
        await CommitAsync("tokenize-1", Config(1), "c1", "ingest-a");
        var decision = await StagePlanner.DecideAsync(_store, "tokenize", new StagePlan("tokenize-1", Config(1),
            new Dictionary<string, string> { ["frames"] = "ingest-a" }), "c1");
        Assert.True(decision.Committed);
        Assert.Equal("reuse", decision.ToJson()["action"]!.GetValue<string>());
    }

    [Fact]
    public async Task Reasons_name_the_changed_input_config_value_and_code()
    {
        await CommitAsync("tokenize-1", Config(1), "c1", "ingest-a");
        var decision = await StagePlanner.DecideAsync(_store, "tokenize", new StagePlan("tokenize-2", Config(2),
            new Dictionary<string, string> { ["frames"] = "ingest-b" }), "c2");
        Assert.False(decision.Committed);
        Assert.Equal("tokenize-1", decision.PreviousArtifactId);
        Assert.Equal([
            "new input frames: ingest-a -> ingest-b",
            "changed config Tokenizer:Steps: 1 -> 2",
            "changed code: c1 -> c2",
        ], decision.Reasons);
    }

    [Fact]
    public void Config_diff_reports_added_removed_and_changed_keys()
    {
        var before = JsonNode.Parse("""{"a":1,"b":{"c":"x","d":[1,2]}}""")!.AsObject();
        var after = JsonNode.Parse("""{"a":1,"b":{"c":"y","d":[1,3]},"e":true}""")!.AsObject();
        Assert.Equal(["b:c: \"x\" -> \"y\"", "b:d:1: 2 -> 3", "e: (unset) -> true"],
            ConfigDiff.Compare(before, after).Select(c => c.ToString()));
    }

    [Fact]
    public void Sources_digest_ignores_listing_order()
    {
        var a = new ManifestSource("raw/d/a.mp4", 1, "aa");
        var b = new ManifestSource("raw/d/b.mp4", 2, "bb");
        Assert.Equal(ArtifactIds.SourcesDigest([a, b]), ArtifactIds.SourcesDigest([b, a]));
        Assert.NotEqual(ArtifactIds.SourcesDigest([a, b]), ArtifactIds.SourcesDigest([a, b with { Sha256 = "bc" }]));
    }
}
