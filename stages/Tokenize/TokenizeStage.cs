using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Dreamer.Artifacts;
using Dreamer.Hosting;
using Dreamer.Parquet;
using Dreamer.Schemas;
using Dreamer.Storage;
using Dreamer.Torch;
using Dreamer.WorldModel;
using Microsoft.Extensions.Logging;

namespace Dreamer.Stages.Tokenize;

using Torch = Dreamer.Torch.Torch;

/// <summary>The training outcome, kept beside the parts (`_work/model.json`) until the commit.</summary>
internal sealed record ModelRecord(
    [property: JsonPropertyName("outputs")] IReadOnlyList<ManifestOutput> Outputs,
    [property: JsonPropertyName("metrics")] Dictionary<string, double> Metrics,
    [property: JsonPropertyName("runId")] string RunId);

/// <summary>One encoded shard of the latents table (`_work/shard-i-of-N.json`).</summary>
internal sealed record ShardRecord(
    [property: JsonPropertyName("part")] ManifestOutput Part,
    [property: JsonPropertyName("episodes")] int Episodes,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("runId")] string RunId);

/// <summary>
/// `dreamer-tokenize --input &lt;frames artifact|latest&gt;`: trains the causal tokenizer on the train split
/// of an ingest artifact (checkpoints with exact resume), evaluates PSNR/SSIM on the validation split
/// every EvalEvery steps, stores the weights, an eval curve and a PNG grid of originals vs
/// reconstructions, then encodes every frame into the latents table. Several workers (`--shard i/N`)
/// cooperate: one trains under a lease while the others wait for the weights, then each encodes its
/// share of episodes (and any share whose worker died), and whichever sees every shard's record commits.
/// </summary>
public sealed class TokenizeStage
{
    public const string StageName = "tokenize";
    public const string FramesStage = "ingest";
    public const string ModelFile = "tokenizer.safetensors";
    public const string SamplesFile = "samples.png";
    public const string EvalFile = "eval.json";

    private sealed record Prepared(TokenizeSection Settings, TokenizerConfig Model, TokenizerTrainingConfig Training, JsonObject Config,
        ManifestCode Code, CommittedArtifact Frames, string ArtifactId);

    private Prepared? _prepared;

    /// <summary>Called after every training step with the step just completed (tests use it to stop a run at a known step).</summary>
    public Action<long>? AfterStep { get; set; }

    /// <summary>In process (tests, the benchmark): plan, then reuse a committed artifact or run, as StageHost does.</summary>
    public static Task<StageResult> RunAsync(StageContext ctx)
    {
        var stage = new TokenizeStage();
        return StageHost.RunInProcessAsync(ctx, StageName, stage.PlanAsync, stage.RunAsync);
    }

    /// <summary>Resolves the frames artifact and the preset, and computes the artifact id (no frame is read).</summary>
    public async Task<StagePlan> PlanAsync(StageContext ctx)
    {
        var ct = ctx.Cancellation;
        var config = StageConfiguration.Load<TokenizeConfig>(ctx.Options.ConfigSources);
        var settings = config.Tokenizer;
        if (ctx.Options.Seed is { } seed) settings.Seed = seed;
        using var store = BlobStores.Open(ctx.Options.Store);
        var frames = await new ArtifactCatalog(store).ResolveAsync(FramesStage, ctx.Options.Input, ct).ConfigureAwait(false);
        var layout = await FramesData.ReadLayoutAsync(store, frames.Manifest, ct).ConfigureAwait(false);
        var (model, training) = settings.Resolve(layout.Height, layout.Width);
        var problems = model.Validate("Tokenizer:Model:").ToList();
        if (problems.Count > 0) throw new StageInputException($"frames of {layout.Width}x{layout.Height}: {string.Join("; ", problems)}");
        var lpipsSha = training.Perceptual == "lpips" && training.LpipsWeights != null
            ? Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(training.LpipsWeights)))
            : null;

        var code = CodeVersion.ForThisProcess();
        var configJson = settings.EffectiveJson(model, training, lpipsSha);
        var inputs = new Dictionary<string, string> { ["frames"] = frames.Manifest.ArtifactId };
        var artifactId = ArtifactIds.Compute(StageName, code.Version, configJson, inputs, ctx.Options.Salt);
        _prepared = new Prepared(settings, model, training, configJson, code, frames, artifactId);
        return new StagePlan(artifactId, configJson, inputs);
    }

    public async Task<StageResult> RunAsync(StageContext ctx, StagePlan plan)
    {
        var p = _prepared is { } prepared && prepared.ArtifactId == plan.ArtifactId
            ? prepared : throw new InvalidOperationException("RunAsync runs the plan this instance made in PlanAsync");
        var ct = ctx.Cancellation;
        if (p.Settings.DeviceProblem() is { } problem) throw new StageInputException(problem);
        var device = p.Settings.UseDevice();

        using var store = BlobStores.Open(ctx.Options.Store);
        var framesPrefix = StorePaths.ArtifactPrefix(FramesStage, p.Frames.Manifest.ArtifactId).TrimEnd('/');
        var inputs = new[] { new LineageDataset(framesPrefix, p.Frames.ManifestSha256, Rows: p.Frames.Manifest.Outputs.Sum(o => o.Rows ?? 0)) };
        try
        {
            return await StageLineage.RunAsync(ctx, store, StageName, p.ArtifactId, p.Code, inputs, sharded: true, async runId =>
            {
                ctx.Log.LogInformation("loading frames of {Frames}", p.Frames.Manifest.ArtifactId);
                using var data = await FramesData.LoadAsync(store, p.Frames.Manifest, ct).ConfigureAwait(false);
                ctx.Log.LogInformation("{Train} train and {Validation} validation frames in {Episodes} episodes",
                    data.TrainFrames, data.All.Count - data.TrainFrames, data.Episodes.Count);
                var run = new TokenizeRun(ctx, store, p.Settings, p.Model, p.Training, p.Config, p.ArtifactId, data, device, runId, AfterStep);
                var model = await run.EnsureModelAsync(ct).ConfigureAwait(false);
                var shards = await run.EncodeAsync(ctx.Options.ShardIndex, ctx.Options.ShardCount, ct).ConfigureAwait(false);
                return await run.CommitAsync(model, shards, p.Frames, p.Code, ct).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }
        catch (NonFiniteLossException nonFinite)
        {
            throw new StageInputException(nonFinite.Message, nonFinite);
        }
    }

    internal static string ShardName(int shard, int shards) => $"shard-{shard:D5}-of-{shards:D5}";
}

/// <summary>The work of one tokenize worker: training (or waiting for it), encoding shards, committing.</summary>
internal sealed class TokenizeRun(StageContext ctx, IBlobStore store, TokenizeSection settings, TokenizerConfig modelConfig,
    TokenizerTrainingConfig training, JsonObject config, string artifactId, FramesData data, Device device, string runId,
    Action<long>? afterStep)
{
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(2);
    private readonly ArtifactWriter _writer = new(store, TokenizeStage.StageName, artifactId);
    private readonly ILogger _log = ctx.Log;
    private readonly WorkRecords _records = new(store, TokenizeStage.StageName, artifactId);
    private const string ModelRecordKey = "model";
    private TimeSpan LeaseDuration => TimeSpan.FromSeconds(settings.LeaseSeconds);
    private ulong Seed => unchecked((ulong)settings.Seed);
    private string ConfigHash => CanonicalJson.Sha256Hex(config);

    /// <summary>The training record: already there, trained here under the lease, or awaited from the worker holding it.</summary>
    public async Task<ModelRecord> EnsureModelAsync(CancellationToken ct)
    {
        return await LeaseHolder.RunOnceAsync(store, StorePaths.Lock(TokenizeStage.StageName, artifactId, "train"), LeaseDuration, _log,
            () => _records.ReadAsync<ModelRecord>(ModelRecordKey, ct), lease => TrainAsync(lease, ct),
            () => _log.LogInformation("another worker is training {ArtifactId}; waiting for its weights", artifactId), Poll, ct).ConfigureAwait(false);
    }

    private async Task<ModelRecord> TrainAsync(LeaseHolder lease, CancellationToken ct)
    {
        var checkpoints = new CheckpointStore(store, TokenizeStage.StageName, artifactId, settings.KeepCheckpoints);
        using var trainer = new TokenizerTrainer(modelConfig, training, data.Train, Seed, device);
        var eval = data.Validation.Count > 0 ? data.Validation : data.Train;
        if (data.Validation.Count == 0) _log.LogWarning("the frames artifact has no validation episodes: evaluating on the train split");
        var curve = new JsonArray();
        double trainSeconds = 0;
        if (await checkpoints.LoadLatestAsync(ConfigHash, ct).ConfigureAwait(false) is { } latest)
        {
            var extra = latest.State.Extra;
            new TrainerCheckpoint(latest.Step, await latest.ReadFileAsync(TrainerCheckpoint.ModelFile, ct).ConfigureAwait(false),
                await latest.ReadFileAsync(TrainerCheckpoint.OptimizerFile, ct).ConfigureAwait(false),
                latest.State.Rng, latest.State.DataCursor, extra).RestoreInto(trainer);
            curve = extra["curve"]!.AsArray();
            trainSeconds = extra["trainSeconds"]!.GetValue<double>();
            _log.LogInformation("resumed {ArtifactId} from checkpoint step {Step}", artifactId, latest.Step);
        }
        _log.LogInformation("training the {Preset} tokenizer: {Parameters:N0} parameters, {Steps} steps of {Batch}x{Length} frames, {Windows} windows",
            settings.Preset, trainer.Model.ParameterCount(), training.Steps, training.BatchSize, training.SequenceLength, trainer.TrainingWindows);

        using var work = CancellationTokenSource.CreateLinkedTokenSource(ct, lease.LeaseLost);
        var loop = new TrainingLoop("tokenizer training", training.Steps, training.CheckpointEvery, lease, artifactId);
        trainSeconds = await loop.RunAsync(trainSeconds, () => trainer.Step, clock =>
        {
            var r = trainer.TrainStep();
            if (r.Step % training.EvalEvery == 0 || trainer.Done)
            {
                var e = trainer.Evaluate(eval, training.EvalWindows);
                var seconds = clock();
                var point = CurvePoint(r.Step, seconds, e);
                point["train_mse"] = r.Mse;
                curve.Add(point);
                _log.LogInformation("step {Step}: validation PSNR {Psnr:0.00} dB, SSIM {Ssim:0.0000} ({Frames} frames), temporal PSNR {Temporal:0.00} dB " +
                    "(copy-last PSNR raw {RawChange:0.00}, decoded {DecodedChange:0.00}), train mse {Mse:0.00000}, {Seconds:0}s",
                    r.Step, e.Psnr, e.Ssim, e.Frames, e.TemporalPsnr, e.RawChangePsnr, e.DecodedChangePsnr, r.Mse, seconds);
            }
            return (r.Step, $"mse {r.Mse:0.00000} loss {r.Loss:0.000}");
        }, seconds => SaveAsync(checkpoints, trainer, curve, seconds), afterStep, ct).ConfigureAwait(false);
        if (curve.Count == 0 || curve[^1]!["step"]!.GetValue<long>() != trainer.Step)
        {
            curve.Add(CurvePoint(trainer.Step, trainSeconds, trainer.Evaluate(eval, training.EvalWindows)));
        }
        return await WriteModelAsync(trainer, eval, curve, trainSeconds, work.Token).ConfigureAwait(false);
    }

    /// <summary>Curve keys of the frame-to-frame measures, carried into the artifact's metrics.</summary>
    private static readonly string[] TemporalKeys = ["temporal_psnr", "raw_change_psnr", "decoded_change_psnr"];

    private static JsonObject CurvePoint(long step, double seconds, EvalResult e)
    {
        var point = new JsonObject { ["step"] = step, ["seconds"] = Math.Round(seconds, 1), ["psnr"] = e.Psnr, ["ssim"] = e.Ssim, ["mse"] = e.Mse };
        // Windows of one frame have no frame-to-frame change to score (NaN, which JSON cannot hold).
        double[] temporal = [e.TemporalPsnr, e.RawChangePsnr, e.DecodedChangePsnr];
        for (var i = 0; i < TemporalKeys.Length; i++)
            if (double.IsFinite(temporal[i])) point[TemporalKeys[i]] = temporal[i];
        return point;
    }

    /// <summary>Writes a complete checkpoint even while cancellation is pending: never half a checkpoint.</summary>
    private Task SaveAsync(CheckpointStore checkpoints, TokenizerTrainer trainer, JsonArray curve, double trainSeconds)
    {
        var c = TrainerCheckpoint.Capture(trainer, new JsonObject { ["curve"] = curve.DeepClone(), ["trainSeconds"] = trainSeconds });
        return checkpoints.SaveAsync(new CheckpointState(c.Step, ConfigHash, c.Rng, c.Cursor) { Extra = c.Extra }, c.Files(), CancellationToken.None);
    }

    private async Task<ModelRecord> WriteModelAsync(TokenizerTrainer trainer, FrameSet eval, JsonArray curve, double trainSeconds, CancellationToken ct)
    {
        var outputs = new List<ManifestOutput>();
        byte[] grid;
        using (var weights = new MemoryStream())
        {
            using (trainer.AveragedWeights())
            {
                TokenizerFile.Save(weights, trainer.Model, new Dictionary<string, string> { ["step"] = trainer.Step.ToString(), ["artifact_id"] = artifactId });
                grid = SampleGrid(trainer, eval);
            }
            weights.Position = 0;
            outputs.Add(await _writer.WritePartAsync(TokenizeStage.ModelFile, weights, null, ct).ConfigureAwait(false));
        }
        using (var png = new MemoryStream(grid))
            outputs.Add(await _writer.WritePartAsync(TokenizeStage.SamplesFile, png, null, ct).ConfigureAwait(false));

        var last = curve[^1]!;
        var frames = (double)trainer.Step * training.BatchSize * training.SequenceLength;
        var metrics = new Dictionary<string, double>
        {
            ["psnr"] = last["psnr"]!.GetValue<double>(),
            ["ssim"] = last["ssim"]!.GetValue<double>(),
            ["best_psnr"] = curve.Max(c => c!["psnr"]!.GetValue<double>()),
            ["train_steps"] = trainer.Step,
            ["train_seconds"] = Math.Round(trainSeconds, 1),
            ["train_frames_per_second"] = trainSeconds > 0 ? Math.Round(frames / trainSeconds, 2) : 0,
            ["parameters"] = trainer.Model.ParameterCount(),
            ["train_frames"] = data.TrainFrames,
            ["validation_frames"] = data.All.Count - data.TrainFrames,
        };
        // Absent from a curve resumed from a checkpoint written before these metrics existed, or of one-frame windows.
        foreach (var key in TemporalKeys)
            if (last[key] is { } value) metrics[key] = value.GetValue<double>();
        var evalJson = new JsonObject
        {
            ["split"] = data.Validation.Count > 0 ? FramesTable.ValidationSplit : FramesTable.TrainSplit,
            ["windows"] = training.EvalWindows,
            ["sequenceLength"] = training.SequenceLength,
            ["curve"] = curve.DeepClone(),
        };
        using (var json = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(evalJson, new JsonSerializerOptions { WriteIndented = true })))
            outputs.Add(await _writer.WritePartAsync(TokenizeStage.EvalFile, json, null, ct).ConfigureAwait(false));

        var record = new ModelRecord(outputs, metrics, runId);
        await _records.WriteAsync(ModelRecordKey, record, ct).ConfigureAwait(false);
        _log.LogInformation("tokenizer trained: validation PSNR {Psnr:0.00} dB, SSIM {Ssim:0.0000} after {Steps} steps in {Seconds:0}s",
            metrics["psnr"], metrics["ssim"], trainer.Step, trainSeconds);
        return record;
    }

    /// <summary>Originals (top) over reconstructions (bottom) of the first validation windows.</summary>
    private byte[] SampleGrid(TokenizerTrainer trainer, FrameSet eval)
    {
        using var scope = Torch.NewDisposeScope();
        using var noGrad = Torch.NoGrad();
        var length = training.SequenceLength;
        var windows = TokenizerTrainer.EvalWindows(eval, length, (settings.SampleFrames + length - 1) / length);
        var x = eval.Gather(windows, length).To(device);
        var recon = trainer.Model.Decode(trainer.Model.Encode(x));
        var originals = x.Reshape(-1, eval.Height, eval.Width, eval.Channels).To(Device.Cpu);
        var decoded = (recon * 255).Round().Clamp(0, 255).To(DType.UInt8).Reshape(-1, eval.Height, eval.Width, eval.Channels).To(Device.Cpu);
        var count = (int)Math.Min(settings.SampleFrames, originals.Size(0));
        List<byte[]> Tiles(Tensor t) => Enumerable.Range(0, count).Select(i => t.Select(0, i).Contiguous().ToBytes()).ToList();
        var (rgb, width, height) = Png.Grid([Tiles(originals), Tiles(decoded)], eval.Width, eval.Height);
        return Png.EncodeRgb(rgb, width, height);
    }

    /// <summary>Encodes this worker's shard, then any shard nobody holds, until every shard has a record.</summary>
    public async Task<Dictionary<int, ShardRecord>> EncodeAsync(int shard, int shards, CancellationToken ct)
    {
        CausalTokenizer? model = null;
        try
        {
            var records = new Dictionary<int, ShardRecord>();
            var waiting = -1;
            var order = Enumerable.Range(0, shards).Select(i => (shard + i) % shards).ToList();
            while (true)
            {
                foreach (var i in order.Where(i => !records.ContainsKey(i)))
                {
                    var key = TokenizeStage.ShardName(i, shards);
                    if (await _records.ReadAsync<ShardRecord>(key, ct).ConfigureAwait(false) is { } existing)
                    {
                        records[i] = existing;
                        continue;
                    }
                    await using var lease = await LeaseHolder.TryAcquireAsync(store,
                        StorePaths.Lock(TokenizeStage.StageName, artifactId, key), LeaseDuration, _log, ct).ConfigureAwait(false);
                    if (lease == null) continue;
                    if (await _records.ReadAsync<ShardRecord>(key, ct).ConfigureAwait(false) is { } done)
                    {
                        records[i] = done;
                        continue;
                    }
                    model ??= await LoadModelAsync(ct).ConfigureAwait(false);
                    using var work = CancellationTokenSource.CreateLinkedTokenSource(ct, lease.LeaseLost);
                    var record = await EncodeShardAsync(model, i, shards, work.Token).ConfigureAwait(false);
                    if (lease.IsLost) throw new IOException($"lost the lease of {key}: another worker took over");
                    await _records.WriteAsync(key, record, ct).ConfigureAwait(false);
                    records[i] = record;
                }
                if (records.Count == shards) return records;
                if (waiting != shards - records.Count) _log.LogInformation("waiting for {Missing} shard(s) held by other workers", shards - records.Count);
                waiting = shards - records.Count;
                await Task.Delay(Poll, ct).ConfigureAwait(false);
            }
        }
        finally
        {
            model?.Dispose();
        }
    }

    /// <summary>Every worker encodes with the committed weights file, not its own copy of the trainer.</summary>
    private async Task<CausalTokenizer> LoadModelAsync(CancellationToken ct)
    {
        var bytes = await store.ReadAllBytesAsync(_writer.Prefix + TokenizeStage.ModelFile, ct).ConfigureAwait(false);
        return TokenizerFile.Load(new MemoryStream(bytes), device);
    }

    private async Task<ShardRecord> EncodeShardAsync(CausalTokenizer model, int shard, int shards, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var layout = new LatentsLayout(modelConfig.Latents, modelConfig.LatentDim, data.Layout.Width, data.Layout.Height, data.Layout.Fps,
            data.Layout.ActionSpace);
        var episodes = data.Episodes.Where((_, index) => index % shards == shard).ToList();
        using var scratch = ScratchDirectory.Create("tokenize");
        var temp = scratch.File("latents.parquet");
        var frames = episodes.Sum(e => (long)e.Length);
        var rows = await StageProgress.RunAsync($"encode {TokenizeStage.ShardName(shard, shards)}", frames, sink =>
        {
            long written = 0;
            using var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
            using var writer = new ParquetWriter(file, layout.Schema, new ParquetWriterOptions(), leaveOpen: true);
            foreach (var (k, v) in layout.Metadata(artifactId, data.FramesArtifactId, TokenizeStage.ShardName(shard, shards)))
                writer.Metadata[k] = v;
            var pending = new List<(EpisodeSpan Episode, byte[] Latents)>();
            var pendingRows = 0;
            foreach (var episode in episodes)
            {
                ct.ThrowIfCancellationRequested();
                pending.Add((episode, EncodeEpisode(model, episode)));
                pendingRows += episode.Length;
                var encoded = written + pendingRows;
                sink.Report(encoded, $"{encoded / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):0} frames/s");
                if (pendingRows >= settings.RowGroupRows)
                {
                    writer.Write(Batch(layout, pending).ToColumns());
                    writer.FlushRowGroup();
                    written += pendingRows;
                    pending.Clear();
                    pendingRows = 0;
                }
            }
            if (pendingRows > 0 || written == 0)
            {
                writer.Write(Batch(layout, pending).ToColumns());
                written += pendingRows;
            }
            writer.Finish();
            return Task.FromResult(written);
        }).ConfigureAwait(false);
        var part = await _writer.WritePartFromFileAsync($"latents/part-{shard:D5}-of-{shards:D5}.parquet", temp, rows, ct).ConfigureAwait(false);
        var seconds = clock.Elapsed.TotalSeconds;
        _log.LogInformation("encoded {Shard}: {Episodes} episodes, {Rows} frames in {Seconds:0.0}s ({Fps:0.0} frames/s)",
            TokenizeStage.ShardName(shard, shards), episodes.Count, rows, seconds, rows / Math.Max(seconds, 1e-9));
        return new ShardRecord(part, episodes.Count, Math.Round(seconds, 3), runId);
    }

    /// <summary>float16 latents of one episode [L, tokens, dim], little-endian.</summary>
    private byte[] EncodeEpisode(CausalTokenizer model, EpisodeSpan episode)
    {
        using var scope = Torch.NewDisposeScope();
        var frames = data.All.Slice(episode.Start, episode.Length).Unsqueeze(0).To(device);
        var z = model.EncodeSequence(frames, settings.EncodeChunk);
        return z.To(DType.Float16).To(Device.Cpu).Contiguous().ToBytes();
    }

    private LatentsBatch Batch(LatentsLayout layout, List<(EpisodeSpan Episode, byte[] Latents)> episodes)
    {
        var n = episodes.Sum(e => e.Episode.Length);
        var ids = new string[n];
        var frameIndex = new int[n];
        var latents = new byte[(long)n * layout.LatentBytes];
        var columns = layout.ActionSpace.Columns;
        var actions = columns.Select(c => (Array)(c.Kind switch
        {
            ActionValueKind.Int32 => new int[n],
            ActionValueKind.Boolean => new bool[n],
            _ => new float[n],
        })).ToArray();
        var (hasAction, reward, hasReward, done, isFirst, split) = (new bool[n], new float[n], new bool[n], new bool[n], new bool[n], new string[n]);
        var row = 0;
        foreach (var (episode, bytes) in episodes)
        {
            bytes.CopyTo(latents, (long)row * layout.LatentBytes);
            for (var i = 0; i < episode.Length; i++, row++)
            {
                var src = episode.Start + i;
                ids[row] = episode.Id;
                frameIndex[row] = data.FrameIndex[src];
                for (var c = 0; c < columns.Count; c++)
                {
                    var v = data.Actions[c][src];
                    switch (actions[c])
                    {
                        case int[] ints: ints[row] = (int)v; break;
                        case bool[] bools: bools[row] = v != 0; break;
                        case float[] floats: floats[row] = (float)v; break;
                    }
                }
                hasAction[row] = data.HasAction[src];
                reward[row] = data.Reward[src];
                hasReward[row] = data.HasReward[src];
                done[row] = data.Done[src];
                isFirst[row] = i == 0;
                split[row] = episode.Split;
            }
        }
        return new LatentsBatch(layout, ids, frameIndex, latents, actions, hasAction, reward, hasReward, done, isFirst, split);
    }

    /// <summary>Writes the manifest from the model and shard records; when another worker committed first, returns theirs.</summary>
    public async Task<CommittedArtifact> CommitAsync(ModelRecord model, Dictionary<int, ShardRecord> shards, CommittedArtifact frames,
        ManifestCode code, CancellationToken ct)
    {
        if (await new ArtifactCatalog(store).TryGetAsync(TokenizeStage.StageName, artifactId, ct).ConfigureAwait(false) is { } already) return already;
        var rows = shards.Values.Sum(s => s.Part.Rows ?? 0);
        var encodeSeconds = shards.Values.Sum(s => s.Seconds);
        var metrics = new Dictionary<string, double>(model.Metrics)
        {
            ["latent_rows"] = rows,
            ["episodes"] = shards.Values.Sum(s => s.Episodes),
            ["shards"] = shards.Count,
            ["encode_seconds"] = Math.Round(encodeSeconds, 1),
            ["encode_frames_per_second"] = encodeSeconds > 0 ? Math.Round(rows / encodeSeconds, 2) : 0,
        };
        var manifest = new ArtifactManifest
        {
            ArtifactId = artifactId,
            Stage = TokenizeStage.StageName,
            RunId = runId,
            Inputs = [frames.AsInput("frames")],
            Config = (JsonObject)config.DeepClone(),
            Code = code,
            Environment = CodeVersion.Environment(Torch.Version, Torch.NumThreads, device.ToString()),
            Outputs = model.Outputs.Concat(shards.OrderBy(s => s.Key).Select(s => s.Value.Part)).OrderBy(o => o.Path, StringComparer.Ordinal).ToList(),
            Metrics = metrics,
            StartedAt = _writer.StartedAt,
            CommittedAt = DateTimeOffset.UtcNow,
        };
        var (committed, ours) = await ManifestCommit.CommitOrReadExistingAsync(store, manifest, _log, ct).ConfigureAwait(false);
        if (ours) _log.LogInformation("committed {ArtifactId}: {Rows} latent rows, validation PSNR {Psnr:0.00} dB", artifactId, rows, metrics["psnr"]);
        return committed;
    }
}
