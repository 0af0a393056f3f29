using System.Text.Json.Nodes;
using Dreamer.Artifacts;
using Dreamer.Game;
using Dreamer.Schemas;
using Dreamer.Stages.Collect;
using Xunit.Abstractions;

namespace Dreamer.Ingest.Tests;

[Collection(TinyCollection.Name)]
public sealed class RoundTripTests(TinyDataset tiny, ITestOutputHelper output) : IDisposable
{
    readonly TempStore _store = new();

    public void Dispose() => _store.Dispose();

    /// <summary>
    /// Replays every planned episode with the game and compares it to what came out of collect → ingest:
    /// frames within codec loss, actions and rewards exactly, on the right rows.
    /// </summary>
    [Fact]
    public async Task Collect_then_ingest_reproduces_the_games_frames_actions_and_rewards()
    {
        _store.CopyRaw(tiny.Store.Root, TinyDataset.Name, TinyDataset.Name);
        var result = await Stages.IngestAsync("--store", _store.Root, "--input", "raw/" + TinyDataset.Name);
        Assert.False(result.Reused);

        using var store = _store.Open();
        var artifact = await new ArtifactCatalog(store).ResolveAsync("ingest", result.ArtifactId);
        Assert.Empty(await new ArtifactCatalog(store).VerifyAsync(artifact.Manifest));
        Assert.Empty(artifact.Manifest.Rejected!);
        var rows = await Frames.ReadAsync(_store, artifact.Manifest);

        var plan = CollectPlan.Create(tiny.Settings, TinyDataset.Seed);
        Assert.Contains(plan, e => !e.Labeled);
        Assert.Contains(plan, e => e.Labeled);
        double worstPsnr = double.PositiveInfinity;
        foreach (var episode in plan)
        {
            var got = rows.Where(r => r.EpisodeId == episode.Name).OrderBy(r => r.FrameIndex).ToList();
            var (frames, actions, rewards) = Replay(episode);
            Assert.Equal(frames.Count, got.Count);
            Assert.Equal(Enumerable.Range(0, frames.Count), got.Select(r => r.FrameIndex));
            for (int t = 0; t < frames.Count; t++)
            {
                var row = got[t];
                worstPsnr = Math.Min(worstPsnr, Frames.Psnr(frames[t], row.Image));
                Assert.Equal($"raw/{TinyDataset.Name}/{episode.Name}.mp4", row.SourceFile);
                Assert.Equal(t, row.SourceOffset);
                Assert.Equal(t == frames.Count - 1, row.Done);
                Assert.Equal(FramesTable.SplitOf(episode.Name, 0.1), row.Split);
                if (episode.Labeled && t < actions.Count)
                {
                    // Row t carries the action taken after seeing frame t and the reward it earned.
                    Assert.Equal(actions[t], row.Action);
                    Assert.Equal(rewards[t], row.Reward);
                }
                else
                {
                    // Unlabeled videos, and the final observation of a labeled one, have no action.
                    Assert.Null(row.Action);
                    Assert.Null(row.Reward);
                }
            }
            if (episode.Labeled)
            {
                Assert.Equal(actions[0], got[0].Action);
                Assert.Null(got[^1].Action);
                Assert.Equal(actions[^1], got[^2].Action);
            }
        }
        output.WriteLine($"worst frame PSNR {worstPsnr:F1} dB over {rows.Count} frames");
        Assert.True(worstPsnr > 35, $"worst frame PSNR {worstPsnr:F1} dB, expected > 35 dB with yuv444p");

        var m = artifact.Manifest;
        Assert.Equal(rows.Count, m.Metrics["frames"]);
        Assert.Equal(plan.Count, m.Metrics["episodes"]);
        Assert.Equal(rows.Count(r => r.Action != null), m.Metrics["labeled_frames"]);
        // dataset.json, 4 videos and 3 logs, each with its content hash.
        Assert.Equal(1 + plan.Count + plan.Count(e => e.Labeled), m.Sources.Count);
        foreach (var source in m.Sources)
        {
            var file = _store.PathOf(source.Uri);
            Assert.Equal(Hashing.Sha256Hex(await File.ReadAllBytesAsync(file)), source.Sha256);
            Assert.Equal(new FileInfo(file).Length, source.Bytes);
        }
        var events = Directory.GetFiles(Path.Combine(_store.Root, "lineage", "events"), "*.json", SearchOption.AllDirectories)
            .Select(f => JsonNode.Parse(File.ReadAllText(f))!["eventType"]!.GetValue<string>()).Order().ToList();
        Assert.Equal(["COMPLETE", "START"], events);
    }

    [Fact]
    public async Task Parts_carry_the_tables_metadata()
    {
        _store.CopyRaw(tiny.Store.Root, TinyDataset.Name, TinyDataset.Name);
        var result = await Stages.IngestAsync("--store", _store.Root, "--input", "raw/" + TinyDataset.Name,
            "--set", "Ingest:Width=32", "--set", "Ingest:Height=48", "--set", "Ingest:BatchFrames=16", "--set", "Ingest:RowGroupFrames=32");
        using var store = _store.Open();
        var manifest = (await new ArtifactCatalog(store).ResolveAsync("ingest", result.ArtifactId)).Manifest;
        foreach (var part in manifest.Outputs)
        {
            var path = _store.PathOf(StorePaths.ArtifactPrefix("ingest", result.ArtifactId) + part.Path);
            using var reader = await Dreamer.Parquet.ParquetReader.OpenFileAsync(path);
            var layout = FramesLayout.FromMetadata(reader.KeyValueMetadata, path);
            Assert.Equal((32, 48, 15.0), (layout.Width, layout.Height, layout.Fps));
            Assert.Equal(result.ArtifactId, reader.KeyValueMetadata[FramesTable.Keys.ArtifactId]);
            var space = Assert.Single(layout.ActionSpace.Components);
            Assert.Equal(ActionSpace.Names, space.Classes);
            Assert.Equal(["episode_id", "frame_index", "image", "action_command", "reward", "done", "source_file", "source_offset", "split"],
                reader.Schema.Columns.Select(c => c.DottedPath));
            Assert.Equal(32 * 48 * 3, reader.Schema.Column("image").Field.TypeLength);
            // Row groups of RowGroupFrames frames, the last one shorter.
            Assert.All(reader.Metadata.RowGroups.SkipLast(1), g => Assert.Equal(32, g.NumRows));
            Assert.Equal(part.Rows, reader.RowCount);
        }
    }

    (List<byte[]> Frames, List<int> Actions, List<float> Rewards) Replay(EpisodePlan episode)
    {
        var run = new EpisodeRun(episode, tiny.Settings.Game(), tiny.Settings.ContractorEpsilon);
        var frames = new List<byte[]> { new byte[run.FrameBytes] };
        var actions = new List<int>();
        var rewards = new List<float>();
        run.Reset(frames[0]);
        while (true)
        {
            var frame = new byte[run.FrameBytes];
            var (action, result) = run.Step(frame);
            frames.Add(frame);
            actions.Add(action);
            rewards.Add(result.Reward);
            if (result.Done) break;
        }
        return (frames, actions, rewards);
    }
}
