using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dreamer.Artifacts;
using Dreamer.Hosting;
using Dreamer.Schemas;
using Dreamer.Storage;
using Dreamer.Torch;
using Dreamer.WorldModel;
using Microsoft.Extensions.Logging;

namespace Dreamer.Stages.TrainDynamics;

using Torch = Dreamer.Torch.Torch;

/// <summary>
/// `dreamer-train-dynamics --input &lt;tokenize artifact|latest&gt;`: trains the interactive dynamics model
/// (shortcut forcing) on the train split of a tokenize artifact's latents table, with checkpoints and exact
/// resume; every EvalEvery steps it rolls the model out open-loop on the validation split and decodes with
/// the artifact's tokenizer (PSNR against the ground truth and the copy-last-frame floor, action shuffle
/// ratio). Commits the weights (dynamics.safetensors), the evaluation curve (eval.json) and a side-by-side
/// video of the final rollout (rollout.mp4). Training is single-worker: --shard N&gt;1 is rejected.
/// </summary>
public sealed class TrainDynamicsStage
{
    public const string StageName = "train-dynamics";
    public const string TokenizeStage = "tokenize";
    /// <summary>The manifest input binding of the tokenize artifact.</summary>
    public const string InputBinding = "latents";
    public const string TokenizerFileName = "tokenizer.safetensors";
    public const string ModelFile = "dynamics.safetensors";
    public const string EvalFile = "eval.json";
    public const string VideoFile = "rollout.mp4";

    private sealed record Prepared(TrainDynamicsSection Settings, DynamicsConfig Model, DynamicsTrainingConfig Training, JsonObject Config,
        ManifestCode Code, CommittedArtifact Latents, string ArtifactId);

    private Prepared? _prepared;

    /// <summary>Called after every training step with the step just completed (tests use it to stop a run at a known step).</summary>
    public Action<long>? AfterStep { get; set; }

    /// <summary>In process (tests, the benchmark): plan, then reuse a committed artifact or run, as StageHost does.</summary>
    public static Task<StageResult> RunAsync(StageContext ctx)
    {
        var stage = new TrainDynamicsStage();
        return StageHost.RunInProcessAsync(ctx, StageName, stage.PlanAsync, stage.RunAsync);
    }

    /// <summary>Resolves the tokenize artifact and the preset, and computes the artifact id (only the first part's footer is read).</summary>
    public async Task<StagePlan> PlanAsync(StageContext ctx)
    {
        if (ctx.Options.ShardCount > 1)
            throw new StageInputException($"--shard {ctx.Options.ShardIndex}/{ctx.Options.ShardCount}: train-dynamics trains on one worker and does not shard; run it once without --shard");
        var ct = ctx.Cancellation;
        var config = StageConfiguration.Load<TrainDynamicsConfig>(ctx.Options.ConfigSources);
        var settings = config.TrainDynamics;
        if (ctx.Options.Seed is { } seed) settings.Seed = seed;
        using var store = BlobStores.Open(ctx.Options.Store);
        var latents = await ResolveInputAsync(store, ctx.Options.Input, ct).ConfigureAwait(false);
        if (latents.Manifest.Outputs.All(o => o.Path != TokenizerFileName))
            throw new StageInputException($"tokenize artifact {latents.Manifest.ArtifactId} has no {TokenizerFileName} output; it is needed to decode rollouts");
        var layout = await LatentsData.ReadLayoutAsync(store, latents.Manifest, ct).ConfigureAwait(false);
        var gridCols = settings.GridPositions(DynamicsPresets.Get(settings.Preset))
            ? await LatentGridColsAsync(store, latents.Manifest, layout, explicitly: settings.Model.GridPositions == true, ctx.Log, ct).ConfigureAwait(false)
            : null;
        var actionSpace = LatentsData.ToModelActions(layout.ActionSpace);
        var categorical = ActionComponentSpec.FirstCategorical(actionSpace) != null;
        var (model, training) = settings.Resolve(layout.Tokens, layout.Dim, gridCols, categorical);
        var problems = model.Validate("TrainDynamics:Model:").ToList();
        if (model.PreviousPerAction && !categorical)
            problems.Add($"TrainDynamics:Model:PreviousPerAction needs a categorical action component (the latents have {(actionSpace.Count == 0 ? "none" : string.Join(", ", actionSpace.Select(c => $"{c.Name} ({c.Kind})")))})");
        if (problems.Count > 0)
            throw new StageInputException($"latents of {layout.Tokens} tokens x {layout.Dim} dims (tokenize artifact {latents.Manifest.ArtifactId}): {string.Join("; ", problems)}");

        var code = CodeVersion.ForThisProcess();
        var configJson = settings.EffectiveJson(model, training);
        var inputs = new Dictionary<string, string> { [InputBinding] = latents.Manifest.ArtifactId };
        var artifactId = ArtifactIds.Compute(StageName, code.Version, configJson, inputs, ctx.Options.Salt);
        _prepared = new Prepared(settings, model, training, configJson, code, latents, artifactId);
        return new StagePlan(artifactId, configJson, inputs);
    }

    /// <summary>The committed tokenize artifact named by --input, or a message saying what it is instead.</summary>
    private static async Task<CommittedArtifact> ResolveInputAsync(IBlobStore store, string input, CancellationToken ct)
    {
        var catalog = new ArtifactCatalog(store);
        try
        {
            return await catalog.ResolveAsync(TokenizeStage, input, ct).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            if (input != "latest")
                foreach (var stage in await catalog.ListStagesAsync(ct).ConfigureAwait(false))
                    if (stage != TokenizeStage && await catalog.IsCommittedAsync(stage, input, ct).ConfigureAwait(false))
                        throw new StageInputException($"--input {input} is an artifact of stage '{stage}'; train-dynamics reads the latents of a '{TokenizeStage}' artifact", e);
            throw new StageInputException($"--input {input}: {e.Message}; train-dynamics reads the latents of a '{TokenizeStage}' artifact", e);
        }
    }

    public async Task<StageResult> RunAsync(StageContext ctx, StagePlan plan)
    {
        var p = _prepared is { } prepared && prepared.ArtifactId == plan.ArtifactId
            ? prepared : throw new InvalidOperationException("RunAsync runs the plan this instance made in PlanAsync");
        var ct = ctx.Cancellation;
        if (p.Settings.DeviceProblem() is { } problem) throw new StageInputException(problem);
        // The rollout video is part of the artifact: a missing ffmpeg is found now, not after training.
        await RolloutVideo.CheckAsync(p.Settings.Ffmpeg, ct).ConfigureAwait(false);
        var device = p.Settings.UseDevice();

        using var store = BlobStores.Open(ctx.Options.Store);
        var latentsPrefix = StorePaths.ArtifactPrefix(TokenizeStage, p.Latents.Manifest.ArtifactId).TrimEnd('/');
        var inputs = new[]
        {
            new LineageDataset(latentsPrefix, p.Latents.ManifestSha256,
                Rows: p.Latents.Manifest.Outputs.Where(o => o.Path.StartsWith(LatentsData.PartsPrefix, StringComparison.Ordinal)).Sum(o => o.Rows ?? 0)),
        };
        try
        {
            return await StageLineage.RunAsync(ctx, store, StageName, p.ArtifactId, p.Code, inputs, sharded: false, async runId =>
            {
                ctx.Log.LogInformation("loading latents of {Tokenize}", p.Latents.Manifest.ArtifactId);
                using var data = await LatentsData.LoadAsync(store, p.Latents.Manifest, ct).ConfigureAwait(false);
                ctx.Log.LogInformation("{Train} train frames in {TrainEpisodes} episodes, {Validation} validation frames in {ValidationEpisodes} episodes; "
                    + "latents {Tokens}x{Dim}, {Columns} action column(s)",
                    data.TrainFrames, data.TrainEpisodes, data.ValidationFrames, data.ValidationEpisodes, data.Layout.Tokens, data.Layout.Dim, data.Train.Columns);
                using var tokenizer = await LoadTokenizerAsync(store, p.Latents.Manifest, data.Layout, device, ct).ConfigureAwait(false);
                var run = new TrainDynamicsRun(ctx, store, p.Settings, p.Model, p.Training, p.Config, p.ArtifactId, data, tokenizer, device, runId, AfterStep);
                return await run.TrainAndCommitAsync(p.Latents, p.Code, ct).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }
        catch (NonFiniteLossException nonFinite)
        {
            throw new StageInputException(nonFinite.Message, nonFinite);
        }
    }

    /// <summary>
    /// The width of the latent grid of the tokenizer that made the latents (its configuration alone, no weights). Without
    /// one: an error when GridPositions was set explicitly, else (the preset's default) null, the latents stay a sequence.
    /// </summary>
    private static async Task<int?> LatentGridColsAsync(IBlobStore store, ArtifactManifest manifest, LatentsLayout layout, bool explicitly, ILogger log,
        CancellationToken ct)
    {
        var (path, bytes) = await ReadTokenizerFileAsync(store, manifest, ct).ConfigureAwait(false);
        var config = ReadTokenizer(path, () => TokenizerFile.ReadConfig(new MemoryStream(bytes)));
        CheckBottleneck(path, config, layout);
        if (config.LatentGrid) return config.LatentGridShape.Cols;
        var why = $"the tokenizer of {manifest.ArtifactId} was trained without LatentGrid";
        if (explicitly)
            throw new StageInputException($"TrainDynamics:Model:GridPositions needs latents laid out on a grid, but {why}; "
                + "turn GridPositions off or tokenize with --set Tokenize:Model:LatentGrid=true");
        log.LogInformation("spatial tokens keep sequence positions: {Why}", why);
        return null;
    }

    /// <summary>The tokenizer that made the latents (to decode rollouts), checked against the table's latent shape.</summary>
    private static async Task<CausalTokenizer> LoadTokenizerAsync(IBlobStore store, ArtifactManifest manifest, LatentsLayout layout, Device device,
        CancellationToken ct)
    {
        var (path, bytes) = await ReadTokenizerFileAsync(store, manifest, ct).ConfigureAwait(false);
        var tokenizer = ReadTokenizer(path, () => TokenizerFile.Load(new MemoryStream(bytes), device));
        try
        {
            CheckBottleneck(path, tokenizer.Config, layout);
            return tokenizer;
        }
        catch
        {
            tokenizer.Dispose();
            throw;
        }
    }

    private static async Task<(string Path, byte[] Bytes)> ReadTokenizerFileAsync(IBlobStore store, ArtifactManifest manifest, CancellationToken ct)
    {
        var path = StorePaths.ArtifactPrefix(manifest.Stage, manifest.ArtifactId) + TokenizerFileName;
        try
        {
            return (path, await store.ReadAllBytesAsync(path, ct).ConfigureAwait(false));
        }
        catch (BlobNotFoundException e)
        {
            throw new InvalidDataException($"{path}: listed in the manifest but missing from the store", e);
        }
    }

    /// <summary>Runs a read of the tokenizer file, turning a malformed file into an error that names it.</summary>
    private static T ReadTokenizer<T>(string path, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or JsonException or KeyNotFoundException)
        {
            throw new InvalidDataException($"{path}: not a tokenizer weights file: {e.Message}", e);
        }
    }

    private static void CheckBottleneck(string path, TokenizerConfig c, LatentsLayout layout)
    {
        if (c.Latents != layout.Tokens || c.LatentDim != layout.Dim)
            throw new InvalidDataException($"{path}: the tokenizer's bottleneck is {c.Latents}x{c.LatentDim} but the latents table holds {layout.Tokens}x{layout.Dim}");
    }

    internal static IEnumerable<int> AvailableHorizons(DynamicsTrainingConfig training) =>
        DynamicsEvaluation.Horizons.Where(h => h <= training.EvalHorizon);

    internal static int LargestSamplingSteps(DynamicsConfig model) => DynamicsEvaluation.SamplingSteps.Where(k => k <= model.KMax).Max();
}

/// <summary>The work of one train-dynamics run: training under the lease with checkpoints, evaluation, outputs, commit.</summary>
internal sealed class TrainDynamicsRun(StageContext ctx, IBlobStore store, TrainDynamicsSection settings, DynamicsConfig modelConfig,
    DynamicsTrainingConfig training, JsonObject config, string artifactId, LatentsData data, CausalTokenizer tokenizer, Device device,
    string runId, Action<long>? afterStep)
{
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(2);
    private readonly ArtifactWriter _writer = new(store, TrainDynamicsStage.StageName, artifactId);
    private readonly ILogger _log = ctx.Log;
    private ulong Seed => unchecked((ulong)settings.Seed);
    private string ConfigHash => CanonicalJson.Sha256Hex(config);
    private TimeSpan LeaseDuration => TimeSpan.FromSeconds(settings.LeaseSeconds);

    /// <summary>Trains (or resumes) under the artifact's lease and commits; when another worker commits meanwhile, returns theirs.</summary>
    public async Task<CommittedArtifact> TrainAndCommitAsync(CommittedArtifact latents, ManifestCode code, CancellationToken ct)
    {
        var catalog = new ArtifactCatalog(store);
        return await LeaseHolder.RunOnceAsync(store, StorePaths.Lock(TrainDynamicsStage.StageName, artifactId), LeaseDuration, _log,
            () => catalog.TryGetAsync(TrainDynamicsStage.StageName, artifactId, ct),
            async lease =>
            {
                var outcome = await TrainAsync(lease, ct).ConfigureAwait(false);
                if (lease.IsLost) throw new IOException($"lost the training lease of {artifactId}: another worker took over");
                return await CommitAsync(outcome, latents, code, ct).ConfigureAwait(false);
            },
            () => _log.LogInformation("another worker is training {ArtifactId}; waiting for it to commit", artifactId), Poll, ct).ConfigureAwait(false);
    }

    private sealed record Outcome(List<ManifestOutput> Outputs, Dictionary<string, double> Metrics);

    /// <summary>The split evaluations run on: validation when it has a full window, else train (with a warning).</summary>
    private (LatentSet Set, string Split) EvaluationSet()
    {
        var length = training.EvalContext + training.EvalHorizon;
        bool HasWindow(LatentSet s) => s.WindowStarts(length, length).Length > 0;
        if (data.Validation is { } validation && HasWindow(validation)) return (validation, FramesTable.ValidationSplit);
        if (!HasWindow(data.Train))
            throw new StageInputException($"no episode has {length} consecutive frames (TrainDynamics:EvalContext {training.EvalContext} + "
                + $"EvalHorizon {training.EvalHorizon}) to evaluate on; lower them or provide longer episodes");
        _log.LogWarning(data.Validation == null
            ? "the tokenize artifact has no validation episodes: evaluating on the train split"
            : "no validation episode has {Length} consecutive frames: evaluating on the train split", length);
        return (data.Train, FramesTable.TrainSplit);
    }

    private async Task<Outcome> TrainAsync(LeaseHolder lease, CancellationToken ct)
    {
        if (data.Train.WindowStarts(training.SequenceLength).Length == 0)
            throw new StageInputException($"no train episode has TrainDynamics:SequenceLength = {training.SequenceLength} consecutive frames; lower it or provide longer episodes");
        var (eval, split) = EvaluationSet();
        var checkpoints = new CheckpointStore(store, TrainDynamicsStage.StageName, artifactId, settings.KeepCheckpoints);
        using var trainer = new DynamicsTrainer(modelConfig, data.ActionSpace, training, data.Train, Seed, device);
        var curve = new JsonArray();
        double trainSeconds = 0;
        if (await checkpoints.LoadLatestAsync(ConfigHash, ct).ConfigureAwait(false) is { } latest)
        {
            var extra = latest.State.Extra;
            new TrainerCheckpoint(latest.Step, await latest.ReadFileAsync(TrainerCheckpoint.ModelFile, ct).ConfigureAwait(false),
                await latest.ReadFileAsync(TrainerCheckpoint.OptimizerFile, ct).ConfigureAwait(false),
                latest.State.Rng, latest.State.DataCursor, extra).RestoreInto(trainer);
            curve = extra["curve"]?.DeepClone().AsArray() ?? new JsonArray();
            trainSeconds = extra["trainSeconds"]?.GetValue<double>() ?? 0;
            _log.LogInformation("resumed {ArtifactId} from checkpoint step {Step}", artifactId, latest.Step);
        }
        _log.LogInformation("training the {Preset} dynamics model ({Objective}): {Parameters:N0} parameters, {Steps} steps of {Batch}x{Length} frames, "
            + "{Windows} windows ({Labeled} with actions, drawn {LabeledDraws}x); evaluating on {Split} every {EvalEvery} steps",
            settings.Preset, training.Objective, trainer.Model.ParameterCount(), training.Steps, training.BatchSize, training.SequenceLength,
            trainer.TrainingWindows - trainer.LabeledWindows * training.LabeledOversample, trainer.LabeledWindows, 1 + training.LabeledOversample,
            split, training.EvalEvery);

        DynamicsEvalResult? last = null;
        using var work = CancellationTokenSource.CreateLinkedTokenSource(ct, lease.LeaseLost);
        var loop = new TrainingLoop("dynamics training", training.Steps, training.CheckpointEvery, lease, artifactId);
        trainSeconds = await loop.RunAsync(trainSeconds, () => trainer.Step, seconds =>
        {
            var r = trainer.TrainStep();
            if (r.Step % training.EvalEvery == 0 || trainer.Done) last = Evaluate(trainer, eval, curve, seconds(), r);
            return (r.Step, $"loss {r.Loss:0.0000} flow {r.Flow:0.0000}");
        }, seconds => SaveAsync(checkpoints, trainer, curve, seconds), afterStep, ct).ConfigureAwait(false);
        // Resumed from the final checkpoint (a crash before the commit): the last evaluation is recomputed, not re-recorded.
        if (last == null)
        {
            last = EvaluateAveraged(trainer, eval);
            if (curve.Count == 0 || curve[^1]!["step"]!.GetValue<long>() != trainer.Step)
                curve.Add(CurvePoint(trainer.Step, trainSeconds, last.Metrics, null));
        }
        return await WriteOutputsAsync(trainer, last, curve, split, trainSeconds, work.Token).ConfigureAwait(false);
    }

    /// <summary>The evaluation of the model the stage stores: the weight average when there is one.</summary>
    private DynamicsEvalResult EvaluateAveraged(DynamicsTrainer trainer, LatentSet eval)
    {
        using (trainer.AveragedWeights())
        {
            var result = DynamicsEvaluation.Evaluate(trainer.Model, tokenizer, eval, training, Seed, device, settings.VideoWindows);
            // The same ratio over many training episodes: the validation split may hold only a few labeled ones.
            if (training.TrainShuffleWindows > 0 && !ReferenceEquals(eval, data.Train))
            {
                var (ratio, windows, episodes) = DynamicsEvaluation.ActionShuffleRatio(trainer.Model, data.Train, training, training.TrainShuffleWindows, Seed, device);
                if (!double.IsFinite(ratio)) return result; // fewer than two labeled train windows
                result.Metrics["train_action_shuffle_ratio"] = ratio;
                result.Metrics["train_shuffle_windows"] = windows;
                result.Metrics["train_shuffle_episodes"] = episodes;
            }
            return result;
        }
    }

    /// <summary>One evaluation: appended to the curve and logged with its key metrics.</summary>
    private DynamicsEvalResult Evaluate(DynamicsTrainer trainer, LatentSet eval, JsonArray curve, double seconds, DynamicsStepResult step)
    {
        var result = EvaluateAveraged(trainer, eval);
        curve.Add(CurvePoint(step.Step, seconds, result.Metrics, step));
        var m = result.Metrics;
        var k = TrainDynamicsStage.LargestSamplingSteps(modelConfig);
        var h = TrainDynamicsStage.AvailableHorizons(training).Max();
        _log.LogInformation("step {Step}: psnr_k{K}_h{H} {Psnr:0.00} dB, floor_h{H} {Floor:0.00} dB, gain_k{K}_h{H} {Gain:+0.00;-0.00} dB, "
            + "pooled_gain_k{K}_h{H} {PooledGain:+0.00;-0.00} dB, rollout_action_gain_k{K}_h{H} {ActionGain:+0.00;-0.00} dB, "
            + "action_shuffle_ratio {ShuffleRatio:0.000}, flow_loss {FlowLoss:0.00000} ({Windows} windows of {Episodes} episodes), train loss {Loss:0.0000}, {Seconds:0}s",
            step.Step, k, h, m.GetValueOrDefault($"psnr_k{k}_h{h}", double.NaN), h, m.GetValueOrDefault($"floor_h{h}", double.NaN),
            k, h, m.GetValueOrDefault($"gain_k{k}_h{h}", double.NaN), k, h, m.GetValueOrDefault($"pooled_gain_k{k}_h{h}", double.NaN),
            k, h, m.GetValueOrDefault($"rollout_action_gain_k{k}_h{h}", double.NaN), m["action_shuffle_ratio"], m["flow_loss"], result.Windows, result.Episodes.Count, step.Loss, seconds);
        if (m.TryGetValue("train_action_shuffle_ratio", out var trainRatio))
            _log.LogInformation("step {Step}: train_action_shuffle_ratio {TrainShuffleRatio:0.000} ({TrainWindows} train windows of {TrainEpisodes} episodes)",
                step.Step, trainRatio, m["train_shuffle_windows"], m["train_shuffle_episodes"]);
        return result;
    }

    private static JsonObject CurvePoint(long step, double seconds, Dictionary<string, double> metrics, DynamicsStepResult? train)
    {
        var point = new JsonObject { ["step"] = step, ["seconds"] = Math.Round(seconds, 1) };
        foreach (var (key, value) in metrics.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            point[key] = double.IsFinite(value) ? value : null;
        if (train is { } r)
        {
            point["train_loss"] = Finite(r.Loss);
            point["train_flow"] = Finite(r.Flow);
            point["train_bootstrap"] = Finite(r.Bootstrap);
            point["learning_rate"] = r.LearningRate;
        }
        return point;
    }

    private static JsonNode? Finite(double value) => double.IsFinite(value) ? JsonValue.Create(value) : null;

    /// <summary>Writes a complete checkpoint even while cancellation is pending: never half a checkpoint.</summary>
    private Task SaveAsync(CheckpointStore checkpoints, DynamicsTrainer trainer, JsonArray curve, double trainSeconds)
    {
        var c = TrainerCheckpoint.Capture(trainer, new JsonObject { ["curve"] = curve.DeepClone(), ["trainSeconds"] = trainSeconds });
        return checkpoints.SaveAsync(new CheckpointState(c.Step, ConfigHash, c.Rng, c.Cursor) { Extra = c.Extra }, c.Files(), CancellationToken.None);
    }

    private async Task<Outcome> WriteOutputsAsync(DynamicsTrainer trainer, DynamicsEvalResult last, JsonArray curve, string split, double trainSeconds,
        CancellationToken ct)
    {
        var outputs = new List<ManifestOutput>();
        using (var weights = new MemoryStream())
        {
            using (trainer.AveragedWeights())
                DynamicsFile.Save(weights, trainer.Model, new Dictionary<string, string>
                {
                    ["step"] = trainer.Step.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["artifact_id"] = artifactId,
                    ["tokenize_artifact_id"] = data.TokenizeArtifactId,
                    ["objective"] = training.Objective.ToString(),
                });
            weights.Position = 0;
            outputs.Add(await _writer.WritePartAsync(TrainDynamicsStage.ModelFile, weights, null, ct).ConfigureAwait(false));
        }

        var frames = (double)trainer.Step * training.BatchSize * training.SequenceLength;
        var metrics = new Dictionary<string, double>();
        foreach (var (key, value) in last.Metrics)
            if (double.IsFinite(value)) metrics[key] = value;
            else _log.LogWarning("final metric {Metric} is {Value}: left out of the manifest", key, value);
        metrics["eval_windows"] = last.Windows;
        metrics["eval_episodes"] = last.Episodes.Count;
        metrics["train_steps"] = trainer.Step;
        metrics["train_seconds"] = Math.Round(trainSeconds, 1);
        metrics["train_frames_per_second"] = trainSeconds > 0 ? Math.Round(frames / trainSeconds, 2) : 0;
        metrics["parameters"] = trainer.Model.ParameterCount();
        metrics["train_frames"] = data.TrainFrames;
        metrics["validation_frames"] = data.ValidationFrames;

        var evalJson = new JsonObject
        {
            ["split"] = split,
            ["windows"] = last.Windows,
            ["episodes"] = new JsonArray(last.Episodes.Select(e => (JsonNode)e).ToArray()),
            ["context"] = training.EvalContext,
            ["horizon"] = training.EvalHorizon,
            ["samplingSteps"] = new JsonArray(DynamicsEvaluation.SamplingSteps.Where(k => k <= modelConfig.KMax).Select(k => (JsonNode)k).ToArray()),
            ["objective"] = training.Objective.ToString(),
            ["tokenizeArtifactId"] = data.TokenizeArtifactId,
            ["final"] = CurvePoint(trainer.Step, trainSeconds, last.Metrics, null),
            ["curve"] = curve.DeepClone(),
        };
        using (var json = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(evalJson, new JsonSerializerOptions { WriteIndented = true })))
            outputs.Add(await _writer.WritePartAsync(TrainDynamicsStage.EvalFile, json, null, ct).ConfigureAwait(false));

        if (last.Video.Count == 0) throw new InvalidOperationException("the final evaluation produced no video frames");
        using (var scratch = ScratchDirectory.Create("train-dynamics"))
        {
            var temp = scratch.File("rollout.mp4");
            await RolloutVideo.EncodeAsync(settings.Ffmpeg, last.Video, last.VideoWidth, last.VideoHeight, data.Layout.Fps, temp, ct).ConfigureAwait(false);
            outputs.Add(await _writer.WritePartFromFileAsync(TrainDynamicsStage.VideoFile, temp, last.Video.Count, ct).ConfigureAwait(false));
        }

        var k = TrainDynamicsStage.LargestSamplingSteps(modelConfig);
        var h = TrainDynamicsStage.AvailableHorizons(training).Max();
        _log.LogInformation("dynamics trained: psnr_k{K}_h{H} {Psnr:0.00} dB (gain {Gain:+0.00;-0.00} dB over copying the last frame, "
            + "pooled over windows {PooledGain:+0.00;-0.00} dB), action_shuffle_ratio {ShuffleRatio:0.000} after {Steps} steps in {Seconds:0}s",
            k, h, metrics.GetValueOrDefault($"psnr_k{k}_h{h}", double.NaN), metrics.GetValueOrDefault($"gain_k{k}_h{h}", double.NaN),
            metrics.GetValueOrDefault($"pooled_gain_k{k}_h{h}", double.NaN),
            metrics.GetValueOrDefault("action_shuffle_ratio", double.NaN), trainer.Step, trainSeconds);
        return new Outcome(outputs, metrics);
    }

    /// <summary>Writes the manifest last, create-only; when another worker committed first, returns theirs.</summary>
    private async Task<CommittedArtifact> CommitAsync(Outcome outcome, CommittedArtifact latents, ManifestCode code, CancellationToken ct)
    {
        var manifest = new ArtifactManifest
        {
            ArtifactId = artifactId,
            Stage = TrainDynamicsStage.StageName,
            RunId = runId,
            Inputs = [latents.AsInput(TrainDynamicsStage.InputBinding)],
            Config = (JsonObject)config.DeepClone(),
            Code = code,
            Environment = CodeVersion.Environment(Torch.Version, Torch.NumThreads, device.ToString()),
            Outputs = outcome.Outputs.OrderBy(o => o.Path, StringComparer.Ordinal).ToList(),
            Metrics = outcome.Metrics,
            StartedAt = _writer.StartedAt,
            CommittedAt = DateTimeOffset.UtcNow,
        };
        var (committed, ours) = await ManifestCommit.CommitOrReadExistingAsync(store, manifest, _log, ct).ConfigureAwait(false);
        if (ours) _log.LogInformation("committed {ArtifactId} (tokenizer {Tokenize})", artifactId, latents.Manifest.ArtifactId);
        return committed;
    }
}
