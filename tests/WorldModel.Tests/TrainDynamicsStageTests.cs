using System.Diagnostics;
using System.Text.Json.Nodes;
using Dreamer.Artifacts;
using Dreamer.Hosting;
using Dreamer.Schemas;
using Dreamer.Stages.TrainDynamics;
using Dreamer.Storage;

namespace Dreamer.WorldModel.Tests;

public sealed class TrainDynamicsStageTests(DynamicsStageFixture fixture) : IClassFixture<DynamicsStageFixture>
{
    private readonly DynamicsStageFixture _fixture = fixture;

    private static string Prefix(string artifactId) => StorePaths.ArtifactPrefix(TrainDynamicsStage.StageName, artifactId);

    [Fact]
    public async Task TrainsEvaluatesRendersAndCommits()
    {
        var root = _fixture.NewStore();
        var result = await TrainDynamicsStage.RunAsync(DynamicsStageFixture.Context(DynamicsStageFixture.Args(root)));
        Assert.False(result.Reused);
        Assert.StartsWith("train-dynamics-", result.ArtifactId);

        using var store = DynamicsStageFixture.Open(root);
        var manifest = (await new ArtifactCatalog(store).ResolveAsync(TrainDynamicsStage.StageName, result.ArtifactId)).Manifest;
        Assert.Equal(["dynamics.safetensors", "eval.json", "rollout.mp4"], manifest.Outputs.Select(o => o.Path));
        Assert.Empty(await new ArtifactCatalog(store).VerifyAsync(manifest));
        var input = Assert.Single(manifest.Inputs);
        Assert.Equal((TrainDynamicsStage.InputBinding, "tokenize", _fixture.Tokenize.ArtifactId), (input.Name, input.Stage, input.ArtifactId));
        Assert.Equal("tiny", manifest.Config["Preset"]!.GetValue<string>());
        Assert.Equal("Shortcut", manifest.Config["Objective"]!.GetValue<string>());
        Assert.Equal(8, manifest.Config["Model"]!["LatentTokens"]!.GetValue<int>()); // from the latents table, not the preset
        Assert.Equal(30, manifest.Metrics["train_steps"]);
        foreach (var key in (string[])["psnr_k4_h4", "psnr_k1_h1", "floor_h4", "gain_k4_h4", "action_shuffle_ratio", "flow_loss", "parameters", "train_frames", "validation_frames"])
            Assert.True(manifest.Metrics.ContainsKey(key), $"metric {key} is missing");
        Assert.InRange(manifest.Metrics["psnr_k4_h4"], 3, 80);
        // Pooled over windows: one PSNR of the mean squared error, never above the mean of per-window PSNRs (convexity).
        var m = manifest.Metrics;
        Assert.Equal(m["pooled_psnr_k4_h4"] - m["pooled_floor_h4"], m["pooled_gain_k4_h4"], 9);
        Assert.InRange(m["pooled_psnr_k4_h4"], 3, m["psnr_k4_h4"] + 1e-9);
        Assert.InRange(m["pooled_floor_h4"], 3, m["floor_h4"] + 1e-9);
        Assert.True(double.IsFinite(m["rollout_action_gain_k4_h1"] + m["rollout_action_gain_k4_h4"]), "rollout action gain is missing");
        Assert.True(manifest.Metrics["action_shuffle_ratio"] > 0);
        // Read on the train split too (the tiny preset's 4 windows), beside the validation split's one episode.
        Assert.Equal(4, m["train_shuffle_windows"]);
        Assert.InRange(m["train_shuffle_episodes"], 1, 4);
        Assert.InRange(m["train_action_shuffle_ratio"], 0.5, 2);
        Assert.Equal(_fixture.Frames.Episodes[1].Length, manifest.Metrics["validation_frames"]);

        // The weights rebuild the model on their own: config and action space travel in the file.
        var prefix = Prefix(result.ArtifactId);
        using (var model = DynamicsFile.Load(new MemoryStream(await store.ReadAllBytesAsync(prefix + TrainDynamicsStage.ModelFile))))
        {
            Assert.Equal((8, 8, 4), (model.Config.LatentTokens, model.Config.LatentDim, model.Config.KMax));
            var action = Assert.Single(model.ActionSpace);
            Assert.Equal(ActionKind.Categorical, action.Kind);
            Assert.Equal(Game.ActionSpace.Names, action.Labels);
        }

        var eval = JsonNode.Parse(await store.ReadAllBytesAsync(prefix + TrainDynamicsStage.EvalFile))!;
        Assert.Equal([15L, 30L], eval["curve"]!.AsArray().Select(c => c!["step"]!.GetValue<long>()));
        Assert.Equal(FramesTable.ValidationSplit, eval["split"]!.GetValue<string>());
        // The windows' episodes by name: here the one validation episode.
        Assert.Equal([_fixture.Frames.Episodes[1].Id], eval["episodes"]!.AsArray().Select(e => e!.GetValue<string>()));
        Assert.Equal(1, manifest.Metrics["eval_episodes"]);
        Assert.Equal(manifest.Metrics["psnr_k4_h4"], eval["final"]!["psnr_k4_h4"]!.GetValue<double>());

        // Two windows of (2 context + 4 imagined) frames of 64x64, side by side and stacked, upscaled 4x.
        var video = Path.Combine(root, prefix, TrainDynamicsStage.VideoFile);
        Assert.True(new FileInfo(video).Length > 0);
        var probe = await RunAsync("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
            "-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "csv=p=0", video);
        Assert.Equal("h264,512,512,6", probe.Trim());
        Assert.Equal(6, manifest.Outputs.Single(o => o.Path == TrainDynamicsStage.VideoFile).Rows);

        var again = await TrainDynamicsStage.RunAsync(DynamicsStageFixture.Context(DynamicsStageFixture.Args(root)));
        Assert.True(again.Reused);
        Assert.Equal(result.ArtifactId, again.ArtifactId);
    }

    [Fact]
    public async Task ResumeAfterCancellationReachesTheSameWeights()
    {
        var interrupted = _fixture.NewStore();
        var straight = _fixture.NewStore();
        string[] Args(string root) => DynamicsStageFixture.Args(root, "--set", "TrainDynamics:CheckpointEvery=5");

        // Cancelled after step 12 (checkpoints at 5 and 10): the stage checkpoints step 12 on its way out.
        using var cancel = new CancellationTokenSource();
        var stage = new TrainDynamicsStage { AfterStep = step => { if (step == 12) cancel.Cancel(); } };
        var context = DynamicsStageFixture.Context(Args(interrupted), cancel.Token);
        var plan = await stage.PlanAsync(context);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stage.RunAsync(context, plan));
        using (var store = DynamicsStageFixture.Open(interrupted))
        {
            var checkpoint = await new CheckpointStore(store, TrainDynamicsStage.StageName, plan.ArtifactId).LoadLatestAsync();
            Assert.NotNull(checkpoint);
            Assert.Equal(12, checkpoint.Step);
            Assert.Empty(checkpoint.State.Extra["curve"]!.AsArray()); // no evaluation before step 15
            Assert.False(await new ArtifactCatalog(store).IsCommittedAsync(TrainDynamicsStage.StageName, plan.ArtifactId));
        }
        var resumed = await TrainDynamicsStage.RunAsync(DynamicsStageFixture.Context(Args(interrupted)));
        Assert.Equal(plan.ArtifactId, resumed.ArtifactId);
        Assert.False(resumed.Reused);

        // Uninterrupted, on a copy of the same store: same tokenize artifact, so the same id and the same bytes.
        var reference = await TrainDynamicsStage.RunAsync(DynamicsStageFixture.Context(Args(straight)));
        Assert.Equal(plan.ArtifactId, reference.ArtifactId);
        using var a = DynamicsStageFixture.Open(interrupted);
        using var b = DynamicsStageFixture.Open(straight);
        var ma = (await new ArtifactCatalog(a).ResolveAsync(TrainDynamicsStage.StageName, resumed.ArtifactId)).Manifest;
        var mb = (await new ArtifactCatalog(b).ResolveAsync(TrainDynamicsStage.StageName, reference.ArtifactId)).Manifest;
        string Sha(ArtifactManifest m, string path) => m.Outputs.Single(o => o.Path == path).Sha256;
        Assert.Equal(Sha(mb, TrainDynamicsStage.ModelFile), Sha(ma, TrainDynamicsStage.ModelFile));
        Assert.Equal(Hashing.Sha256Hex(await b.ReadAllBytesAsync(Prefix(reference.ArtifactId) + TrainDynamicsStage.ModelFile)),
            Hashing.Sha256Hex(await a.ReadAllBytesAsync(Prefix(resumed.ArtifactId) + TrainDynamicsStage.ModelFile)));
        Assert.Equal(mb.Metrics["psnr_k4_h4"], ma.Metrics["psnr_k4_h4"]);
        // The resumed run continued the curve the checkpoint carried.
        var curve = JsonNode.Parse(await a.ReadAllBytesAsync(Prefix(resumed.ArtifactId) + TrainDynamicsStage.EvalFile))!["curve"]!.AsArray();
        Assert.Equal([15L, 30L], curve.Select(c => c!["step"]!.GetValue<long>()));
    }

    [Fact]
    public async Task AnArtifactOfAnotherStageIsBadInputNamingIt()
    {
        var root = _fixture.NewStore();
        var args = DynamicsStageFixture.Args(root);
        args[3] = _fixture.Frames.FramesId;
        var e = await Assert.ThrowsAsync<StageInputException>(() => new TrainDynamicsStage().PlanAsync(DynamicsStageFixture.Context(args)));
        Assert.Contains(_fixture.Frames.FramesId, e.Message);
        Assert.Contains("artifact of stage 'ingest'", e.Message);
        Assert.Contains("tokenize", e.Message);
        var stage = new TrainDynamicsStage();
        Assert.Equal(ExitCodes.BadInput, await StageHost.RunAsync(TrainDynamicsStage.StageName, args, stage.PlanAsync, stage.RunAsync));
        args[3] = "tokenize-0000000000000000";
        Assert.Equal(ExitCodes.BadInput, await StageHost.RunAsync(TrainDynamicsStage.StageName, args, stage.PlanAsync, stage.RunAsync));
    }

    [Fact]
    public async Task ATokenizeArtifactWithoutLatentsIsBadInputNamingThem()
    {
        var root = _fixture.NewStore();
        using var store = DynamicsStageFixture.Open(root);
        // A committed tokenize artifact that holds the tokenizer but no latents table.
        var id = "tokenize-" + Guid.NewGuid().ToString("N")[..16];
        var writer = new ArtifactWriter(store, "tokenize", id);
        var tokenizer = await store.ReadAllBytesAsync(StorePaths.ArtifactPrefix("tokenize", _fixture.Tokenize.ArtifactId) + TrainDynamicsStage.TokenizerFileName);
        await writer.WritePartAsync(TrainDynamicsStage.TokenizerFileName, new MemoryStream(tokenizer));
        await writer.CommitAsync("test-run", 1, [], [], new JsonObject(), new ManifestCode("test", null, null),
            CodeVersion.Environment(null, 1, null), new Dictionary<string, double>());

        var args = DynamicsStageFixture.Args(root);
        args[3] = id;
        var e = await Assert.ThrowsAnyAsync<Exception>(() => new TrainDynamicsStage().PlanAsync(DynamicsStageFixture.Context(args)));
        Assert.True(e is InvalidDataException or StageInputException, e.ToString());
        Assert.Contains(id, e.Message);
        Assert.Contains("latents/part-", e.Message);
        var stage = new TrainDynamicsStage();
        Assert.Equal(ExitCodes.BadInput, await StageHost.RunAsync(TrainDynamicsStage.StageName, args, stage.PlanAsync, stage.RunAsync));
        Assert.Null(await new ArtifactCatalog(store).LatestAsync(TrainDynamicsStage.StageName));
    }

    [Fact]
    public async Task ShardingObjectiveAndPresetAreValidatedUpFront()
    {
        var root = _fixture.NewStore();
        var stage = new TrainDynamicsStage();
        async Task<int> Run(params string[] extra) =>
            await StageHost.RunAsync(TrainDynamicsStage.StageName, DynamicsStageFixture.Args(root, extra), stage.PlanAsync, stage.RunAsync);
        Assert.Equal(ExitCodes.BadInput, await Run("--shard", "1/2"));
        Assert.Equal(ExitCodes.BadInput, await Run("--set", "TrainDynamics:Objective=Diffusion"));
        Assert.Equal(ExitCodes.BadInput, await Run("--set", "TrainDynamics:Preset=huge"));
        Assert.Equal(ExitCodes.BadInput, await Run("--set", "TrainDynamics:Model:Pack=3"));
        // Pack is checked against the data's latent shape (8 tokens), not the preset's.
        var pack = await Assert.ThrowsAsync<StageInputException>(() => new TrainDynamicsStage().PlanAsync(
            DynamicsStageFixture.Context(DynamicsStageFixture.Args(root, "--set", "TrainDynamics:Model:Pack=3"))));
        Assert.Contains("Pack must divide LatentTokens 8", pack.Message);
        Assert.Equal(ExitCodes.BadInput, await Run("--set", "TrainDynamics:Ffmpeg=/nonexistent/ffmpeg"));
        // The per-action previous-frame maps need PreviousInput, and a categorical action the fixture's latents have.
        Assert.Equal(ExitCodes.BadInput, await Run("--set", "TrainDynamics:Model:PreviousPerAction=true"));
        var perAction = await new TrainDynamicsStage().PlanAsync(DynamicsStageFixture.Context(DynamicsStageFixture.Args(root,
            "--set", "TrainDynamics:Model:PreviousInput=true", "--set", "TrainDynamics:Model:PreviousPerAction=true")));
        Assert.True(perAction.Config["Model"]!["PreviousPerAction"]!.GetValue<bool>());
        // Adaptive norm is a model setting: in the effective config (another artifact) when on, absent when off.
        var adaptive = await new TrainDynamicsStage().PlanAsync(DynamicsStageFixture.Context(DynamicsStageFixture.Args(root, "--set", "TrainDynamics:Model:AdaptiveNorm=true")));
        Assert.True(adaptive.Config["Model"]!["AdaptiveNorm"]!.GetValue<bool>());
        Assert.Null(perAction.Config["Model"]!["AdaptiveNorm"]);
        // PreviousReach's grid is the data's: the tiny tokenizer has none.
        var reach = await Assert.ThrowsAsync<StageInputException>(() => new TrainDynamicsStage().PlanAsync(DynamicsStageFixture.Context(DynamicsStageFixture.Args(root,
            "--set", "TrainDynamics:Model:PreviousInput=true", "--set", "TrainDynamics:Model:PreviousReach=1"))));
        Assert.Contains("PreviousReach 1 needs PreviousInput and a latent grid", reach.Message);
        // Grid positions need a tokenizer whose latents lie on a grid; the tiny one's do not.
        var grid = await Assert.ThrowsAsync<StageInputException>(() => new TrainDynamicsStage().PlanAsync(
            DynamicsStageFixture.Context(DynamicsStageFixture.Args(root, "--set", "TrainDynamics:Model:GridPositions=true"))));
        Assert.Contains(_fixture.Tokenize.ArtifactId, grid.Message);
        Assert.Contains("LatentGrid", grid.Message);
        // The small preset asks for grid positions by default: without a grid its tokens keep sequence positions.
        var small = await new TrainDynamicsStage().PlanAsync(DynamicsStageFixture.Context(DynamicsStageFixture.Args(root, "--set", "TrainDynamics:Preset=small")));
        Assert.True(DynamicsPresets.Small.GridPositions);
        Assert.Null(small.Config["Model"]!["LatentGridCols"]);
        Assert.True(small.Config["Model"]!["ConditionSpatial"]!.GetValue<bool>());
        Assert.True(small.Config["Model"]!["AdaptiveNorm"]!.GetValue<bool>());
        // Its per-action maps stay (the fixture's action is categorical); their neighbourhood needs the grid and is dropped.
        Assert.True(small.Config["Model"]!["PreviousPerAction"]!.GetValue<bool>());
        Assert.Equal(30, small.Config["Model"]!["PreviousMapGain"]!.GetValue<double>());
        Assert.Null(small.Config["Model"]!["PreviousReach"]);

        // The objective is part of the effective configuration: another objective, another artifact.
        var shortcut = await new TrainDynamicsStage().PlanAsync(DynamicsStageFixture.Context(DynamicsStageFixture.Args(root)));
        var clean = await new TrainDynamicsStage().PlanAsync(DynamicsStageFixture.Context(DynamicsStageFixture.Args(root, "--set", "TrainDynamics:Objective=cleancontext")));
        Assert.NotEqual(shortcut.ArtifactId, clean.ArtifactId);
        Assert.Equal("CleanContext", clean.Config["Training"]!["Objective"]!.GetValue<string>());
        // Threads and checkpoint cadence change how the work runs, not what it makes.
        var threads = await new TrainDynamicsStage().PlanAsync(DynamicsStageFixture.Context(DynamicsStageFixture.Args(root, "--set", "TrainDynamics:Threads=2", "--set", "TrainDynamics:CheckpointEvery=3")));
        Assert.Equal(shortcut.ArtifactId, threads.ArtifactId);
        Assert.Equal(shortcut.Inputs[TrainDynamicsStage.InputBinding], _fixture.Tokenize.ArtifactId);
    }

    [Fact]
    public void PresetsResolveWithOverridesAndTheDataShape()
    {
        var section = new TrainDynamicsSection { Preset = "small", Steps = 10, Objective = "CleanContext", Model = new DynamicsModelSection { KMax = 4, Transformer = new SpaceTimeOverrides { Layers = 2 } } };
        var (model, training) = section.Resolve(24, 12);
        Assert.Equal(10, training.Steps);
        Assert.Equal(10, training.WarmupSteps); // clipped to the step count
        Assert.Equal(DynamicsObjective.CleanContext, training.Objective);
        Assert.Equal((24, 12, 4, 2), (model.LatentTokens, model.LatentDim, model.KMax, model.Transformer.Layers));
        Assert.Equal(new DynamicsConfig().Transformer.Dim, model.Transformer.Dim);
        Assert.Empty(section.Validate());
        // The RoPE base is settable (a short latent grid turns only the fastest pairs of the default base).
        Assert.Equal(10000, model.Transformer.RopeTheta);
        var theta = new TrainDynamicsSection { Preset = "small", Model = new DynamicsModelSection { Transformer = new SpaceTimeOverrides { RopeTheta = 100 } } };
        Assert.Equal(100, theta.Resolve(24, 12).Model.Transformer.RopeTheta);
        Assert.Contains(new TrainDynamicsSection { Model = new DynamicsModelSection { Transformer = new SpaceTimeOverrides { RopeTheta = 1 } } }.Validate(),
            p => p.Contains("RopeTheta must be greater than 1 (got 1)"));
        // PreviousReach needs PreviousInput up front; its grid is the data's, checked when the stage plans.
        Assert.Contains(new TrainDynamicsSection { Model = new DynamicsModelSection { PreviousReach = 1, PreviousInput = false } }.Validate(),
            p => p.Contains("TrainDynamics:Model:PreviousReach 1 needs TrainDynamics:Model:PreviousInput=true"));
        Assert.Empty(new TrainDynamicsSection { Model = new DynamicsModelSection { PreviousReach = 1, PreviousInput = true } }.Validate());
        Assert.Contains(new TrainDynamicsSection { Preset = "tiny", SequenceLength = 99 }.Validate(), p => p.Contains("ContextFrames"));
        // The level draw is settable and checked under its setting's name.
        var levels = new TrainDynamicsSection { Preset = "small", LevelDrawScale = 1, LevelDrawMean = -0.5 }.Resolve(24, 12).Training;
        Assert.Equal((1.0, -0.5), (levels.LevelDrawScale, levels.LevelDrawMean));
        Assert.Equal(0, section.Resolve(24, 12).Training.LevelDrawScale);
        Assert.Contains(new TrainDynamicsSection { LevelDrawScale = -1 }.Validate(), p => p.Contains("TrainDynamics:LevelDrawScale must be a non-negative number (got -1)"));
        Assert.Equal(3, new TrainDynamicsSection { LabeledOversample = 3 }.Resolve(24, 12).Training.LabeledOversample);
        Assert.Equal(0, new TrainDynamicsSection { TrainShuffleWindows = 0 }.Resolve(24, 12).Training.TrainShuffleWindows);
        Assert.Equal(32, section.Resolve(24, 12).Training.TrainShuffleWindows);
        Assert.Contains(new TrainDynamicsSection { TrainShuffleWindows = -1 }.Validate(), p => p.Contains("TrainDynamics:TrainShuffleWindows must not be negative (got -1)"));
        Assert.Contains(new TrainDynamicsSection { LabeledOversample = -1 }.Validate(), p => p.Contains("TrainDynamics:LabeledOversample must lie in [0, 100] (got -1)"));
        var (tiny, tinyTraining) = new TrainDynamicsSection { Preset = "tiny" }.Resolve(8, 8);
        Assert.Equal((32L, 2, 4, 8), (tiny.Transformer.Dim, tiny.Pack, tiny.KMax, tiny.ContextFrames));
        Assert.Equal((30, 4, 4, 10, 15), (tinyTraining.Steps, tinyTraining.BatchSize, tinyTraining.SequenceLength, tinyTraining.BootstrapStart, tinyTraining.EvalEvery));
        // The grid width is the tokenizer's, used only when GridPositions is on (and then part of the model config).
        Assert.Equal(6, section.Resolve(24, 12, latentGridCols: 6).Model.LatentGridCols); // the small preset's default
        Assert.Equal(0, new TrainDynamicsSection { Preset = "tiny" }.Resolve(24, 12, latentGridCols: 6).Model.LatentGridCols);
        Assert.Equal(0, new TrainDynamicsSection { Preset = "small", Model = new DynamicsModelSection { GridPositions = false } }
            .Resolve(24, 12, latentGridCols: 6).Model.LatentGridCols);
        // The small preset's per-action neighbourhood maps need a grid and a categorical action: without them the preset's are
        // dropped, set ones are kept (and the stage reports them).
        var maps = section.Resolve(24, 12, latentGridCols: 6, categoricalAction: true).Model;
        Assert.Equal((true, 1, true, (double?)30), (maps.PreviousInput, maps.PreviousReach, maps.PreviousPerAction, maps.PreviousMapGain));
        Assert.Empty(maps.Validate());
        var noAction = section.Resolve(24, 12, latentGridCols: 6, categoricalAction: false).Model;
        Assert.Equal((1, false, (double?)null), (noAction.PreviousReach, noAction.PreviousPerAction, noAction.PreviousMapGain));
        Assert.Empty(noAction.Validate());
        Assert.Equal(0, section.Resolve(24, 12, latentGridCols: null, categoricalAction: true).Model.PreviousReach);
        var explicitMaps = new TrainDynamicsSection { Preset = "small", Model = new DynamicsModelSection { PreviousReach = 1, PreviousPerAction = true } }
            .Resolve(24, 12, latentGridCols: null, categoricalAction: false).Model;
        Assert.Equal((1, true), (explicitMaps.PreviousReach, explicitMaps.PreviousPerAction));
        Assert.Contains(explicitMaps.Validate(), p => p.Contains("PreviousReach 1 needs PreviousInput and a latent grid"));
        Assert.Equal(4, new TrainDynamicsSection { Preset = "small", Model = new DynamicsModelSection { PreviousMapGain = 4 } }.Resolve(24, 12).Model.PreviousMapGain);
        Assert.Contains(new TrainDynamicsSection { Preset = "small", Model = new DynamicsModelSection { PreviousPerAction = false, PreviousMapGain = 4 } }.Validate(),
            p => p.Contains("TrainDynamics:Model:PreviousMapGain needs PreviousPerAction"));
        var gridded = new TrainDynamicsSection { Preset = "tiny", Model = new DynamicsModelSection { GridPositions = true } };
        Assert.Equal(8, gridded.Resolve(32, 16, latentGridCols: 8).Model.LatentGridCols);
        Assert.Empty(gridded.Resolve(32, 16, latentGridCols: 8).Model.Validate());
        Assert.Contains(gridded.Resolve(32, 16, latentGridCols: 5).Model.Validate(), p => p.Contains("LatentGridCols"));
        var (large, largeTraining) = new TrainDynamicsSection { Preset = "base" }.Resolve(64, 16);
        Assert.Equal((512L, 8, 32, 40_000, 16, 32), (large.Transformer.Dim, large.Transformer.Layers, large.ContextFrames, largeTraining.Steps, largeTraining.BatchSize, largeTraining.SequenceLength));
    }

    private static async Task<string> RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{file} failed: {await stderr}");
        return await stdout;
    }
}
