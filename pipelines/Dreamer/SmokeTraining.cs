using System.Text.Json.Nodes;
using Dreamer.Artifacts;
using Dreamer.Hosting;
using Dreamer.Schemas;
using Dreamer.Storage;
using Dreamer.Torch;
using Dreamer.Torch.Optim;
using Dreamer.WorldModel;

namespace Dreamer.Cli;

using Torch = Dreamer.Torch.Torch;

/// <summary>Settings of the engine smoke run; part of its artifact id.</summary>
public sealed record SmokeSettings(int Steps, int CheckpointEvery, long Seed, int Threads)
{
    public static readonly SpaceTimeConfig Model = new() { Dim = 64, Heads = 4, KvHeads = 2, Hidden = 192, Layers = 2, TimeEvery = 2 };
    public const long Frames = 8, Tokens = 16, Batch = 2;

    public JsonObject ToJson() => new()
    {
        ["steps"] = Steps, ["checkpointEvery"] = CheckpointEvery, ["seed"] = Seed, ["threads"] = Threads,
        ["model"] = new JsonObject
        {
            ["dim"] = Model.Dim, ["heads"] = Model.Heads, ["kvHeads"] = Model.KvHeads, ["hidden"] = Model.Hidden,
            ["layers"] = Model.Layers, ["timeEvery"] = Model.TimeEvery, ["frames"] = Frames, ["tokens"] = Tokens, ["batch"] = Batch,
        },
    };
}

/// <summary>
/// The engine smoke run: trains the reference space-time transformer on a synthetic next-frame task,
/// deterministically, with checkpoints every N steps and exact resume after a kill, then commits an
/// artifact holding the final weights, with a manifest and lineage events.
/// </summary>
public static class SmokeTraining
{
    public const string Stage = "smoke";

    public static async Task<StageResult> RunAsync(IBlobStore store, SmokeSettings settings, Action<string> say, CancellationToken ct)
    {
        Torch.UseThreads(settings.Threads);
        Torch.DeterministicAlgorithms = true;
        var config = settings.ToJson();
        var code = CodeVersion.ForThisProcess();
        var artifactId = ArtifactIds.Compute(Stage, code.Version, config, new Dictionary<string, string>());
        var catalog = new ArtifactCatalog(store);
        if (await catalog.TryGetAsync(Stage, artifactId, ct) is { } done)
        {
            say($"artifact {artifactId} is already committed: reused");
            return new StageResult(artifactId, Reused: true, done.Manifest.Metrics);
        }

        var lineage = new LineageRecorder(store, Stage);
        var codeInfo = ManifestCodeInfo.From(code);
        await lineage.StartAsync([], codeInfo, null, new Dictionary<string, string> { ["config"] = config.ToJsonString() }, ct);
        try
        {
            var (finalLoss, resumedFrom) = await TrainAsync(store, artifactId, settings, CanonicalJson.Sha256Hex(config), say, ct);
            var writer = new ArtifactWriter(store, Stage, artifactId);
            var checkpoint = await new CheckpointStore(store, Stage, artifactId).LoadLatestAsync(ct)
                             ?? throw new InvalidOperationException("training finished without a checkpoint");
            await using (var weights = await checkpoint.OpenFileAsync("model.safetensors", ct))
                await writer.WritePartAsync("model.safetensors", weights, null, ct);
            var metrics = new Dictionary<string, double> { ["final_loss"] = finalLoss, ["resumed_from_step"] = resumedFrom };
            var manifest = await writer.CommitAsync(lineage.RunId, 1, [], [], config, code,
                CodeVersion.Environment(Torch.Version, Torch.NumThreads, "cpu"), metrics, ct);
            var output = manifest.Outputs.Single();
            await lineage.CompleteAsync([], [new LineageDataset(writer.Prefix, "sha256:" + output.Sha256, Bytes: output.Bytes, Files: 1)], codeInfo, null, ct);
            return new StageResult(artifactId, Reused: false, metrics);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await lineage.FailAsync([], codeInfo, null, e, CancellationToken.None);
            throw;
        }
    }

    private static async Task<(double Loss, long ResumedFrom)> TrainAsync(IBlobStore store, string artifactId, SmokeSettings s,
        string configHash, Action<string> say, CancellationToken ct)
    {
        var checkpoints = new CheckpointStore(store, Stage, artifactId, keepLast: 2);
        Torch.ManualSeed((ulong)s.Seed);
        using var model = new SpaceTimeTransformer(SmokeSettings.Model);
        using var optimizer = new AdamW(model, lr: 1e-3, weightDecay: 0.01);
        // Every token reads every token of its frame; every slot attends causally to its own past.
        var layout = TokenLayout.Grid(4, SmokeSettings.Tokens / 4);

        long step = 0;
        if (await checkpoints.LoadLatestAsync(configHash, ct) is { } latest)
        {
            using (var weights = Safetensors.Load(new MemoryStream(await latest.ReadFileAsync("model.safetensors", ct))))
                model.LoadStateDict(weights.Tensors);
            using (var moments = Safetensors.Load(new MemoryStream(await latest.ReadFileAsync("optimizer.safetensors", ct))))
                optimizer.LoadStateDict(moments.Tensors);
            step = latest.Step;
            say($"resumed from checkpoint step {step}");
        }
        var resumedFrom = step;

        double loss = double.NaN;
        await StageProgress.RunAsync("smoke training", s.Steps, async progress =>
        {
            progress.Report(step);
            var saved = step;
            while (step < s.Steps)
            {
                if (ct.IsCancellationRequested)
                {
                    // Preemption (SIGTERM) or Ctrl+C: keep the progress made, then stop.
                    if (step > saved) await SaveAsync(checkpoints, model, optimizer, step, configHash, s.Seed);
                    ct.ThrowIfCancellationRequested();
                }
                loss = TrainStep(model, optimizer, layout, s.Seed, step);
                step++;
                progress.Report(step, $"loss {loss:0.0000}");
                if (step % s.CheckpointEvery == 0 || step == s.Steps)
                {
                    await SaveAsync(checkpoints, model, optimizer, step, configHash, s.Seed);
                    saved = step;
                }
            }
            return 0;
        });
        return (loss, resumedFrom);
    }

    /// <summary>
    /// One step on batch `step`: the data depends only on (seed, step), so a resumed run sees exactly
    /// the batches an uninterrupted run would. Task: reproduce each frame's previous frame (needs time attention).
    /// </summary>
    private static double TrainStep(SpaceTimeTransformer model, AdamW optimizer, TokenLayout layout, long seed, long step)
    {
        using var scope = Torch.NewDisposeScope();
        using var generator = new Generator((ulong)(seed * 1_000_003 + step));
        var x = Torch.Randn([SmokeSettings.Batch, SmokeSettings.Frames, SmokeSettings.Tokens, SmokeSettings.Model.Dim], generator);
        var target = x.Roll(1, 1);
        optimizer.ZeroGrad();
        var loss = Torch.MseLoss(model.Forward(x, layout), target);
        var value = loss.ToDouble();
        if (!double.IsFinite(value))
            throw new InvalidOperationException($"smoke training: loss is {value} at step {step}; stopping without writing a checkpoint");
        loss.Backward();
        GradClip.ClipGradNorm(model.Parameters(), 1.0);
        optimizer.Step();
        return value;
    }

    /// <summary>Always written whole, even while cancellation is pending: never half a checkpoint.</summary>
    private static async Task SaveAsync(CheckpointStore checkpoints, SpaceTimeTransformer model, AdamW optimizer, long step,
        string configHash, long seed)
    {
        var modelBytes = new MemoryStream();
        Safetensors.Save(modelBytes, model.StateDict(), new Dictionary<string, string> { ["step"] = step.ToString() });
        var optimizerBytes = new MemoryStream();
        var optimizerState = optimizer.StateDict();
        try
        {
            Safetensors.Save(optimizerBytes, optimizerState, new Dictionary<string, string> { ["step"] = step.ToString() });
        }
        finally
        {
            foreach (var t in optimizerState.Values) t.Dispose();
        }
        modelBytes.Position = 0;
        optimizerBytes.Position = 0;
        var state = new CheckpointState(step, configHash, new JsonObject { ["seed"] = seed }, new JsonObject { ["batch"] = step });
        await checkpoints.SaveAsync(state, new Dictionary<string, Stream>
        {
            ["model.safetensors"] = modelBytes,
            ["optimizer.safetensors"] = optimizerBytes,
        }, CancellationToken.None);
    }
}
