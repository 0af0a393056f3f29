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
    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private sealed record Prepared(TokenizeSection Settings, TokenizerConfig Model, TokenizerTrainingConfig Training, JsonObject Config,
        ManifestCode Code, CommittedArtifact Frames, string ArtifactId);

    private Prepared? _prepared;

    /// <summary>In process (tests, the benchmark): plan, then reuse a committed artifact or run, as StageHost does.</summary>
    public static async Task<StageResult> RunAsync(StageContext ctx)
    {
        var stage = new TokenizeStage();
        var plan = await stage.PlanAsync(ctx).ConfigureAwait(false);
        using (var store = BlobStores.Open(ctx.Options.Store))
            if (await new ArtifactCatalog(store).TryGetAsync(StageName, plan.ArtifactId, ctx.Cancellation).ConfigureAwait(false) is { } existing)
                return new StageResult(plan.ArtifactId, Reused: true, existing.Manifest.Metrics);
        return await stage.RunAsync(ctx, plan).ConfigureAwait(false);
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
        var device = Device.Parse(p.Settings.Device);
        if (device.Type == DeviceType.Cuda && !Torch.CudaIsAvailable)
            throw new StageInputException($"Tokenizer:Device = {p.Settings.Device}, but this libtorch has no CUDA device");
        // cuBLAS is deterministic only with a fixed workspace, read from the process environment at start-up.
        if (device.Type == DeviceType.Cuda && p.Settings.Deterministic && Environment.GetEnvironmentVariable("CUBLAS_WORKSPACE_CONFIG") == null)
            throw new StageInputException("Tokenizer:Deterministic on CUDA needs CUBLAS_WORKSPACE_CONFIG=:4096:8 in the environment (or set Tokenizer:Deterministic=false)");
        Torch.NumThreads = p.Settings.Threads > 0 ? p.Settings.Threads : Environment.ProcessorCount;
        Torch.DeterministicAlgorithms = p.Settings.Deterministic;

        using var store = BlobStores.Open(ctx.Options.Store);
        var lineage = new LineageRecorder(store, StageName);
        var codeInfo = ManifestCodeInfo.From(p.Code);
        var parent = ctx.Options.ParentRunId is { } parentRun ? new LineageParent(parentRun, "pipeline") : null;
        var framesPrefix = StorePaths.ArtifactPrefix(FramesStage, p.Frames.Manifest.ArtifactId).TrimEnd('/');
        var inputs = new[] { new LineageDataset(framesPrefix, p.Frames.ManifestSha256, Rows: p.Frames.Manifest.Outputs.Sum(o => o.Rows ?? 0)) };
        await lineage.StartAsync(inputs, codeInfo, parent, new Dictionary<string, string>
        {
            ["artifactId"] = p.ArtifactId,
            ["shard"] = $"{ctx.Options.ShardIndex}/{ctx.Options.ShardCount}",
        }, ct).ConfigureAwait(false);
        try
        {
            ctx.Log.LogInformation("loading frames of {Frames}", p.Frames.Manifest.ArtifactId);
            using var data = await FramesData.LoadAsync(store, p.Frames.Manifest, ct).ConfigureAwait(false);
            ctx.Log.LogInformation("{Train} train and {Validation} validation frames in {Episodes} episodes",
                data.TrainFrames, data.All.Count - data.TrainFrames, data.Episodes.Count);
            var run = new TokenizeRun(ctx, store, p.Settings, p.Model, p.Training, p.Config, p.ArtifactId, data, device, lineage.RunId);
            var model = await run.EnsureModelAsync(ct).ConfigureAwait(false);
            var shards = await run.EncodeAsync(ctx.Options.ShardIndex, ctx.Options.ShardCount, ct).ConfigureAwait(false);
            var committed = await run.CommitAsync(model, shards, p.Frames, p.Code, ct).ConfigureAwait(false);
            var manifest = committed.Manifest;
            await lineage.CompleteAsync(inputs,
                [new LineageDataset(StorePaths.ArtifactPrefix(StageName, p.ArtifactId).TrimEnd('/'), committed.ManifestSha256,
                    Rows: manifest.Outputs.Sum(o => o.Rows ?? 0), Bytes: manifest.Outputs.Sum(o => o.Bytes), Files: manifest.Outputs.Count)],
                codeInfo, parent, CancellationToken.None).ConfigureAwait(false);
            return new StageResult(p.ArtifactId, Reused: false, manifest.Metrics);
        }
        catch (Exception e)
        {
            try
            {
                await lineage.FailAsync(inputs, codeInfo, parent, e, CancellationToken.None).ConfigureAwait(false);
            }
            catch (BlobStoreException failure)
            {
                ctx.Log.LogWarning("could not record the FAIL lineage event: {Error}", failure.Message);
            }
            if (e is NonFiniteLossException nonFinite) throw new StageInputException(nonFinite.Message, nonFinite);
            throw;
        }
    }

    internal static string RecordsPrefix(string artifactId) => StorePaths.ArtifactPrefix(StageName, artifactId) + "_work/";

    internal static string ShardName(int shard, int shards) => $"shard-{shard:D5}-of-{shards:D5}";

    internal static async Task<T?> ReadRecordAsync<T>(IBlobStore store, string path, CancellationToken ct) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(await store.ReadAllBytesAsync(path, ct).ConfigureAwait(false), Json);
        }
        catch (BlobNotFoundException) { return null; }
        catch (JsonException) { return null; }
    }

    internal static Task WriteRecordAsync<T>(IBlobStore store, string path, T record, CancellationToken ct) =>
        store.WriteBytesAsync(path, JsonSerializer.SerializeToUtf8Bytes(record, Json), new BlobWriteOptions { ContentType = "application/json" }, ct);
}

/// <summary>The work of one tokenize worker: training (or waiting for it), encoding shards, committing.</summary>
internal sealed class TokenizeRun(StageContext ctx, IBlobStore store, TokenizeSection settings, TokenizerConfig modelConfig,
    TokenizerTrainingConfig training, JsonObject config, string artifactId, FramesData data, Device device, string runId)
{
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(2);
    private readonly ArtifactWriter _writer = new(store, TokenizeStage.StageName, artifactId);
    private readonly ILogger _log = ctx.Log;
    private string ModelRecordPath => TokenizeStage.RecordsPrefix(artifactId) + "model.json";
    private TimeSpan LeaseDuration => TimeSpan.FromSeconds(settings.LeaseSeconds);
    private ulong Seed => unchecked((ulong)settings.Seed);
    private string ConfigHash => CanonicalJson.Sha256Hex(config);

    /// <summary>The training record: already there, trained here under the lease, or awaited from the worker holding it.</summary>
    public async Task<ModelRecord> EnsureModelAsync(CancellationToken ct)
    {
        var waiting = false;
        while (true)
        {
            if (await TokenizeStage.ReadRecordAsync<ModelRecord>(store, ModelRecordPath, ct).ConfigureAwait(false) is { } done) return done;
            await using (var lease = await LeaseHolder.TryAcquireAsync(store, StorePaths.Lock(TokenizeStage.StageName, artifactId, "train"),
                                 LeaseDuration, _log, ct).ConfigureAwait(false))
            {
                if (lease != null)
                {
                    if (await TokenizeStage.ReadRecordAsync<ModelRecord>(store, ModelRecordPath, ct).ConfigureAwait(false) is { } finished) return finished;
                    return await TrainAsync(lease, ct).ConfigureAwait(false);
                }
            }
            if (!waiting) _log.LogInformation("another worker is training {ArtifactId}; waiting for its weights", artifactId);
            waiting = true;
            await Task.Delay(Poll, ct).ConfigureAwait(false);
        }
    }

    private async Task<ModelRecord> TrainAsync(LeaseHolder lease, CancellationToken ct)
    {
        var checkpoints = new CheckpointStore(store, TokenizeStage.StageName, artifactId, settings.KeepCheckpoints);
        using var trainer = new TokenizerTrainer(modelConfig, training, data.Train, Seed, device);
        var eval = data.Validation.Count > 0 ? data.Validation : data.Train;
        if (data.Validation.Count == 0) _log.LogWarning("the frames artifact has no validation episodes: evaluating on the train split");
        var curve = new JsonArray();
        double trainSeconds = 0;
        if (await checkpoints.LoadLatestAsync(ct).ConfigureAwait(false) is { } latest)
        {
            if (latest.State.ConfigHash != ConfigHash)
                throw new InvalidDataException($"checkpoint of {artifactId} at step {latest.Step} has config hash {latest.State.ConfigHash}, expected {ConfigHash}");
            using var weights = Safetensors.Load(new MemoryStream(await latest.ReadFileAsync("model.safetensors", ct).ConfigureAwait(false)));
            using var moments = Safetensors.Load(new MemoryStream(await latest.ReadFileAsync("optimizer.safetensors", ct).ConfigureAwait(false)));
            var extra = latest.State.Extra;
            trainer.RestoreState(weights.Tensors, moments.Tensors, new JsonObject
            {
                ["step"] = latest.Step,
                ["rng"] = latest.State.Rng.DeepClone(),
                ["cursor"] = latest.State.DataCursor.DeepClone(),
                ["normalizers"] = extra["normalizers"]!.DeepClone(),
            });
            curve = extra["curve"]!.AsArray();
            trainSeconds = extra["trainSeconds"]!.GetValue<double>();
            _log.LogInformation("resumed {ArtifactId} from checkpoint step {Step}", artifactId, latest.Step);
        }
        _log.LogInformation("training the {Preset} tokenizer: {Parameters:N0} parameters, {Steps} steps of {Batch}x{Length} frames, {Windows} windows",
            settings.Preset, trainer.Model.ParameterCount(), training.Steps, training.BatchSize, training.SequenceLength, trainer.TrainingWindows);

        using var work = CancellationTokenSource.CreateLinkedTokenSource(ct, lease.LeaseLost);
        await StageProgress.RunAsync("tokenizer training", training.Steps, async progress =>
        {
            var saved = trainer.Step;
            progress.Report(trainer.Step);
            var clock = Stopwatch.StartNew();
            var startSeconds = trainSeconds;
            while (!trainer.Done)
            {
                if (lease.IsLost) throw new IOException($"lost the training lease of {artifactId}: another worker took over");
                if (ct.IsCancellationRequested)
                {
                    // Preemption: keep the progress made, then stop (exit 130).
                    if (trainer.Step > saved) await SaveAsync(checkpoints, trainer, curve, startSeconds + clock.Elapsed.TotalSeconds, lease).ConfigureAwait(false);
                    ct.ThrowIfCancellationRequested();
                }
                var r = trainer.TrainStep();
                progress.Report(r.Step, $"mse {r.Mse:0.00000} loss {r.Loss:0.000}");
                if (r.Step % training.EvalEvery == 0 || trainer.Done)
                {
                    var e = trainer.Evaluate(eval, training.EvalWindows);
                    var seconds = startSeconds + clock.Elapsed.TotalSeconds;
                    curve.Add(new JsonObject { ["step"] = r.Step, ["seconds"] = Math.Round(seconds, 1), ["psnr"] = e.Psnr, ["ssim"] = e.Ssim, ["mse"] = e.Mse, ["train_mse"] = r.Mse });
                    _log.LogInformation("step {Step}: validation PSNR {Psnr:0.00} dB, SSIM {Ssim:0.0000} ({Frames} frames), train mse {Mse:0.00000}, {Seconds:0}s",
                        r.Step, e.Psnr, e.Ssim, e.Frames, r.Mse, seconds);
                }
                if (r.Step % training.CheckpointEvery == 0 || trainer.Done)
                {
                    await SaveAsync(checkpoints, trainer, curve, startSeconds + clock.Elapsed.TotalSeconds, lease).ConfigureAwait(false);
                    saved = trainer.Step;
                }
            }
            trainSeconds = startSeconds + clock.Elapsed.TotalSeconds;
            return 0;
        }).ConfigureAwait(false);
        if (curve.Count == 0 || curve[^1]!["step"]!.GetValue<long>() != trainer.Step)
        {
            var e = trainer.Evaluate(eval, training.EvalWindows);
            curve.Add(new JsonObject { ["step"] = trainer.Step, ["seconds"] = Math.Round(trainSeconds, 1), ["psnr"] = e.Psnr, ["ssim"] = e.Ssim, ["mse"] = e.Mse });
        }
        return await WriteModelAsync(trainer, eval, curve, trainSeconds, work.Token).ConfigureAwait(false);
    }

    /// <summary>Writes a complete checkpoint even while cancellation is pending: never half a checkpoint.</summary>
    private async Task SaveAsync(CheckpointStore checkpoints, TokenizerTrainer trainer, JsonArray curve, double trainSeconds, LeaseHolder lease)
    {
        if (lease.IsLost) throw new IOException($"lost the training lease of {artifactId}: not writing a checkpoint");
        trainer.EnsureFiniteWeights();
        var (model, optimizer, state) = trainer.CaptureState();
        var modelBytes = new MemoryStream();
        var optimizerBytes = new MemoryStream();
        try
        {
            Safetensors.Save(modelBytes, model, new Dictionary<string, string> { ["step"] = trainer.Step.ToString() });
            Safetensors.Save(optimizerBytes, optimizer);
        }
        finally
        {
            foreach (var t in optimizer.Values) t.Dispose();
        }
        modelBytes.Position = 0;
        optimizerBytes.Position = 0;
        var checkpoint = new CheckpointState(trainer.Step, ConfigHash, state["rng"]!.AsObject(), state["cursor"]!.AsObject())
        {
            Extra = new JsonObject
            {
                ["normalizers"] = state["normalizers"]!.DeepClone(),
                ["curve"] = curve.DeepClone(),
                ["trainSeconds"] = trainSeconds,
            },
        };
        await checkpoints.SaveAsync(checkpoint, new Dictionary<string, Stream>
        {
            ["model.safetensors"] = modelBytes,
            ["optimizer.safetensors"] = optimizerBytes,
        }, CancellationToken.None).ConfigureAwait(false);
    }

    private async Task<ModelRecord> WriteModelAsync(TokenizerTrainer trainer, FrameSet eval, JsonArray curve, double trainSeconds, CancellationToken ct)
    {
        var outputs = new List<ManifestOutput>();
        using (var weights = new MemoryStream())
        {
            TokenizerFile.Save(weights, trainer.Model, new Dictionary<string, string> { ["step"] = trainer.Step.ToString(), ["artifact_id"] = artifactId });
            weights.Position = 0;
            outputs.Add(await _writer.WritePartAsync(TokenizeStage.ModelFile, weights, null, ct).ConfigureAwait(false));
        }
        using (var png = new MemoryStream(SampleGrid(trainer, eval)))
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
        await TokenizeStage.WriteRecordAsync(store, ModelRecordPath, record, ct).ConfigureAwait(false);
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
                    var path = TokenizeStage.RecordsPrefix(artifactId) + TokenizeStage.ShardName(i, shards) + ".json";
                    if (await TokenizeStage.ReadRecordAsync<ShardRecord>(store, path, ct).ConfigureAwait(false) is { } existing)
                    {
                        records[i] = existing;
                        continue;
                    }
                    await using var lease = await LeaseHolder.TryAcquireAsync(store,
                        StorePaths.Lock(TokenizeStage.StageName, artifactId, TokenizeStage.ShardName(i, shards)), LeaseDuration, _log, ct).ConfigureAwait(false);
                    if (lease == null) continue;
                    if (await TokenizeStage.ReadRecordAsync<ShardRecord>(store, path, ct).ConfigureAwait(false) is { } done)
                    {
                        records[i] = done;
                        continue;
                    }
                    model ??= await LoadModelAsync(ct).ConfigureAwait(false);
                    using var work = CancellationTokenSource.CreateLinkedTokenSource(ct, lease.LeaseLost);
                    var record = await EncodeShardAsync(model, i, shards, work.Token).ConfigureAwait(false);
                    if (lease.IsLost) throw new IOException($"lost the lease of {TokenizeStage.ShardName(i, shards)}: another worker took over");
                    await TokenizeStage.WriteRecordAsync(store, path, record, ct).ConfigureAwait(false);
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
        var temp = Path.Combine(Path.GetTempPath(), $"dreamer-tokenize-{Guid.NewGuid():N}.parquet");
        long rows = 0;
        try
        {
            await using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            using (var writer = new ParquetWriter(file, layout.Schema, new ParquetWriterOptions(), leaveOpen: true))
            {
                foreach (var (k, v) in layout.Metadata(artifactId, data.FramesArtifactId, TokenizeStage.ShardName(shard, shards)))
                    writer.Metadata[k] = v;
                var pending = new List<(EpisodeSpan Episode, byte[] Latents)>();
                var pendingRows = 0;
                foreach (var episode in episodes)
                {
                    ct.ThrowIfCancellationRequested();
                    pending.Add((episode, EncodeEpisode(model, episode)));
                    pendingRows += episode.Length;
                    if (pendingRows >= settings.RowGroupRows)
                    {
                        writer.Write(Batch(layout, pending).ToColumns());
                        writer.FlushRowGroup();
                        rows += pendingRows;
                        pending.Clear();
                        pendingRows = 0;
                    }
                }
                if (pendingRows > 0 || rows == 0)
                {
                    writer.Write(Batch(layout, pending).ToColumns());
                    rows += pendingRows;
                }
                writer.Finish();
            }
            var part = await _writer.WritePartFromFileAsync($"latents/part-{shard:D5}-of-{shards:D5}.parquet", temp, rows, ct).ConfigureAwait(false);
            var seconds = clock.Elapsed.TotalSeconds;
            _log.LogInformation("encoded {Shard}: {Episodes} episodes, {Rows} frames in {Seconds:0.0}s ({Fps:0.0} frames/s)",
                TokenizeStage.ShardName(shard, shards), episodes.Count, rows, seconds, rows / Math.Max(seconds, 1e-9));
            return new ShardRecord(part, episodes.Count, Math.Round(seconds, 3), runId);
        }
        finally
        {
            File.Delete(temp);
        }
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
        var catalog = new ArtifactCatalog(store);
        if (await catalog.TryGetAsync(TokenizeStage.StageName, artifactId, ct).ConfigureAwait(false) is { } already) return already;
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
        var bytes = manifest.ToJsonBytes();
        try
        {
            await store.WriteBytesAsync(StorePaths.Manifest(TokenizeStage.StageName, artifactId), bytes,
                BlobWriteOptions.CreateOnly with { ContentType = "application/json" }, ct).ConfigureAwait(false);
            _log.LogInformation("committed {ArtifactId}: {Rows} latent rows, validation PSNR {Psnr:0.00} dB", artifactId, rows, metrics["psnr"]);
            return new CommittedArtifact(manifest, Hashing.Sha256Hex(bytes));
        }
        catch (BlobConditionFailedException)
        {
            _log.LogInformation("another worker committed {ArtifactId} first", artifactId);
            return await catalog.TryGetAsync(TokenizeStage.StageName, artifactId, ct).ConfigureAwait(false)
                   ?? throw new IOException($"{StorePaths.Manifest(TokenizeStage.StageName, artifactId)} exists but cannot be read back");
        }
    }
}
