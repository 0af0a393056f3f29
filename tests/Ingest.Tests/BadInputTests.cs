using Dreamer.Artifacts;
using Dreamer.Hosting;

namespace Dreamer.Ingest.Tests;

[Collection(TinyCollection.Name)]
public sealed class BadInputTests(TinyDataset tiny) : IDisposable
{
    const string Bad = "bad";
    readonly TempStore _store = new();

    public void Dispose() => _store.Dispose();

    string RawFile(string name) => Path.Combine(_store.Root, "raw", Bad, name);

    /// <summary>The tiny dataset plus one of every kind of bad source.</summary>
    void WriteCorpus()
    {
        _store.CopyRaw(tiny.Store.Root, TinyDataset.Name, Bad);
        var good = File.ReadAllBytes(RawFile("episode-000001.mp4"));
        var goodLog = File.ReadAllLines(RawFile("episode-000000.jsonl"));
        File.WriteAllBytes(RawFile("empty.mp4"), []);
        File.WriteAllBytes(RawFile("truncated.mp4"), good[..(good.Length * 6 / 10)]);
        File.WriteAllText(RawFile("notavideo.mp4"), "this is a text file, not a video\n");
        File.Copy(RawFile("episode-000000.mp4"), RawFile("toolong.mp4"));
        File.WriteAllLines(RawFile("toolong.jsonl"), goodLog.Select(l => l.Replace("\"done\":true", "\"done\":false")).Concat(Enumerable.Range(goodLog.Length, 3)
            .Select(t => $"{{\"t\":{t},\"action\":0,\"reward\":0,\"done\":false}}")));
        File.Copy(RawFile("episode-000000.mp4"), RawFile("badaction.mp4"));
        File.WriteAllLines(RawFile("badaction.jsonl"), goodLog.Select((l, t) => t == 5 ? "{\"t\":5,\"action\":17,\"reward\":0,\"done\":false}" : l));
        File.Copy(RawFile("episode-000000.mp4"), RawFile("repeated_t.mp4"));
        File.WriteAllLines(RawFile("repeated_t.jsonl"), goodLog.Select((l, t) => t == 3 ? l.Replace("\"t\":3", "\"t\":2") : l));
        File.WriteAllText(RawFile("orphan.jsonl"), "{\"t\":0,\"action\":0,\"reward\":0,\"done\":true}\n");
        // Good, though not as collect writes it: a log covering every frame, with extra fields.
        File.Copy(RawFile("episode-000000.mp4"), RawFile("everyframe.mp4"));
        File.WriteAllLines(RawFile("everyframe.jsonl"), goodLog.Select(l => l.Replace("\"done\":true", "\"done\":false").Replace("}", ",\"player\":\"x\"}"))
            .Append($"{{\"t\":{goodLog.Length},\"action\":4,\"reward\":0.5,\"done\":true,\"note\":{{\"a\":[1]}}}}"));
    }

    [Fact]
    public async Task Every_bad_source_is_rejected_with_its_reason_and_the_rest_ingested()
    {
        WriteCorpus();
        var result = await Stages.IngestAsync("--store", _store.Root, "--input", "raw/" + Bad);
        using var store = _store.Open();
        var manifest = (await new ArtifactCatalog(store).ResolveAsync("ingest", result.ArtifactId)).Manifest;
        var rejected = manifest.Rejected!.ToDictionary(r => r.Uri[(r.Uri.LastIndexOf('/') + 1)..], r => r.Reason);

        Assert.Equal(["badaction.mp4", "empty.mp4", "notavideo.mp4", "orphan.jsonl", "repeated_t.mp4", "toolong.mp4", "truncated.mp4"],
            rejected.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("empty file", rejected["empty.mp4"]);
        Assert.Contains("truncated or corrupt", rejected["truncated.mp4"]);
        Assert.StartsWith("not a decodable video: ", rejected["notavideo.mp4"]);
        Assert.Contains("Invalid data found", rejected["notavideo.mp4"]);
        Assert.Matches(@"toolong\.jsonl has \d+ lines for \d+ frames", rejected["toolong.mp4"]);
        Assert.Contains("badaction.jsonl: line 6: field 'action': expected a class index in [0, 17), found 17", rejected["badaction.mp4"]);
        Assert.Contains("expected strictly increasing t, found t=2 after t=2", rejected["repeated_t.mp4"]);
        Assert.Contains("log without a video", rejected["orphan.jsonl"]);

        // The good episodes are all there, and nothing of the bad ones.
        var rows = await Frames.ReadAsync(_store, manifest);
        Assert.Equal(["episode-000000", "episode-000001", "episode-000002", "episode-000003", "everyframe"],
            rows.Select(r => r.EpisodeId).Distinct().Order(StringComparer.Ordinal));
        Assert.Equal(5, manifest.Outputs.Count);
        // A log line for the last frame too: the last row has that action, reward and done.
        var every = rows.Where(r => r.EpisodeId == "everyframe").OrderBy(r => r.FrameIndex).ToList();
        var same = rows.Where(r => r.EpisodeId == "episode-000000").OrderBy(r => r.FrameIndex).ToList();
        Assert.Equal(same.Count, every.Count);
        Assert.Equal(same.SkipLast(1).Select(r => (r.Action, r.Reward)), every.SkipLast(1).Select(r => (r.Action, r.Reward)));
        Assert.Equal((4, 0.5f, true), (every[^1].Action, every[^1].Reward, every[^1].Done));
        Assert.Equal((null, null, true), (same[^1].Action, same[^1].Reward, same[^1].Done));
        Assert.All(every.SkipLast(1), r => Assert.False(r.Done));
        Assert.Equal(rejected.Count, manifest.Metrics["rejected"]);
        Assert.Empty(await new ArtifactCatalog(store).VerifyAsync(manifest));
    }

    [Fact]
    public async Task Strict_mode_fails_with_exit_code_2_naming_the_file()
    {
        WriteCorpus();
        var (code, stdout, stderr) = await Stages.RunIngestProcessAsync("--store", _store.Root, "--input", "raw/" + Bad, "--set", "Ingest:Strict=true");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("raw/bad/empty.mp4", stderr);
        Assert.DoesNotContain("ingest-", stdout);
        Assert.False(Directory.Exists(Path.Combine(_store.Root, "artifacts", "ingest")) &&
                     Directory.EnumerateFiles(Path.Combine(_store.Root, "artifacts", "ingest"), "_manifest.json", SearchOption.AllDirectories).Any());
    }

    [Fact]
    public async Task Strict_mode_stops_at_a_video_that_only_decoding_finds_bad()
    {
        _store.CopyRaw(tiny.Store.Root, TinyDataset.Name, Bad);
        var good = File.ReadAllBytes(RawFile("episode-000001.mp4"));
        File.WriteAllBytes(RawFile("episode-000001.mp4"), good[..(good.Length / 2)]);
        var error = await Assert.ThrowsAsync<StageInputException>(() =>
            Stages.IngestAsync("--store", _store.Root, "--input", "raw/" + Bad, "--set", "Ingest:Strict=true"));
        Assert.StartsWith("raw/bad/episode-000001.mp4: decoding failed after", error.Message);
        var events = Directory.GetFiles(Path.Combine(_store.Root, "lineage", "events"), "*.json", SearchOption.AllDirectories)
            .Select(f => System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(f))!["eventType"]!.GetValue<string>()).Order().ToList();
        Assert.Equal(["FAIL", "START"], events);
        Assert.Equal(ExitCodes.BadInput,
            await Stages.IngestExitCodeAsync("--store", _store.Root, "--input", "raw/" + Bad, "--set", "Ingest:Strict=true"));

        // A lenient run commits without the file; a strict run must still refuse rather than reuse that artifact.
        var lenient = await Stages.IngestAsync("--store", _store.Root, "--input", "raw/" + Bad);
        Assert.Equal(1, lenient.Metrics!["rejected"]);
        error = await Assert.ThrowsAsync<StageInputException>(() =>
            Stages.IngestAsync("--store", _store.Root, "--input", "raw/" + Bad, "--set", "Ingest:Strict=true"));
        Assert.StartsWith("raw/bad/episode-000001.mp4: decoding failed after", error.Message);
        Assert.Contains($"the committed artifact {lenient.ArtifactId} left it out", error.Message);
    }

    [Theory]
    [InlineData("Ingest:Bogus=1")]
    [InlineData("Ingest:RowGroupFrames=100")]
    [InlineData("Ingest:Resize=zoom")]
    [InlineData("Ingest:ValidationFraction=2")]
    public async Task Configuration_errors_exit_2(string set)
    {
        _store.CopyRaw(tiny.Store.Root, TinyDataset.Name, TinyDataset.Name);
        Assert.Equal(ExitCodes.BadInput, await Stages.IngestExitCodeAsync("--store", _store.Root, "--input", "raw/" + TinyDataset.Name, "--set", set));
        Assert.False(Directory.Exists(Path.Combine(_store.Root, "artifacts")));
    }

    [Fact]
    public async Task A_missing_input_or_dataset_description_is_bad_input()
    {
        Assert.Equal(ExitCodes.BadInput, await Stages.IngestExitCodeAsync("--store", _store.Root));
        Assert.Equal(ExitCodes.BadInput, await Stages.IngestExitCodeAsync("--store", _store.Root, "--input", "raw/nothing-here"));
        _store.CopyRaw(tiny.Store.Root, TinyDataset.Name, Bad);
        File.Delete(RawFile("dataset.json"));
        var error = await Assert.ThrowsAsync<StageInputException>(() => Stages.IngestAsync("--store", _store.Root, "--input", "raw/" + Bad));
        Assert.StartsWith("raw/bad/dataset.json: missing", error.Message);
        File.WriteAllText(RawFile("dataset.json"), "{\"fps\": 15, \"width\": 64, \"height\": 0, \"actionSpace\": {\"components\": []}}");
        error = await Assert.ThrowsAsync<StageInputException>(() => Stages.IngestAsync("--store", _store.Root, "--input", "raw/" + Bad));
        Assert.Equal("raw/bad/dataset.json: field 'height': expected an integer in [1, 16384]", error.Message);
        foreach (var video in Directory.GetFiles(Path.Combine(_store.Root, "raw", Bad))) if (!video.EndsWith(".json")) File.Delete(video);
        File.WriteAllText(RawFile("dataset.json"), "{\"fps\": 15, \"width\": 64, \"height\": 64, \"actionSpace\": {\"components\": []}}");
        error = await Assert.ThrowsAsync<StageInputException>(() => Stages.IngestAsync("--store", _store.Root, "--input", "raw/" + Bad));
        Assert.StartsWith("--input raw/bad: no videos beside dataset.json", error.Message);
    }
}
