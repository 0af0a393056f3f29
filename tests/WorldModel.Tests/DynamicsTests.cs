using System.Text.Json.Nodes;
using Dreamer.Torch;
using Dreamer.Torch.NN;

namespace Dreamer.WorldModel.Tests;

using Torch = Dreamer.Torch.Torch;

public sealed class DynamicsTests
{
    internal static readonly DynamicsConfig Tiny = new()
    {
        Transformer = new SpaceTimeConfig { Dim = 32, Heads = 2, KvHeads = 1, Hidden = 64, Layers = 2, TimeEvery = 1, Registers = 1 },
        LatentTokens = 4, LatentDim = 3, Pack = 2, KMax = 4, ContextFrames = 6,
    };

    /// <summary>The paper's objective and level draw.</summary>
    internal static readonly DynamicsTrainingConfig Paper = new();

    internal static readonly IReadOnlyList<ActionComponentSpec> Moves =
        [new ActionComponentSpec("command", ActionKind.Categorical, ["noop", "left", "right", "up"])];

    /// <summary>
    /// Latents that follow the actions: a position moved by left/right/up, encoded in the latent values,
    /// so the next frame is predictable only from the action (and the past).
    /// </summary>
    internal static LatentSet ActionWorld(int episodes, int length, int seed, int tokens = 4, int dim = 3)
    {
        var random = new Random(seed);
        var n = episodes * length;
        var z = new float[n * tokens * dim];
        var actions = new float[n];
        var labeled = new bool[n];
        var ids = new int[n];
        for (var e = 0; e < episodes; e++)
        {
            double x = random.NextDouble() - 0.5, y = random.NextDouble() - 0.5;
            for (var t = 0; t < length; t++)
            {
                var row = e * length + t;
                ids[row] = e;
                for (var k = 0; k < tokens; k++)
                    for (var d = 0; d < dim; d++)
                        z[(row * tokens + k) * dim + d] = (float)Math.Tanh(((k + d) % 2 == 0 ? x : y) * (1 + k) + 0.1 * d);
                var action = random.Next(4);
                actions[row] = action;
                labeled[row] = true;
                if (action == 1) x -= 0.3;
                if (action == 2) x += 0.3;
                if (action == 3) y += 0.3;
                x = Math.Clamp(x, -0.8, 0.8);
                y = Math.Clamp(y, -0.8, 0.8);
            }
        }
        return new LatentSet(Tensor.From<float>(z.AsSpan(), n, tokens, dim), actions, labeled, ids, 1);
    }

    [Fact]
    public void LatentWindowsCarryTheActionThatLedIntoEachFrame()
    {
        var z = Torch.Arange(6, DType.Float32).View(6, 1, 1);
        using var set = new LatentSet(z, [10, 11, 12, 20, 21, 22], [true, false, true, true, true, true], [0, 0, 0, 1, 1, 1], 1);
        var (latents, actions, labeled) = set.Gather([0, 3], 3, Device.Cpu);
        Assert.Equal([0f, 1, 2, 3, 4, 5], latents.Flatten().ToArray<float>());
        // Frame 0 of an episode has no preceding action; frame t gets row t-1's action and its label.
        Assert.Equal([0f, 10, 11, 0, 20, 21], actions.Flatten().ToArray<float>());
        Assert.Equal([false, true, false, false, true, true], labeled.Flatten().ToArray<bool>());
        // Evaluation windows need every action into their frames: row 1 has none, so episode 0's 3-frame window is out.
        Assert.Equal([3], set.LabeledWindowStarts(3));
        Assert.Equal([0, 3], set.LabeledWindowStarts(2));
    }

    [Fact]
    public void LabeledOversampleDrawsWindowsWithActionsMoreOften()
    {
        // Episode 0 (rows 0-3) has actions, episode 1 (rows 4-7) none, episode 2 (rows 8-11) only into its last frame.
        var labeled = new[] { true, true, true, true, false, false, false, false, false, false, true, true };
        using var set = new LatentSet(Torch.Zeros([12, 4, 3]), new float[12], labeled, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2], 1);
        Assert.Equal([0, 1, 2, 4, 5, 6, 8, 9, 10], DynamicsTrainer.TrainingDraws(set, 2, 0));
        // Windows 0-1, 1-2, 2-3 and 10-11 have an action into their second frame: each enters 1 + 2 times, the rest once.
        var draws = DynamicsTrainer.TrainingDraws(set, 2, 2);
        var counts = draws.GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<int, int> { [0] = 3, [1] = 3, [2] = 3, [4] = 1, [5] = 1, [6] = 1, [8] = 1, [9] = 1, [10] = 3 }, counts);
        using var trainer = new DynamicsTrainer(Tiny, Moves, new DynamicsTrainingConfig { SequenceLength = 2, LabeledOversample = 2 }, set, 1);
        Assert.Equal((17, 4), (trainer.TrainingWindows, trainer.LabeledWindows));
        Assert.Contains(new DynamicsTrainingConfig { LabeledOversample = -1 }.Validate(), p => p.Contains("LabeledOversample must lie in [0, 100] (got -1)"));
        Assert.Contains(new DynamicsTrainingConfig { LabeledOversample = 1_000_000 }.Validate(), p => p.Contains("LabeledOversample must lie in [0, 100] (got 1000000)"));
        // Left out of the config JSON at 0, so the ids of runs without it do not change.
        Assert.DoesNotContain("LabeledOversample", System.Text.Json.JsonSerializer.Serialize(new DynamicsTrainingConfig()));
        Assert.Contains("\"LabeledOversample\":2", System.Text.Json.JsonSerializer.Serialize(new DynamicsTrainingConfig { LabeledOversample = 2 }));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void ForwardIsBlockCausalAndTheCachedPathAgrees(bool conditionSpatial, bool adaptiveNorm)
    {
        using var generator = new Generator(1);
        using var model = new DynamicsModel(Tiny with { ConditionSpatial = conditionSpatial, AdaptiveNorm = adaptiveNorm }, Moves, new ParamOptions(Generator: generator));
        using (Torch.NoGrad())
            foreach (var (name, p) in model.NamedParameters().Where(p => p.Name.StartsWith("head") || p.Name.Contains(".modulation.")))
                p.Normal_(0, 0.5, generator); // the zero-initialised head (and modulation) would hide everything
        using var scope = Torch.NewDisposeScope();
        var z = Torch.Randn([2, 5, 4, 3], generator);
        var signal = Torch.Randint(0, 5, [2, 5], generator);
        var step = Torch.Randint(0, 3, [2, 5], generator);
        var actions = Torch.Randint(0, 4, [2, 5, 1], generator).To(DType.Float32);
        var labeled = Torch.Rand([2, 5], generator) < 0.7;
        var full = model.Forward(z, signal, step, actions, labeled);

        // Changing frame 3 (latents and action) leaves frames 0..2 untouched and changes frame 3.
        var z2 = z.Clone();
        z2.Narrow(1, 3, 1).Add_(1.0);
        var a2 = actions.Clone();
        a2.Narrow(1, 3, 1).Fill_(3);
        var changed = model.Forward(z2, signal, step, a2, labeled);
        Assert.True((full.Narrow(1, 0, 3) - changed.Narrow(1, 0, 3)).Abs().Max().ToDouble() == 0, "a future frame leaked into the past");
        Assert.True((full.Narrow(1, 3, 1) - changed.Narrow(1, 3, 1)).Abs().Max().ToDouble() > 1e-4, "frame 3 did not read its own input");

        // Frame by frame through the KV cache equals the full forward; an uncommitted step leaves the cache as it was.
        using var cache = model.NewCache();
        var parts = new List<Tensor>();
        for (var t = 0; t < 5; t++)
        {
            if (t == 2) model.Forward(z.Narrow(1, t, 1) * 3, signal.Narrow(1, t, 1), step.Narrow(1, t, 1), actions.Narrow(1, t, 1), labeled.Narrow(1, t, 1), cache, commitFrames: 0);
            parts.Add(model.Forward(z.Narrow(1, t, 1), signal.Narrow(1, t, 1), step.Narrow(1, t, 1), actions.Narrow(1, t, 1), labeled.Narrow(1, t, 1), cache));
        }
        var cached = Torch.Cat(parts.ToArray(), 1);
        Assert.True((full - cached).Abs().Max().ToDouble() < 1e-5, $"cached path differs by {(full - cached).Abs().Max().ToDouble()}");

        // The option is left out of the config JSON when off (old model files and artifact ids read as before);
        // on, the same weights give other predictions: the action and noise level now enter every spatial token.
        Assert.Equal(conditionSpatial, System.Text.Json.JsonSerializer.Serialize(model.Config).Contains("\"ConditionSpatial\":true"));
        using var other = new DynamicsModel(model.Config with { ConditionSpatial = !conditionSpatial }, Moves);
        other.LoadStateDict(model.StateDict());
        Assert.True((other.Forward(z, signal, step, actions, labeled) - full).Abs().Max().ToDouble() > 1e-3, "ConditionSpatial changed nothing");
        Assert.Equal(adaptiveNorm, System.Text.Json.JsonSerializer.Serialize(model.Config).Contains("\"AdaptiveNorm\":true"));
    }

    [Fact]
    public void AdaptiveNormStartsAsThePlainModelAndThenReadsTheFramesAction()
    {
        using var generator = new Generator(3);
        using var model = new DynamicsModel(Tiny with { AdaptiveNorm = true }, Moves, new ParamOptions(Generator: generator));
        using var plain = new DynamicsModel(Tiny, Moves);
        using (Torch.NoGrad())
            foreach (var p in model.NamedParameters().Where(p => p.Name.StartsWith("head")))
                p.Parameter.Normal_(0, 0.5, generator);
        var state = model.StateDict();
        // The plain model holds every parameter but the modulation maps (6 or 9 x Dim per block) and the condition's norm.
        var modulation = state.Keys.Where(k => k.Contains(".modulation.") || k.StartsWith("condition_norm")).ToList();
        Assert.Equal(2 * Tiny.Transformer.Layers + 1, modulation.Count);
        Assert.Equal(plain.StateDict().Count, state.Count - modulation.Count);
        plain.LoadStateDict(state.Where(kv => !modulation.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value));
        using var scope = Torch.NewDisposeScope();
        var z = Torch.Randn([2, 4, 4, 3], generator);
        var signal = Torch.Randint(0, 5, [2, 4], generator);
        var step = Torch.Randint(0, 3, [2, 4], generator);
        var actions = Torch.Randint(0, 4, [2, 4, 1], generator).To(DType.Float32);
        var before = model.Forward(z, signal, step, actions, null);
        Assert.True((before - plain.Forward(z, signal, step, actions, null)).Abs().Max().ToDouble() < 1e-6, "zero modulation is not the plain model");

        // Once the maps are non-zero, changing only a frame's action changes that frame through the modulation as well.
        using (Torch.NoGrad())
            foreach (var p in model.NamedParameters().Where(p => p.Name.Contains(".modulation.weight")))
                p.Parameter.Normal_(0, 0.5, generator);
        var other = actions.Clone();
        other.Narrow(1, 2, 1).Fill_(3);
        var changed = (model.Forward(z, signal, step, other, null) - model.Forward(z, signal, step, actions, null)).Abs().Transpose(0, 1).Reshape(4, -1).Amax(1);
        Assert.Equal(0, changed.Narrow(0, 0, 2).Max().ToDouble());
        Assert.True(changed.Narrow(0, 2, 1).ToDouble() > 1e-3, "the action of frame 2 did not reach frame 2");
        Assert.True(DynamicsModel.ForwardFlops(model.Config, 1, 4) > DynamicsModel.ForwardFlops(Tiny, 1, 4));
    }

    [Fact]
    public void GridPositionsPlaceEachPackedTokenOnTheLatentGrid()
    {
        // 32 latents on a 4 x 8 grid, packed in pairs along a row: a 4 x 4 grid of spatial tokens after the
        // action and shortcut tokens at (0, 0).
        var config = Tiny with { LatentTokens = 32, LatentDim = 3, Pack = 2, LatentGridCols = 8 };
        using var model = new DynamicsModel(config, Moves);
        Assert.Equal(new long[] { 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4 }, model.Layout.Rows);
        Assert.Equal(new long[] { 0, 0, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4 }, model.Layout.Cols);
        // Without a grid the tokens form one sequence; the setting is in the config JSON only when on.
        using var sequence = new DynamicsModel(config with { LatentGridCols = 0 }, Moves);
        Assert.Equal(new long[18], sequence.Layout.Rows);
        Assert.Equal(Enumerable.Range(0, 18).Select(i => (long)Math.Max(0, i - 1)).ToArray(), sequence.Layout.Cols);
        Assert.Contains("\"LatentGridCols\":8", DynamicsFile.ConfigJson(config));
        Assert.DoesNotContain("LatentGridCols", DynamicsFile.ConfigJson(config with { LatentGridCols = 0 }));
        // A grid width must split the latents into whole rows of whole packs.
        Assert.Contains((config with { LatentGridCols = 12 }).Validate(), p => p.Contains("LatentGridCols"));
        Assert.Contains((config with { LatentGridCols = 1 }).Validate(), p => p.Contains("LatentGridCols"));

        // The positions reach attention: the same weights predict differently on the grid.
        using var generator = new Generator(4);
        using (Torch.NoGrad())
            foreach (var (_, p) in sequence.NamedParameters().Where(p => p.Name.StartsWith("head")))
                p.Normal_(0, 0.5, generator);
        model.LoadStateDict(sequence.StateDict());
        using var scope = Torch.NewDisposeScope();
        var z = Torch.Randn([1, 2, 32, 3], generator);
        var signal = Torch.Full([1, 2], 2, DType.Int64, Device.Cpu);
        var step = Torch.Zeros([1, 2], DType.Int64);
        var difference = (model.Forward(z, signal, step, null, null) - sequence.Forward(z, signal, step, null, null)).Abs().Max().ToDouble();
        Assert.True(difference > 1e-3, $"grid positions changed the prediction by only {difference}");
    }

    [Fact]
    public void UnlabeledFramesGetTheBaseActionAlone()
    {
        using var generator = new Generator(2);
        using var encoder = new ActionEncoder(Moves, 8, new ParamOptions(Generator: generator));
        using var scope = Torch.NewDisposeScope();
        var actions = Tensor.From<float>([0f, 1, 2], 1, 3, 1);
        var labeled = Tensor.From<bool>([true, false, true], 1, 3);
        var encoded = encoder.Forward(actions, labeled, 1, 3);
        var none = encoder.Forward(null, null, 1, 3);
        Assert.True((encoded.Select(1, 1) - none.Select(1, 1)).Abs().Max().ToDouble() == 0);
        Assert.True((encoded.Select(1, 0) - encoded.Select(1, 2)).Abs().Max().ToDouble() > 1e-4, "different classes, same encoding");
    }

    [Fact]
    public void DrawsFollowThePaperGrids()
    {
        using var generator = new Generator(3);
        var config = Tiny with { KMax = 8 };
        using var draw = ShortcutForcing.Draw(config, Paper, 400, 4, 0.25, generator, Device.Cpu);
        var signal = draw.Signal.Flatten().ToArray<long>();
        var step = draw.Step.Flatten().ToArray<long>();
        var boot = draw.Bootstrap.Flatten().ToArray<bool>();
        var tau = draw.Tau.Flatten().ToArray<float>();
        for (var i = 0; i < signal.Length; i++)
        {
            var units = 8 >> (int)step[i];
            Assert.Equal(0, signal[i] % units); // tau on the step's grid
            Assert.InRange(signal[i], 0, 7); // tau = 1 never occurs
            Assert.Equal(signal[i] / 8.0, tau[i], 6);
            Assert.Equal(boot[i], step[i] < 3); // bootstrap frames have d > d_min, flow frames d = d_min
        }
        // Whole rows take the bootstrap path, about a quarter of them.
        for (var row = 0; row < 400; row++) Assert.True(boot.Skip(row * 4).Take(4).Distinct().Count() == 1);
        var share = boot.Count(b => b) / (double)boot.Length;
        Assert.InRange(share, 0.17, 0.33);
        Assert.Contains(0L, step); // d = 1 is drawn
        Assert.Contains(7L, signal);
    }

    [Fact]
    public void LogitNormalLevelDrawFavoursTheMiddleLevels()
    {
        var config = Tiny with { KMax = 8 };
        double[] Shares(DynamicsTrainingConfig training)
        {
            using var generator = new Generator(5);
            using var draw = ShortcutForcing.Draw(config, training, 4000, 4, 0.25, generator, Device.Cpu);
            var signal = draw.Signal.Flatten().ToArray<long>();
            var step = draw.Step.Flatten().ToArray<long>();
            for (var i = 0; i < signal.Length; i++) Assert.Equal(0, signal[i] % (8 >> (int)step[i])); // still on the step's grid
            var flow = signal.Where((_, i) => step[i] == 3).ToArray();
            return Enumerable.Range(0, 8).Select(level => flow.Count(s => s == level) / (double)flow.Length).ToArray();
        }
        var uniform = Shares(Paper);
        Assert.All(uniform, share => Assert.InRange(share, 0.11, 0.14));
        // Standard logit-normal: P(level j) = Phi(logit((j + 1) / 8)) - Phi(logit(j / 8)): 0.026, 0.110, 0.169, 0.195, 0.195, ...
        var centred = Shares(Paper with { LevelDrawScale = 1 });
        double[] expected = [0.026, 0.110, 0.169, 0.195, 0.195, 0.169, 0.110, 0.026];
        for (var level = 0; level < 8; level++) Assert.InRange(centred[level], expected[level] - 0.015, expected[level] + 0.015);
        // A negative centre moves the mass toward the noisy end.
        var low = Shares(Paper with { LevelDrawScale = 1, LevelDrawMean = -0.5 });
        Assert.True(low[2] + low[3] > centred[2] + centred[3] + 0.03, $"levels 2-3: {low[2] + low[3]:F3} vs {centred[2] + centred[3]:F3}");
        Assert.True(low[6] + low[7] < centred[6] + centred[7] - 0.03);
        Assert.Contains(new DynamicsTrainingConfig { LevelDrawScale = -1 }.Validate(), p => p.Contains("LevelDrawScale must be a non-negative number (got -1)"));
        Assert.Contains(new DynamicsTrainingConfig { LevelDrawMean = double.NaN }.Validate(), p => p.Contains("LevelDrawMean must be a finite number"));
        // The paper's draw stays out of the config JSON, so existing artifact ids do not change.
        Assert.DoesNotContain("LevelDraw", System.Text.Json.JsonSerializer.Serialize(Paper));
    }

    [Fact]
    public void BootstrapTargetMatchesAHandComputedCase()
    {
        // A model that predicts the constant c everywhere (zero head weights, bias c) makes every term closed-form.
        const double c = 0.3;
        using var init = new Generator(4);
        using var model = new DynamicsModel(Tiny, Moves, new ParamOptions(Generator: init));
        using (Torch.NoGrad())
            foreach (var (name, p) in model.NamedParameters().Where(p => p.Name == "head.bias")) p.Fill_(c);
        using var scope = Torch.NewDisposeScope();
        var z1 = Torch.Randn([1, 1, 4, 3], init);
        // One bootstrap frame: KMax 4, d = 1/2 (e = 1), tau = 1/2 (signal 2).
        using var draw = new ShortcutDraw(Tensor.From<long>([2L], 1, 1), Tensor.From<long>([1L], 1, 1), Tensor.From<bool>([true], 1, 1),
            Tensor.From<bool>([true], 1, 1), Tensor.From<float>([0.5f], 1, 1));
        using var g1 = new Generator(77);
        var result = ShortcutForcing.Compute(model, z1, null, null, draw, g1);

        using var g2 = new Generator(77);
        var z0 = Torch.Randn([1, 1, 4, 3], g2).Flatten().ToArray<float>();
        var x1 = z1.Flatten().ToArray<float>();
        double tau = 0.5, half = 0.25, expected = 0;
        for (var i = 0; i < x1.Length; i++)
        {
            var noisy = (1 - tau) * z0[i] + tau * x1[i];
            var b1 = (c - noisy) / (1 - tau);
            var middle = noisy + b1 * half;
            var b2 = (c - middle) / (1 - tau - half);
            var v = (b1 + b2) / 2;
            var student = (c - noisy) / (1 - tau);
            expected += Math.Pow(1 - tau, 2) * Math.Pow(student - v, 2);
        }
        expected /= x1.Length;
        Assert.Equal(expected, result.Bootstrap, 5);
        Assert.True(double.IsNaN(result.Flow));
        // Weighted by w(tau) = 0.9 tau + 0.1 over the one scored frame.
        Assert.Equal(expected * (0.9 * tau + 0.1), result.Loss.ToDouble(), 5);
    }

    [Fact]
    public void LossDecreasesAndActionsGetUsedOnATinyDataset()
    {
        using var data = ActionWorld(16, 12, 5);
        var training = new DynamicsTrainingConfig
        {
            Steps = 200, BatchSize = 8, SequenceLength = 4, LearningRate = 3e-3, WarmupSteps = 10, BootstrapStart = 100,
            EvalWindows = 8, EvalContext = 2, EvalHorizon = 4,
        };
        using var trainer = new DynamicsTrainer(Tiny, Moves, training, data, 6);
        var before = DynamicsEvaluation.Evaluate(trainer.Model, null, data, training, 1, Device.Cpu);
        var losses = new List<double>();
        while (!trainer.Done) losses.Add(trainer.TrainStep().Flow);
        var after = DynamicsEvaluation.Evaluate(trainer.Model, null, data, training, 1, Device.Cpu);
        var early = losses.Take(10).Where(double.IsFinite).Average();
        var late = losses.TakeLast(20).Where(double.IsFinite).Average();
        Assert.True(late < 0.5 * early, $"flow loss {early:0.0000} -> {late:0.0000}");
        var summary = string.Join(", ", after.Metrics.Select(m => $"{m.Key}={m.Value:0.0000}"));
        Assert.True(after.Metrics["latent_mse_k4"] < 0.6 * before.Metrics["latent_mse_k4"],
            $"rollout latent MSE {before.Metrics["latent_mse_k4"]:0.0000} -> {after.Metrics["latent_mse_k4"]:0.0000}; {summary}");
        Assert.Equal(after.Metrics["latent_floor_mse"] / after.Metrics["latent_mse_k4"], after.Metrics["latent_floor_ratio_k4"], 9);
        Assert.True(after.Metrics["latent_floor_mse"] > 0);
        Assert.True(after.Metrics["action_shuffle_ratio"] > 1.05, $"action shuffle ratio {after.Metrics["action_shuffle_ratio"]:0.000}; {summary}");
        // One ratio per signal level; the pooled ratio is their loss-weighted mean, so it lies between them.
        var levels = Enumerable.Range(0, Tiny.KMax).Select(l => after.Metrics[$"action_shuffle_ratio_level{l}"]).ToArray();
        Assert.False(after.Metrics.ContainsKey($"action_shuffle_ratio_level{Tiny.KMax}"));
        Assert.InRange(after.Metrics["action_shuffle_ratio"], levels.Min(), levels.Max());
        Assert.True(levels.Max() > levels.Min(), summary);
        // Scored in the sampler's regime (clean past, the last frame noised): the zero-initialised head reads no action at all.
        Assert.Equal(1.0, before.Metrics["action_shuffle_ratio_clean_context"], 12);
        Assert.True(after.Metrics["action_shuffle_ratio_clean_context"] > 1.05, summary);
        // The training objective itself (levels drawn per frame, w(tau)-weighted): the same zero start, then above 1.
        Assert.Equal(1.0, before.Metrics["action_shuffle_ratio_as_trained"], 12);
        Assert.True(after.Metrics["action_shuffle_ratio_as_trained"] > 1.05, summary);
        // The ratio alone on windows spread over every episode (48 windows of 4 frames, 32 taken: two of each episode).
        var broad = DynamicsEvaluation.ActionShuffleRatio(trainer.Model, data, training, 32, 1, Device.Cpu);
        Assert.Equal((32, 16), (broad.Windows, broad.Episodes));
        Assert.True(broad.Ratio > 1.05, $"broad ratio {broad.Ratio:0.000}; {summary}");
        Assert.True(trainer.Model.Training, "the model goes back to training mode");
        using var unlabeled = new LatentSet(Torch.Zeros([8, 4, 3]), new float[8], new bool[8], new int[8], 1);
        Assert.True(double.IsNaN(DynamicsEvaluation.ActionShuffleRatio(trainer.Model, unlabeled, training, 32, 1, Device.Cpu).Ratio));
    }

    [Fact]
    public void ShufflePairsWindowsWithSpreadOutOthers()
    {
        // Distinct offsets across the windows (not only the neighbour); never a window with itself unless it is alone.
        Assert.Equal([6, 13, 19, 26], DynamicsEvaluation.ShuffleOffsets(32, 4));
        Assert.Equal([16], DynamicsEvaluation.ShuffleOffsets(32, 1));
        Assert.Equal([1, 2], DynamicsEvaluation.ShuffleOffsets(3, 4));
        Assert.Equal([1], DynamicsEvaluation.ShuffleOffsets(2, 4));
        Assert.Equal([0], DynamicsEvaluation.ShuffleOffsets(1, 4));
    }

    [Fact]
    public void SamplerIsDeterministicForASeed()
    {
        using var data = ActionWorld(2, 10, 7);
        using var init = new Generator(8);
        using var model = new DynamicsModel(Tiny, Moves, new ParamOptions(Generator: init));
        using (Torch.NoGrad())
            foreach (var (name, p) in model.NamedParameters().Where(p => p.Name.StartsWith("head"))) p.Normal_(0, 0.3, init);
        using var scope = Torch.NewDisposeScope();
        var (z, actions, labeled) = data.Gather([0, 10], 8, Device.Cpu);
        Tensor Roll(ulong seed, int steps)
        {
            using var sampler = new DynamicsSampler(model, steps, seed: seed);
            return sampler.Rollout(z.Narrow(1, 0, 3), actions.Narrow(1, 0, 3), labeled.Narrow(1, 0, 3),
                actions.Narrow(1, 3, 5), labeled.Narrow(1, 3, 5), 5);
        }
        var a = Roll(11, 4);
        Assert.Equal([2L, 5, 4, 3], a.Shape);
        Assert.Equal(a.Flatten().ToArray<float>(), Roll(11, 4).Flatten().ToArray<float>());
        Assert.NotEqual(a.Flatten().ToArray<float>(), Roll(12, 4).Flatten().ToArray<float>());
        Assert.NotEqual(a.Flatten().ToArray<float>(), Roll(11, 1).Flatten().ToArray<float>());
        Assert.Throws<ArgumentException>(() => new DynamicsSampler(model, 3));

        // Predictions are projected onto the tokenizer's tanh range, however far the head overshoots.
        using (Torch.NoGrad())
            foreach (var (name, p) in model.NamedParameters().Where(p => p.Name.StartsWith("head"))) p.Normal_(0, 5, init);
        var wild = Roll(11, 4);
        Assert.InRange(wild.Abs().Max().ToDouble(), 0.99, 1.0);
    }

    /// <summary>
    /// The sampler defers each generated frame's cache pass into the next frame's first denoising step (K forwards per
    /// frame instead of K + 1). Against the plain algorithm written out with one forward per pass: the same frames, with
    /// context noise (the generator's draw order), previous-frame input (the carried base), unlabeled frames beside
    /// labeled ones, rollouts longer than the cache window, and a context observed after generated frames.
    /// </summary>
    [Theory]
    [InlineData(4)]
    [InlineData(2)]
    public void DeferredCachePassGivesThePlainSamplersFrames(int steps)
    {
        var config = Tiny with { PreviousInput = true, ContextNoise = 0.1 };
        using var init = new Generator(21);
        using var model = new DynamicsModel(config, Moves, new ParamOptions(Generator: init));
        using (Torch.NoGrad())
            foreach (var (_, p) in model.NamedParameters().Where(p => p.Name.StartsWith("head") || p.Name.StartsWith("previous_in")))
                p.Normal_(0, 0.3, init);
        model.Eval();
        using var data = ActionWorld(2, 10, 7);
        using var scope = Torch.NewDisposeScope();
        using var noGrad = Torch.NoGrad();
        var (z, actions, labeled) = data.Gather([0, 10], 9, Device.Cpu);
        // Frames 3..8 generated (2 and 5 without an action), then frames 0..1 observed as new context, then two more.
        var plan = new[] { 3, 4, 5, 6, 7, 8, -1, 3, 4 };
        bool Unlabeled(int frame) => frame is 2 or 5;
        Tensor? ActionOf(int frame) => Unlabeled(frame) ? null : actions.Narrow(1, frame, 1);
        Tensor? LabelOf(int frame) => Unlabeled(frame) ? null : labeled.Narrow(1, frame, 1);

        var produced = new List<Tensor>();
        using (var sampler = new DynamicsSampler(model, steps, seed: 31))
        {
            sampler.Observe(z.Narrow(1, 0, 3), actions.Narrow(1, 0, 3), labeled.Narrow(1, 0, 3));
            foreach (var frame in plan)
            {
                if (frame < 0) sampler.Observe(z.Narrow(1, 0, 2), actions.Narrow(1, 0, 2), labeled.Narrow(1, 0, 2));
                else produced.Add(sampler.Next(ActionOf(frame), LabelOf(frame)));
            }
            Assert.Equal(3 + 6 + 2 + 2, sampler.Position);
            // Bad input: an action for another number of rollouts than the context's, a cache commit beyond the frames given.
            var one = Assert.Throws<ArgumentException>(() => sampler.Next(actions.Narrow(0, 0, 1).Narrow(1, 3, 1), labeled.Narrow(0, 0, 1).Narrow(1, 3, 1)));
            Assert.Contains("1 rollouts, but 2", one.Message);
            Assert.Equal(3 + 6 + 2 + 2, sampler.Position);
        }
        using (var spare = model.NewCache())
            Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(z.Narrow(1, 0, 2), Torch.Full([2, 2], 1, DType.Int64), Torch.Full([2, 2], 2, DType.Int64),
                actions.Narrow(1, 0, 2), labeled.Narrow(1, 0, 2), spare, commitFrames: 3));

        var expected = new List<Tensor>();
        using var g = new Generator(31);
        using var cache = model.NewCache();
        Tensor? previousBase = null;
        var c = model.Config;
        void Cache(Tensor frames, Tensor? a, Tensor? l)
        {
            var corrupted = DynamicsSampler.CorruptContext(frames, c.ContextNoise, g);
            var t = frames.Size(1);
            var signal = Torch.Full([2, t], c.ContextSignal, DType.Int64);
            model.Forward(corrupted, signal, Torch.Full([2, t], DynamicsConfig.Log2(c.KMax), DType.Int64), a, l, cache, previousBase: previousBase);
            previousBase = model.ResidualBase(corrupted.Narrow(1, t - 1, 1), signal.Narrow(1, t - 1, 1));
        }
        Cache(z.Narrow(1, 0, 3), actions.Narrow(1, 0, 3), labeled.Narrow(1, 0, 3));
        foreach (var frame in plan)
        {
            if (frame < 0)
            {
                Cache(z.Narrow(1, 0, 2), actions.Narrow(1, 0, 2), labeled.Narrow(1, 0, 2));
                continue;
            }
            var x = Torch.Randn([2, 1, 4, 3], g, DType.Float32, Device.Cpu);
            var step = Torch.Full([2, 1], DynamicsConfig.Log2(steps), DType.Int64);
            for (var i = 0; i < steps; i++)
            {
                var tau = (double)i / steps;
                var predicted = model.Forward(x, Torch.Full([2, 1], i * (c.KMax / steps), DType.Int64), step, ActionOf(frame), LabelOf(frame), cache,
                    commitFrames: 0, previousBase: previousBase).Clamp(-1, 1);
                x = i == steps - 1 ? predicted : x + (predicted - x) * ((1.0 / steps) / (1 - tau));
            }
            Cache(x, ActionOf(frame), LabelOf(frame));
            expected.Add(x);
        }
        Assert.Equal(3 + 6 + 2 + 2, cache.Position);
        for (var i = 0; i < plan.Length - 1; i++)
        {
            var difference = (produced[i] - expected[i]).Abs().Max().ToDouble();
            Assert.True(difference < 1e-5, $"generated frame {i}: {difference:E2} from the plain sampler's");
        }
        // The frames differ from one another: the comparison is not between constants.
        Assert.True((produced[0] - produced[1]).Abs().Max().ToDouble() > 1e-3);
    }

    /// <summary>Context corruption mixes in exactly the configured noise fraction (not the 1/KMax grid step its label sits on); none leaves z as it is.</summary>
    [Fact]
    public void ContextCorruptionMixesTheConfiguredNoiseFraction()
    {
        using var scope = Torch.NewDisposeScope();
        var z = Torch.Rand([4, 8, 32, 16]) * 2 - 1;
        using var g = new Generator(3);
        Assert.Equal(z.Flatten().ToArray<float>(), DynamicsSampler.CorruptContext(z, 0, g).Flatten().ToArray<float>());
        var corrupted = DynamicsSampler.CorruptContext(z, 0.1, g);
        // What is left after removing 0.9 z is 0.1 * N(0, 1): std 0.1 (0.125 would mean the noise came from the label grid).
        var rest = corrupted - z * 0.9;
        Assert.InRange(rest.Std().ToDouble(), 0.097, 0.103);
        Assert.InRange(rest.Mean().ToDouble(), -0.003, 0.003);
        Assert.Equal(7, (Tiny with { KMax = 8, ContextNoise = 0.1 }).ContextSignal);
        Assert.Equal(7, (Tiny with { KMax = 8, ContextNoise = 0 }).ContextSignal); // clean context: labelled with the top trained level
    }

    /// <summary>
    /// Residual head: the untrained model's rollout repeats the last context frame (the copy-last floor), the base
    /// follows c(tau) of the previous frame, the cached path agrees with the full one, and first frames are not scored.
    /// </summary>
    [Fact]
    public void ResidualHeadStartsFromThePreviousFrame()
    {
        var config = Tiny with { ResidualHead = true, ContextNoise = 0 };
        using var init = new Generator(13);
        using var model = new DynamicsModel(config, Moves, new ParamOptions(Generator: init));
        using var data = ActionWorld(2, 10, 7);
        using var scope = Torch.NewDisposeScope();
        var (z, actions, labeled) = data.Gather([0, 10], 8, Device.Cpu);
        using (var sampler = new DynamicsSampler(model, 4, seed: 5))
        {
            var rollout = sampler.Rollout(z.Narrow(1, 0, 3), actions.Narrow(1, 0, 3), labeled.Narrow(1, 0, 3),
                actions.Narrow(1, 3, 5), labeled.Narrow(1, 3, 5), 5);
            var last = z.Narrow(1, 2, 1).Expand(2, 5, 4, 3);
            Assert.True((rollout - last).Abs().Max().ToDouble() < 1e-6, "the untrained residual model does not copy the last context frame");
        }

        // KMax 4: taus 0, 1/4, 1/2, 3/4; frame t starts from c(tau_{t-1}) z~_{t-1}, frame 0 from nothing.
        var ones = Torch.Ones([1, 4, 4, 3]);
        var signal = Tensor.From<long>([0, 1, 2, 3], 1, 4);
        var fine = Torch.Full([1, 4], 2, DType.Int64);
        var bases = model.Forward(ones, signal, fine, null, null).Mean(new long[] { 2, 3 }).Flatten().ToArray<float>();
        Assert.Equal([0f, 0f, 0.4f, 1f], bases.Select(v => MathF.Round(v, 5)).ToArray());

        using (Torch.NoGrad())
            foreach (var (name, p) in model.NamedParameters().Where(p => p.Name.StartsWith("head"))) p.Normal_(0, 0.3, init);
        var levels = Torch.Randint(0, 4, [2, 5], init);
        var full = model.Forward(z.Narrow(1, 0, 5), levels, Torch.Full([2, 5], 2, DType.Int64), actions.Narrow(1, 0, 5), labeled.Narrow(1, 0, 5));
        var cached = FrameByFrame(model, z.Narrow(1, 0, 5), levels, Torch.Full([2, 5], 2, DType.Int64), actions.Narrow(1, 0, 5), labeled.Narrow(1, 0, 5));
        Assert.True((full - cached).Abs().Max().ToDouble() < 1e-5, "cached residual path differs from the full one");

        using var g = new Generator(14);
        using var draw = ShortcutForcing.Draw(config, Paper, 64, 4, 0.5, g, Device.Cpu);
        Assert.All(draw.Scored.Narrow(1, 0, 1).Flatten().ToArray<bool>(), Assert.False);
        Assert.All(draw.Bootstrap.Narrow(1, 0, 1).Flatten().ToArray<bool>(), Assert.False);
        Assert.All(draw.Scored.Narrow(1, 1, 3).Flatten().ToArray<bool>(), Assert.True);
        Assert.Contains(true, draw.Bootstrap.Narrow(1, 1, 3).Flatten().ToArray<bool>());

        // Off is left out of the config JSON, so model files and artifact ids from before the option read as before.
        Assert.DoesNotContain("ResidualHead", System.Text.Json.JsonSerializer.Serialize(Tiny));
        Assert.Contains("\"ResidualHead\":true", System.Text.Json.JsonSerializer.Serialize(config));
    }

    [Fact]
    public void ChangeWeightsFollowWhatMovesFromFrameToFrame()
    {
        // One row, three frames, two tokens of one value: token 0 moves 0 -> 1 -> 1, token 1 stays at 0.
        using var z = Tensor.From<float>([0, 0, 1, 0, 1, 0], 1, 3, 2, 1);
        using var weights = ShortcutForcing.ChangeWeights(z, 2);
        // Changes 0, 0 | 1, 0 | 0, 0 have mean 1/6: the moving token counts 1 + 2 * 6, the rest 1.
        Assert.Equal([1f, 1, 13, 1, 1, 1], weights.Flatten().ToArray<float>());
        using var still = ShortcutForcing.ChangeWeights(Torch.Zeros([1, 3, 2, 1]), 2);
        Assert.All(still.Flatten().ToArray<float>(), w => Assert.Equal(1f, w));
        Assert.Contains(new DynamicsTrainingConfig { ChangeWeight = -1 }.Validate(), p => p.Contains("ChangeWeight"));
        Assert.DoesNotContain("ChangeWeight", System.Text.Json.JsonSerializer.Serialize(new DynamicsTrainingConfig()));

        // The weighted loss scores the same error higher on the moving token than on the still one.
        var config = Tiny with { LatentTokens = 2, LatentDim = 1, Pack = 1 };
        using var model = new DynamicsModel(config, Moves);
        using var g = new Generator(17);
        using var draw = ShortcutForcing.Draw(config, Paper, 1, 3, 0, g, Device.Cpu);
        using var g1 = new Generator(18);
        using var g2 = new Generator(18);
        var uniform = ShortcutForcing.Compute(model, z, null, null, draw, g1).Loss.ToDouble();
        var weighted = ShortcutForcing.Compute(model, z, null, null, draw, g2, changeWeight: 2).Loss.ToDouble();
        // The zero-initialised head predicts 0: errors 1 on token 0 of frames 1 and 2 (weights 13 and 1), 0 elsewhere.
        Assert.True(weighted > uniform * 2, $"weighted {weighted} vs uniform {uniform}");
    }

    /// <summary>Forward one frame at a time through the KV cache, carrying each frame's base to the next, as the sampler does.</summary>
    private static Tensor FrameByFrame(DynamicsModel model, Tensor z, Tensor levels, Tensor steps, Tensor actions, Tensor labeled)
    {
        using var cache = model.NewCache();
        var parts = new List<Tensor>();
        Tensor? previous = null;
        for (var t = 0; t < z.Size(1); t++)
        {
            var frame = z.Narrow(1, t, 1);
            var level = levels.Narrow(1, t, 1);
            parts.Add(model.Forward(frame, level, steps.Narrow(1, t, 1), actions.Narrow(1, t, 1), labeled.Narrow(1, t, 1), cache, previousBase: previous));
            previous = model.ResidualBase(frame, level);
        }
        return Torch.Cat(parts.ToArray(), 1);
    }

    /// <summary>
    /// Previous-frame input: untrained it is the paper's model (zero map), trained its predictions read the previous frame's
    /// token, the cached path (with the base carried from frame to frame) agrees with the full one, and every frame is scored.
    /// </summary>
    [Fact]
    public void PreviousInputFeedsEachTokenItsPreviousFrame()
    {
        var config = Tiny with { PreviousInput = true };
        using var init = new Generator(15);
        using var model = new DynamicsModel(config, Moves, new ParamOptions(Generator: init));
        using var paper = new DynamicsModel(Tiny, Moves);
        using var data = ActionWorld(2, 10, 9);
        using var scope = Torch.NewDisposeScope();
        var (z, actions, labeled) = data.Gather([0, 10], 5, Device.Cpu);
        using (Torch.NoGrad())
            foreach (var (_, p) in model.NamedParameters().Where(p => p.Name.StartsWith("head")))
                p.Normal_(0, 0.3, init);
        paper.LoadStateDict(model.StateDict().Where(p => !p.Key.StartsWith("previous_in")).ToDictionary());
        var levels = Torch.Randint(0, 4, [2, 5], init);
        var fine = Torch.Full([2, 5], 2, DType.Int64);
        var full = model.Forward(z, levels, fine, actions, labeled);
        Assert.True((full - paper.Forward(z, levels, fine, actions, labeled)).Abs().Max().ToDouble() == 0, "the zero map changed the paper's model");

        using (Torch.NoGrad())
            foreach (var (_, p) in model.NamedParameters().Where(p => p.Name.StartsWith("previous_in")))
                p.Normal_(0, 0.3, init);
        full = model.Forward(z, levels, fine, actions, labeled);
        // A trained map changes the predictions: the previous frame now enters each token directly.
        Assert.True((full - paper.Forward(z, levels, fine, actions, labeled)).Abs().Max().ToDouble() > 1e-4, "the previous-input map changed nothing");
        var cached = FrameByFrame(model, z, levels, fine, actions, labeled);
        Assert.True((full - cached).Abs().Max().ToDouble() < 1e-5, "cached previous-input path differs from the full one");

        using var g = new Generator(16);
        using var draw = ShortcutForcing.Draw(config, Paper, 16, 4, 0.5, g, Device.Cpu);
        Assert.All(draw.Scored.Flatten().ToArray<bool>(), Assert.True);
        Assert.DoesNotContain("PreviousInput", System.Text.Json.JsonSerializer.Serialize(Tiny));
        Assert.Contains("\"PreviousInput\":true", System.Text.Json.JsonSerializer.Serialize(config));
        Assert.Null(paper.NamedParameters().Select(p => p.Name).FirstOrDefault(n => n.StartsWith("previous_in")));
    }

    [Fact]
    public void PreviousReachFeedsEachTokenItsGridNeighbourhood()
    {
        // 8 latents of 3 on a 4-wide grid, packed in pairs: a 2 x 2 grid of packed tokens 0 1 / 2 3.
        var config = Tiny with { LatentTokens = 8, LatentGridCols = 4, PreviousInput = true, PreviousReach = 1 };
        Assert.Empty(config.Validate());
        using var init = new Generator(17);
        using var model = new DynamicsModel(config, Moves, new ParamOptions(Generator: init));
        using var scope = Torch.NewDisposeScope();
        var packed = (Torch.Arange(4, DType.Float32) + 1).View(1, 1, 4, 1).Expand(1, 1, 4, 6).Contiguous();
        var near = model.Neighbourhood(packed).View(4, 9, 6).Select(2, 0);
        // Row by row from the top left of each token's 3 x 3 window; 0 is beyond the grid.
        Assert.Equal([0f, 0, 0, 0, 1, 2, 0, 3, 4], near.Select(0, 0).ToArray<float>());
        Assert.Equal([0f, 0, 0, 1, 2, 0, 3, 4, 0], near.Select(0, 1).ToArray<float>());
        Assert.Equal([0f, 1, 2, 0, 3, 4, 0, 0, 0], near.Select(0, 2).ToArray<float>());
        Assert.Equal([9 * 6L, 32], model.NamedParameters().Single(p => p.Name == "previous_in.weight").Parameter.Shape.Reverse().ToArray());

        // The neighbourhood path through the KV cache matches the full forward.
        using (Torch.NoGrad())
            foreach (var (_, p) in model.NamedParameters().Where(p => p.Name.StartsWith("head") || p.Name.StartsWith("previous_in")))
                p.Normal_(0, 0.3, init);
        using var data = ActionWorld(2, 10, 9, tokens: 8);
        var (z, actions, labeled) = data.Gather([0, 10], 5, Device.Cpu);
        var levels = Torch.Randint(0, 4, [2, 5], init);
        var fine = Torch.Full([2, 5], 2, DType.Int64);
        var full = model.Forward(z, levels, fine, actions, labeled);
        Assert.True((full - FrameByFrame(model, z, levels, fine, actions, labeled)).Abs().Max().ToDouble() < 1e-5, "cached neighbourhood path differs");

        Assert.Contains("\"PreviousReach\":1", System.Text.Json.JsonSerializer.Serialize(config));
        Assert.DoesNotContain("PreviousReach", System.Text.Json.JsonSerializer.Serialize(config with { PreviousReach = 0 }));
        Assert.Contains((config with { LatentGridCols = 0 }).Validate("M:"), p => p.Contains("M:PreviousReach 1 needs PreviousInput and a latent grid"));
        Assert.Contains((config with { PreviousInput = false }).Validate(), p => p.Contains("needs PreviousInput"));
        Assert.Contains((config with { PreviousReach = -1 }).Validate(), p => p.Contains("PreviousReach must not be negative (got -1)"));
    }

    [Fact]
    public void PreviousPerActionAddsTheMapOfEachFramesAction()
    {
        var config = Tiny with { PreviousInput = true, PreviousPerAction = true };
        using var init = new Generator(18);
        using var model = new DynamicsModel(config, Moves, new ParamOptions(Generator: init));
        using var shared = new DynamicsModel(Tiny with { PreviousInput = true }, Moves);
        using var scope = Torch.NewDisposeScope();
        using (Torch.NoGrad())
            foreach (var (_, p) in model.NamedParameters().Where(p => p.Name.StartsWith("head") || p.Name.StartsWith("previous_in")))
                p.Normal_(0, 0.3, init);
        shared.LoadStateDict(model.StateDict().Where(p => p.Key != "previous_maps").ToDictionary());
        var maps = model.NamedParameters().Single(p => p.Name == "previous_maps").Parameter;
        Assert.Equal([Moves[0].Labels.Count + 1L, 6, 32], maps.Shape); // a map per class and one for no action
        using var data = ActionWorld(2, 10, 9);
        var (z, actions, labeled) = data.Gather([0, 10], 5, Device.Cpu);
        var levels = Torch.Randint(1, 4, [2, 5], init); // above 0: a pure-noise frame passes no base to the next
        var fine = Torch.Full([2, 5], 2, DType.Int64);
        // Zero maps: the shared model's predictions.
        Assert.True((model.Forward(z, levels, fine, actions, labeled) - shared.Forward(z, levels, fine, actions, labeled)).Abs().Max().ToDouble() == 0);

        // Only class 1's map trained: in each window the frames before the first labeled action 1 stay as they were and that
        // frame changes (later ones may change through time attention).
        using (Torch.NoGrad()) maps.Select(0, 1).Normal_(0, 0.3, init);
        var full = model.Forward(z, levels, fine, actions, labeled);
        var moved = (full - shared.Forward(z, levels, fine, actions, labeled)).Abs().Amax(3).Amax(2).ToArray<float>();
        var classes = actions.Flatten().ToArray<float>();
        var isLabeled = labeled.Flatten().ToArray<bool>();
        var checkedFrames = 0;
        for (var w = 0; w < 2; w++)
        {
            var first = Enumerable.Range(0, 5).FirstOrDefault(i => classes[w * 5 + i] == 1 && isLabeled[w * 5 + i], -1);
            if (first < 0) continue;
            for (var i = 0; i < first; i++) Assert.True(moved[w * 5 + i] == 0, $"window {w} frame {i} changed before any action 1");
            Assert.True(moved[w * 5 + first] > 1e-4, $"window {w} frame {first} (action 1) did not change");
            checkedFrames += first + 1;
        }
        Assert.True(checkedFrames >= 3, "the data gave too few frames to check");
        Assert.True((full - FrameByFrame(model, z, levels, fine, actions, labeled)).Abs().Max().ToDouble() < 1e-5, "cached per-action path differs");
        Assert.Contains("\"PreviousPerAction\":true", System.Text.Json.JsonSerializer.Serialize(config));
        Assert.Contains((config with { PreviousInput = false }).Validate(), p => p.Contains("PreviousPerAction needs PreviousInput"));

        // A gain g reads the maps as g times their parameters: the same predictions as maps holding g times the values.
        using var gained = new DynamicsModel(config with { PreviousMapGain = 4 }, Moves);
        using (Torch.NoGrad())
            gained.LoadStateDict(model.StateDict().ToDictionary(p => p.Key, p => p.Key == "previous_maps" ? p.Value / 4 : p.Value));
        Assert.True((gained.Forward(z, levels, fine, actions, labeled) - full).Abs().Max().ToDouble() < 1e-5, "the gain does not scale the maps");
        Assert.Contains("\"PreviousMapGain\":4", System.Text.Json.JsonSerializer.Serialize(config with { PreviousMapGain = 4 }));
        Assert.DoesNotContain("PreviousMapGain", System.Text.Json.JsonSerializer.Serialize(config));
        Assert.Empty((config with { PreviousMapGain = 4 }).Validate());
        Assert.Contains((config with { PreviousMapGain = 0 }).Validate("M:"), p => p.Contains("M:PreviousMapGain must be a positive number (got 0)"));
        Assert.Contains((config with { PreviousMapGain = double.NaN }).Validate(), p => p.Contains("PreviousMapGain must be a positive number"));
        Assert.Contains((config with { PreviousPerAction = false, PreviousMapGain = 4 }).Validate(), p => p.Contains("PreviousMapGain needs PreviousPerAction"));
    }

    /// <summary>Clean-prefix rows: frames before a split are clean (tau 1, labelled KMax) and unscored, the rest keep the paper's draw.</summary>
    [Fact]
    public void CleanPrefixRowsShowTheSamplingRegime()
    {
        var config = Tiny with { KMax = 8, CleanPrefixShare = 0.5 };
        using var g = new Generator(15);
        using var draw = ShortcutForcing.Draw(config, Paper, 400, 6, 0.25, g, Device.Cpu);
        var signal = draw.Signal.ToArray<long>();
        var tau = draw.Tau.ToArray<float>();
        var scored = draw.Scored.ToArray<bool>();
        var boot = draw.Bootstrap.ToArray<bool>();
        var cleanRows = 0;
        var splits = new HashSet<int>();
        for (var row = 0; row < 400; row++)
        {
            var clean = Enumerable.Range(0, 6).Select(t => signal[row * 6 + t] == 8).ToArray();
            var prefix = clean.TakeWhile(c => c).Count();
            Assert.Equal(prefix, clean.Count(c => c)); // clean frames form a prefix
            Assert.True(prefix < 6, "a row's last frame is always drawn");
            if (prefix > 0) { cleanRows++; splits.Add(prefix); }
            for (var t = 0; t < 6; t++)
            {
                var i = row * 6 + t;
                Assert.Equal(!clean[t], scored[i]);
                if (clean[t]) Assert.True(tau[i] == 1 && !boot[i]);
                else Assert.InRange(signal[i], 0, 7);
            }
        }
        Assert.InRange(cleanRows, 160, 240);
        Assert.Equal(5, splits.Count); // splits 1..5 all occur
        Assert.Equal(8, (config with { ContextNoise = 0 }).ContextSignal); // clean context now has a trained label
        Assert.Equal(7, (config with { ContextNoise = 0.1 }).ContextSignal);
        Assert.Contains((config with { CleanPrefixShare = 1.5 }).Validate(), p => p.Contains("CleanPrefixShare"));
        Assert.Empty(config.Validate());
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.9)]
    public void ResumeFromHalfwayGivesBitIdenticalWeights(double weightAverage)
    {
        using var data = ActionWorld(4, 10, 9);
        var training = new DynamicsTrainingConfig
        {
            Steps = 12, BatchSize = 4, SequenceLength = 4, WarmupSteps = 2, BootstrapStart = 4, WeightAverage = weightAverage,
        };
        using var straight = new DynamicsTrainer(Tiny, Moves, training, data, 10);
        while (!straight.Done) straight.TrainStep();

        TrainerCheckpoint saved;
        using (var first = new DynamicsTrainer(Tiny, Moves, training, data, 10))
        {
            for (var i = 0; i < 6; i++) first.TrainStep();
            saved = CheckpointRoundTrip.Of(first);
        }
        using var resumed = new DynamicsTrainer(Tiny, Moves, training, data, 10);
        saved.RestoreInto(resumed);
        while (!resumed.Done) resumed.TrainStep();
        foreach (var (name, p) in straight.Model.NamedParameters())
        {
            var other = resumed.Model.StateDict()[name];
            Assert.True(p.Flatten().ToArray<float>().SequenceEqual(other.Flatten().ToArray<float>()), $"{name} differs after resume");
        }
        using (straight.AveragedWeights())
        using (resumed.AveragedWeights())
            foreach (var (name, p) in straight.Model.NamedParameters())
                Assert.True(p.Flatten().ToArray<float>().SequenceEqual(resumed.Model.StateDict()[name].Flatten().ToArray<float>()), $"average of {name} differs after resume");
    }

    /// <summary>
    /// The weight average follows a_t = d_t a_{t-1} + (1 - d_t) w_t with d_t = min(decay, (1 + t) / (10 + t)); swapping it in
    /// and out leaves the raw weights bit for bit; a checkpoint with an average does not load into a run without one.
    /// </summary>
    [Fact]
    public void WeightAverageFollowsItsRecurrenceAndSwapsCleanly()
    {
        using var data = ActionWorld(4, 10, 9);
        var training = new DynamicsTrainingConfig { Steps = 8, BatchSize = 2, SequenceLength = 4, WarmupSteps = 1, WeightAverage = 0.5 };
        using var trainer = new DynamicsTrainer(Tiny, Moves, training, data, 10);
        const string name = "head.weight";
        double[] Raw() => trainer.Model.StateDict()[name].Flatten().ToArray<float>().Select(v => (double)v).ToArray();
        var expected = Raw();
        for (var step = 0; step < 8; step++)
        {
            trainer.TrainStep();
            var d = Math.Min(0.5, (1.0 + step) / (10.0 + step));
            var w = Raw();
            expected = expected.Zip(w, (a, x) => d * a + (1 - d) * x).ToArray();
        }
        var raw = Raw();
        double[] averaged;
        using (trainer.AveragedWeights()) averaged = Raw();
        Assert.Equal(raw, Raw());
        Assert.True(averaged.Zip(expected).All(p => Math.Abs(p.First - p.Second) < 1e-5), "average does not follow the recurrence");
        Assert.True(averaged.Zip(raw).Any(p => Math.Abs(p.First - p.Second) > 1e-6), "the average equals the raw weights");

        var saved = CheckpointRoundTrip.Of(trainer);
        using var plain = new DynamicsTrainer(Tiny, Moves, training with { WeightAverage = 0 }, data, 10);
        var error = Assert.Throws<ArgumentException>(() => saved.RestoreInto(plain));
        Assert.Contains("WeightAverage", error.Message);
        Assert.Contains((training with { WeightAverage = 1 }).Validate(), p => p.Contains("WeightAverage"));
        Assert.DoesNotContain("WeightAverage", System.Text.Json.JsonSerializer.Serialize(training with { WeightAverage = 0 }));
    }

    [Fact]
    public void DynamicsFileRoundTripsConfigActionsAndWeights()
    {
        using var init = new Generator(12);
        using var model = new DynamicsModel(Tiny, Moves, new ParamOptions(Generator: init));
        using var stream = new MemoryStream();
        DynamicsFile.Save(stream, model);
        stream.Position = 0;
        using var loaded = DynamicsFile.Load(stream);
        Assert.Equal(model.Config, loaded.Config);
        Assert.Equal("left", loaded.ActionSpace[0].Labels[1]);
        foreach (var (name, p) in model.NamedParameters())
            Assert.Equal(p.Flatten().ToArray<float>(), loaded.StateDict()[name].Flatten().ToArray<float>());
    }
}
