using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Dreamer.Artifacts;
using Dreamer.Game;
using Dreamer.Hosting;
using Dreamer.Schemas;
using Dreamer.Storage;
using Microsoft.Extensions.Logging;

namespace Dreamer.Stages.Collect;

/// <summary>What one recorded episode turned out to be.</summary>
public sealed record EpisodeSummary(string Name, string Player, long WorldSeed, long PlayerSeed, bool Labeled,
    int Frames, double Return, IReadOnlyList<string> Achievements);

/// <summary>
/// `dreamer-collect`: plays the planned episodes in parallel and writes each as an H.264 .mp4 (ffmpeg
/// fed raw RGB frames on stdin) plus, for labeled episodes, a JSON-lines log, under raw/&lt;dataset&gt;/;
/// dataset.json goes last, so a dataset without it is incomplete. The result line is the raw prefix,
/// which is what ingest takes as --input.
/// </summary>
public static class CollectStage
{
    public const string StageName = "collect";
    /// <summary>Frames handed to ffmpeg per write.</summary>
    const int ChunkFrames = 32;

    public static string Prefix(string dataset) => $"raw/{dataset}/";

    public static async Task<StageResult> RunAsync(StageContext ctx)
    {
        if (ctx.Options.ShardCount > 1)
            throw new StageInputException("--shard: collect does not shard; run one collect per dataset (it already uses every core)");
        var settings = StageConfiguration.Load<CollectConfig>(ctx.Options.ConfigSources).Collect.Resolve();
        long seed = ctx.Options.Seed ?? 0;
        using var store = BlobStores.Open(ctx.Options.Store);
        var prefix = Prefix(settings.Dataset);
        var identity = new JsonObject { ["seed"] = seed, ["settings"] = settings.ContentJson() };

        if (await TryReuseAsync(store, prefix, identity, ctx.Cancellation).ConfigureAwait(false))
        {
            ctx.Log.LogInformation("{Prefix} already holds this collection (same seed and settings): nothing to do", prefix);
            return new StageResult(prefix.TrimEnd('/'), Reused: true);
        }

        var plan = CollectPlan.Create(settings, seed);
        var summaries = new EpisodeSummary[plan.Count];
        using (var scratch = ScratchDirectory.Create("collect"))
        {
            var temp = scratch.Path;
            int done = 0;
            long frames = 0;
            var gate = new object();
            await StageProgress.RunAsync($"collect {prefix}", plan.Count, async sink =>
            {
                await Parallel.ForEachAsync(plan, new ParallelOptions
                {
                    MaxDegreeOfParallelism = settings.EffectiveParallelism(),
                    CancellationToken = ctx.Cancellation,
                }, async (episode, ct) =>
                {
                    summaries[episode.Index] = await RecordAsync(store, prefix, episode, settings, temp, ct).ConfigureAwait(false);
                    lock (gate)
                    {
                        done++;
                        frames += summaries[episode.Index].Frames;
                        sink.Report(done, $"{frames:N0} frames");
                    }
                }).ConfigureAwait(false);
                return 0;
            }).ConfigureAwait(false);
        }

        var info = new RawDatasetInfo
        {
            Fps = settings.Fps,
            Width = settings.Width,
            Height = settings.Height,
            ActionSpace = ActionSpaceSpec.SingleCategorical(GameActionComponent, ActionSpace.Names),
            Producer = Producer(identity, summaries),
        };
        await store.WriteBytesAsync(prefix + RawDatasetInfo.FileName, info.ToJsonBytes(),
            new BlobWriteOptions { ContentType = "application/json" }, ctx.Cancellation).ConfigureAwait(false);

        var metrics = new Dictionary<string, double>
        {
            ["episodes"] = summaries.Length,
            ["labeled_episodes"] = summaries.Count(s => s.Labeled),
            ["frames"] = summaries.Sum(s => (double)s.Frames),
            ["mean_return"] = summaries.Average(s => s.Return),
        };
        ctx.Log.LogInformation("wrote {Episodes} episodes ({Frames} frames, {Labeled} labeled) to {Prefix}",
            summaries.Length, metrics["frames"], metrics["labeled_episodes"], prefix);
        return new StageResult(prefix.TrimEnd('/'), Reused: false, metrics);
    }

    /// <summary>The built-in game's action space: one categorical component with the game's action names.</summary>
    public const string GameActionComponent = "command";

    /// <summary>
    /// A dataset.json made by the same seed and content settings means the videos are already there
    /// (collection is deterministic); a different one is somebody else's dataset and is never overwritten.
    /// </summary>
    static async Task<bool> TryReuseAsync(IBlobStore store, string prefix, JsonObject identity, CancellationToken ct)
    {
        var path = prefix + RawDatasetInfo.FileName;
        byte[] bytes;
        try { bytes = await store.ReadAllBytesAsync(path, ct).ConfigureAwait(false); }
        catch (BlobNotFoundException) { return false; }
        JsonNode? existing = null;
        try { existing = RawDatasetInfo.Parse(bytes, path).Producer?["collect"]; }
        catch (RawFormatException) { }
        if (existing != null && CanonicalJson.Serialize(existing) == CanonicalJson.Serialize(identity)) return true;
        throw new StageInputException($"{path} already exists and was not made by this seed and these settings; " +
                                      "choose another Collect:Dataset or remove the old dataset");
    }

    static JsonObject Producer(JsonObject identity, IReadOnlyList<EpisodeSummary> summaries) => new()
    {
        ["name"] = "dreamer-collect",
        ["collect"] = identity.DeepClone(),
        ["episodes"] = new JsonArray(summaries.Select(s => (JsonNode)new JsonObject
        {
            ["name"] = s.Name,
            ["player"] = s.Player,
            ["worldSeed"] = s.WorldSeed,
            ["playerSeed"] = s.PlayerSeed,
            ["labeled"] = s.Labeled,
            ["frames"] = s.Frames,
            ["return"] = s.Return,
            ["achievements"] = new JsonArray(s.Achievements.Select(a => (JsonNode)JsonValue.Create(a)!).ToArray()),
        }).ToArray()),
    };

    /// <summary>Plays one episode into ffmpeg and the log, then uploads the video and the log.</summary>
    static async Task<EpisodeSummary> RecordAsync(IBlobStore store, string prefix, EpisodePlan episode, CollectSettings settings,
        string temp, CancellationToken ct)
    {
        var run = new EpisodeRun(episode, settings.Game(), settings.ContractorEpsilon);
        int frameBytes = run.FrameBytes;
        var buffer = new byte[ChunkFrames * frameBytes];
        var videoFile = Path.Combine(temp, episode.Name + ".mp4");
        var log = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        int frames = 0;
        double total = 0;
        await using (var encoder = VideoEncoder.Start(settings, videoFile))
        {
            run.Reset(buffer.AsSpan(0, frameBytes));
            int buffered = 1;
            frames = 1;
            for (int t = 0; ; t++)
            {
                var (action, result) = run.Step(buffer.AsSpan(buffered * frameBytes, frameBytes));
                buffered++;
                frames++;
                total += result.Reward;
                // Line t: the action taken after seeing frame t and the reward it earned.
                log.Append(inv, $"{{\"t\":{t},\"action\":{action},\"reward\":{result.Reward.ToString("R", inv)},\"done\":{(result.Done ? "true" : "false")}}}\n");
                if (buffered == ChunkFrames || result.Done)
                {
                    await encoder.WriteAsync(buffer.AsMemory(0, buffered * frameBytes), ct).ConfigureAwait(false);
                    buffered = 0;
                }
                if (result.Done) break;
                ct.ThrowIfCancellationRequested();
            }
            await encoder.FinishAsync(ct).ConfigureAwait(false);
        }

        await using (var video = new FileStream(videoFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true))
            await store.WriteAsync(prefix + episode.Name + ".mp4", video, new BlobWriteOptions { ContentType = "video/mp4" }, ct).ConfigureAwait(false);
        File.Delete(videoFile);
        if (episode.Labeled)
            await store.WriteBytesAsync(prefix + episode.Name + RawDatasetInfo.LogExtension, Encoding.UTF8.GetBytes(log.ToString()),
                new BlobWriteOptions { ContentType = "application/x-ndjson" }, ct).ConfigureAwait(false);

        var unlocked = run.World.UnlockedAchievements;
        var achievements = Enumerable.Range(0, Achievements.Count).Where(a => (unlocked & (1u << a)) != 0).Select(a => Achievements.Names[a]).ToList();
        return new EpisodeSummary(episode.Name, episode.Player, episode.WorldSeed, episode.PlayerSeed, episode.Labeled, frames, total, achievements);
    }
}
