using System.Diagnostics;
using Dreamer.Artifacts;
using Dreamer.Hosting;
using Dreamer.Schemas;

namespace Dreamer.Ingest.Tests;

[Collection(TinyCollection.Name)]
public sealed class IdentityAndResumeTests(TinyDataset tiny) : IDisposable
{
    readonly TempStore _store = new();
    readonly TempStore _other = new();
    static readonly string Input = "raw/" + TinyDataset.Name;

    public void Dispose()
    {
        _store.Dispose();
        _other.Dispose();
    }

    string[] Args(TempStore store, params string[] more) => ["--store", store.Root, "--input", Input, .. more];

    string ArtifactFolder(TempStore store, string id) => store.PathOf(StorePaths.ArtifactPrefix("ingest", id).TrimEnd('/'));

    [Fact]
    public async Task Same_sources_give_the_same_id_and_a_rerun_is_reused()
    {
        _store.CopyRaw(tiny.Store.Root, TinyDataset.Name, TinyDataset.Name);
        _other.CopyRaw(tiny.Store.Root, TinyDataset.Name, TinyDataset.Name);
        var first = await Stages.IngestAsync(Args(_store));
        Assert.False(first.Reused);
        var manifestTime = File.GetLastWriteTimeUtc(Path.Combine(ArtifactFolder(_store, first.ArtifactId), "_manifest.json"));

        var again = await Stages.IngestAsync(Args(_store));
        Assert.Equal(first.ArtifactId, again.ArtifactId);
        Assert.True(again.Reused);
        Assert.Equal(first.Metrics, again.Metrics);
        Assert.Equal(manifestTime, File.GetLastWriteTimeUtc(Path.Combine(ArtifactFolder(_store, first.ArtifactId), "_manifest.json")));

        // The same files in another store, or ingested with other execution settings, are the same artifact.
        Assert.Equal(first.ArtifactId, (await Stages.IngestAsync(Args(_other, "--set", "Ingest:Decoders=1", "--set", "Ingest:LeaseSeconds=20"))).ArtifactId);
        // Settings that change the output, a salt, or a changed source make another artifact.
        Assert.NotEqual(first.ArtifactId, (await Stages.IngestAsync(Args(_store, "--set", "Ingest:ValidationFraction=0.5"))).ArtifactId);
        Assert.NotEqual(first.ArtifactId, (await Stages.IngestAsync(Args(_store, "--salt", "attempt-2"))).ArtifactId);
        await File.AppendAllTextAsync(_store.PathOf(Input + "/episode-000000.jsonl"), "\n");
        Assert.NotEqual(first.ArtifactId, (await Stages.IngestAsync(Args(_store))).ArtifactId);
    }

    [Fact]
    public async Task Plan_only_reports_run_or_reuse_without_ingesting()
    {
        _store.CopyRaw(tiny.Store.Root, TinyDataset.Name, TinyDataset.Name);
        var (code, stdout, _) = await Stages.RunIngestProcessAsync(Args(_store, "--plan"));
        Assert.Equal(0, code);
        var decision = System.Text.Json.Nodes.JsonNode.Parse(stdout)!;
        Assert.Equal("run", decision["action"]!.GetValue<string>());
        Assert.False(Directory.Exists(Path.Combine(_store.Root, "artifacts")));

        var result = await Stages.IngestAsync(Args(_store));
        Assert.Equal(result.ArtifactId, decision["artifactId"]!.GetValue<string>());
        (code, stdout, _) = await Stages.RunIngestProcessAsync(Args(_store, "--plan"));
        Assert.Equal(0, code);
        Assert.Equal("reuse", System.Text.Json.Nodes.JsonNode.Parse(stdout)!["action"]!.GetValue<string>());
        (code, stdout, _) = await Stages.RunIngestProcessAsync(Args(_store));
        Assert.Equal((0, result.ArtifactId), (code, stdout.Trim()));
    }

    /// <summary>
    /// Kills a real ingest process once its first part is in the store, reruns, and expects a complete,
    /// verified artifact with exactly the rows of an uninterrupted run; the killed process's local scratch
    /// folder is left behind and removed by the next run's scratch folder.
    /// </summary>
    [Fact]
    public async Task A_killed_ingest_resumes_to_a_complete_verified_artifact()
    {
        await Stages.CollectAsync("--store", _store.Root, "--seed", "3", "--set", "Collect:Preset=tiny", "--set", "Collect:Dataset=longer",
            "--set", "Collect:Episodes=8", "--set", "Collect:MaxSteps=150", "--set", "Collect:Players:contractor=1");
        _other.CopyRaw(_store.Root, "longer", "longer");
        string[] args = ["--input", "raw/longer", "--set", "Ingest:Decoders=1", "--set", "Ingest:BatchFrames=16",
            "--set", "Ingest:RowGroupFrames=32", "--set", "Ingest:LeaseSeconds=15"];
        var reference = await Stages.IngestAsync(["--store", _other.Root, .. args]);

        var scratchParent = Directory.CreateTempSubdirectory("ingest-scratch-").FullName;
        var scratchRoot = Path.Combine(scratchParent, "dreamer-scratch");
        using (var child = Stages.StartIngestProcess(["--store", _store.Root, .. args], scratchParent))
        {
            _ = child.StandardOutput.ReadToEndAsync();
            _ = child.StandardError.ReadToEndAsync();
            var folder = ArtifactFolder(_store, reference.ArtifactId);
            var clock = Stopwatch.StartNew();
            while (!(Directory.Exists(folder) && Directory.EnumerateFiles(folder, "part-*.parquet").Any()))
            {
                Assert.False(child.HasExited, "ingest finished or failed before its first part appeared");
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "no part appeared within 60 s");
                await Task.Delay(10);
            }
            child.Kill();
            await child.WaitForExitAsync();
            Assert.False(File.Exists(Path.Combine(folder, "_manifest.json")), "the kill came too late: the artifact was already committed");
        }
        var left = Assert.Single(Directory.GetDirectories(scratchRoot));
        Assert.StartsWith("ingest-", Path.GetFileName(left));
        using (var next = ScratchDirectory.Create("ingest", scratchRoot))
            Assert.Equal([next.Path], Directory.GetDirectories(scratchRoot));
        Directory.Delete(scratchParent, recursive: true);

        var resumed = await Stages.IngestAsync(["--store", _store.Root, .. args]);
        Assert.Equal(reference.ArtifactId, resumed.ArtifactId);
        Assert.False(resumed.Reused);
        using var store = _store.Open();
        var manifest = (await new ArtifactCatalog(store).ResolveAsync("ingest", resumed.ArtifactId)).Manifest;
        Assert.Empty(await new ArtifactCatalog(store).VerifyAsync(manifest));
        using var otherStore = _other.Open();
        var expected = (await new ArtifactCatalog(otherStore).ResolveAsync("ingest", reference.ArtifactId)).Manifest;
        // Parts are deterministic: the resumed artifact is byte for byte the uninterrupted one.
        Assert.Equal(expected.Outputs, manifest.Outputs);
        Assert.Equal(8, manifest.Outputs.Count);
    }

    [Fact]
    public async Task Complete_parts_of_an_earlier_run_are_kept_and_broken_ones_redone()
    {
        _store.CopyRaw(tiny.Store.Root, TinyDataset.Name, TinyDataset.Name);
        var first = await Stages.IngestAsync(Args(_store));
        var folder = ArtifactFolder(_store, first.ArtifactId);
        using var store = _store.Open();
        var manifest = (await new ArtifactCatalog(store).ResolveAsync("ingest", first.ArtifactId)).Manifest;

        // As if killed: no manifest; one part uploaded but its record not yet written; one part truncated.
        File.Delete(Path.Combine(folder, "_manifest.json"));
        var kept = Path.Combine(folder, manifest.Outputs[0].Path);
        var broken = Path.Combine(folder, manifest.Outputs[1].Path);
        File.Delete(Path.Combine(folder, "_work", manifest.Outputs[0].Path["part-".Length..^".parquet".Length] + ".json"));
        var bytes = File.ReadAllBytes(broken);
        File.WriteAllBytes(broken, bytes[..(bytes.Length / 2)]);
        var keptTime = File.GetLastWriteTimeUtc(kept);
        var brokenTime = File.GetLastWriteTimeUtc(broken);
        await Task.Delay(20);

        var resumed = await Stages.IngestAsync(Args(_store));
        Assert.Equal(first.ArtifactId, resumed.ArtifactId);
        Assert.Equal(keptTime, File.GetLastWriteTimeUtc(kept));
        Assert.NotEqual(brokenTime, File.GetLastWriteTimeUtc(broken));
        var again = (await new ArtifactCatalog(store).ResolveAsync("ingest", first.ArtifactId)).Manifest;
        Assert.Equal(manifest.Outputs, again.Outputs);
        Assert.Empty(await new ArtifactCatalog(store).VerifyAsync(again));
    }

    [Fact]
    public async Task Two_shards_running_together_commit_one_artifact_equal_to_a_single_worker_run()
    {
        _store.CopyRaw(tiny.Store.Root, TinyDataset.Name, TinyDataset.Name);
        _other.CopyRaw(tiny.Store.Root, TinyDataset.Name, TinyDataset.Name);
        var single = await Stages.IngestAsync(Args(_other));

        var shards = await Task.WhenAll(
            Task.Run(() => Stages.IngestAsync(Args(_store, "--shard", "0/2", "--set", "Ingest:Decoders=1"))),
            Task.Run(() => Stages.IngestAsync(Args(_store, "--shard", "1/2", "--set", "Ingest:Decoders=1"))));
        Assert.All(shards, s => Assert.Equal(single.ArtifactId, s.ArtifactId));

        using var store = _store.Open();
        var committed = await new ArtifactCatalog(store).ListCommittedAsync("ingest");
        var manifest = Assert.Single(committed).Manifest;
        Assert.Empty(await new ArtifactCatalog(store).VerifyAsync(manifest));
        using var otherStore = _other.Open();
        var expected = (await new ArtifactCatalog(otherStore).ResolveAsync("ingest", single.ArtifactId)).Manifest;
        Assert.Equal(expected.Outputs, manifest.Outputs);
        var rows = await Frames.ReadAsync(_store, manifest);
        var expectedRows = await Frames.ReadAsync(_other, expected);
        Assert.Equal(expectedRows.Count, rows.Count);
        Assert.Equal(expectedRows.Select(Key), rows.Select(Key));
        // Both workers claimed videos through leases: each video has exactly one record.
        Assert.Equal(4, Directory.GetFiles(Path.Combine(ArtifactFolder(_store, single.ArtifactId), "_work")).Length);
    }

    static string Key(FrameRow r) => $"{r.EpisodeId}/{r.FrameIndex}/{r.Action}/{r.Reward}/{r.Done}/{r.Split}/{Hashing.Sha256Hex(r.Image)}";
}
