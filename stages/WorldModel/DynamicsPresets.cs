namespace Dreamer.WorldModel;

/// <summary>A named dynamics recipe: model shape plus training schedule (latent shape comes from the tokenizer).</summary>
/// <param name="GridPositions">Give spatial tokens 2-D positions on the tokenizer's latent grid when it has one (<see cref="DynamicsConfig.LatentGridCols"/>).</param>
public sealed record DynamicsPreset(string Name, DynamicsConfig Model, DynamicsTrainingConfig Training, string Purpose, bool GridPositions = false);

/// <summary>
/// The dynamics presets. tiny: tests (seconds). small: a 2-core CPU box in about 85 minutes over the small
/// tokenizer's 50x16 latents. base: a GPU host.
/// </summary>
public static class DynamicsPresets
{
    public static readonly IReadOnlyList<string> Names = ["tiny", "small", "base"];

    public static DynamicsPreset Get(string name) => name switch
    {
        "tiny" => Tiny,
        "small" => Small,
        "base" => Base,
        _ => throw new ArgumentException($"unknown dynamics preset '{name}' (known: {string.Join(", ", Names)})"),
    };

    public static DynamicsPreset Tiny { get; } = new("tiny",
        new DynamicsConfig
        {
            Transformer = new SpaceTimeConfig { Dim = 32, Heads = 2, KvHeads = 1, Hidden = 64, Layers = 2, TimeEvery = 1, Registers = 1 },
            Pack = 2, KMax = 4, ContextFrames = 8,
        },
        new DynamicsTrainingConfig
        {
            Steps = 30, BatchSize = 4, SequenceLength = 4, WarmupSteps = 5, BootstrapStart = 10,
            EvalEvery = 15, EvalWindows = 2, TrainShuffleWindows = 4, EvalContext = 2, EvalHorizon = 4, CheckpointEvery = 10,
        },
        "tests (seconds)");

    public static DynamicsPreset Small { get; } = new("small",
        // ConditionSpatial and grid positions: each +0.2 dB pooled 16-frame gain at steps 500 and 1000 on the built-in
        // game over the same recipe without it (grid positions +0.1 dB one frame ahead too); the grid needs a tokenizer
        // with LatentGrid (the small tokenizer has it) and falls back to sequence positions without one.
        // Per-action maps of each token's previous 3 x 3 neighbourhood at gain 30: the view's scroll is learnt in 1000 steps
        // (built-in game, 1000 steps: pooled 16-frame gain +1.70 dB, rollout action gain +0.87 dB, against +0.66 and -0.02 dB
        // for PreviousInput alone, -1.27 and -1.64 dB for the maps at gain 1); without a grid or a categorical action they are dropped.
        // Pack 1 (a token per latent): with the maps, at 3000 steps, one frame ahead -2.20 vs -3.67 dB, 16 frames +1.08 vs +0.97 dB,
        // shuffle ratio 1.053 vs 1.028, for 1.6-1.8x the step time (play still ~31 frames/s).
        // On windows that include contractor play (README, "Measured on representative windows"), 3000 steps: 16 frames +0.44 dB,
        // one frame +0.31 dB, shuffle ratio 1.358, against -0.22, -2.98 dB and 1.325 without PreviousInput and the maps (Pack 2);
        // an 8000-step schedule reached +0.71 dB at 16 frames, not worth 2.5x the time here.
        // Adaptive norm: on the seed-0 collection at 3000 steps, seeds 1 / 2: shuffle ratio 1.174 / 1.183 vs 1.144 / 1.151, one frame
        // +0.35 / +0.61 vs +0.07 / +0.26 dB, flow loss 0.0827 / 0.0819 vs 0.0862 / 0.0853, 16 frames +0.90 / +0.76 vs +0.81 / +0.79 dB;
        // play ~24 vs ~26 frames/s.
        new DynamicsConfig { Pack = 1, ConditionSpatial = true, AdaptiveNorm = true, PreviousInput = true, PreviousReach = 1, PreviousPerAction = true, PreviousMapGain = 30 },
        new DynamicsTrainingConfig
        {
            // 6000 steps: the action-shuffle ratio keeps rising past 3000 (seed-1 collection, seeds 1 / 2: 1.266 / 1.262 at step
            // 3000, 1.2999 / 1.283 at 6000; the 3000-step schedule read within 0.01 of step 3000 here before adaptive norm), and
            // 6000 steps with six evaluations fit the 2-hour budget (85-89 min alone). An 8000-step schedule read 1.311 / 1.271
            // at step 8000 with the same seeds: the same mean, for 10 more minutes.
            Steps = 6000, BatchSize = 8, SequenceLength = 8, LearningRate = 3e-4, WarmupSteps = 100, BootstrapStart = 1000,
            // Weight average: the raw weights of 8x8-frame batches are noisy. On the built-in game (30 windows) the averaged
            // model's 16-frame gain was -6.4 dB at step 1000 and -6.4 at 3000 (raw weights, a 7000-step schedule: -9.8 and -9.4; a raw
            // 3000-step run: -7.7); past that both level off (averaged -6.2 at 8000, raw -5.5 at 7000): more steps buy no 16-frame gain.
            WeightAverage = 0.999,
            // 32 windows: 8 flattered the built-in game's 3000-step model (16-frame gain -3.9 dB, action-shuffle ratio 1.45
            // on 8 windows; -8.0 dB and 1.09 on 30 of the same validation episodes).
            EvalEvery = 1000, EvalWindows = 32, EvalContext = 4, EvalHorizon = 16, CheckpointEvery = 250,
        },
        "this machine: 2 CPU cores, about 85 minutes alone on it (over 50 latents: 6000 steps at ~0.6 s plus six evaluations at ~3.7 min measured)", GridPositions: true);

    public static DynamicsPreset Base { get; } = new("base",
        new DynamicsConfig
        {
            Transformer = new SpaceTimeConfig { Dim = 512, Heads = 8, KvHeads = 4, Hidden = 1376, Layers = 8, TimeEvery = 4, Registers = 4 },
            Pack = 2, KMax = 8, ContextFrames = 32,
        },
        new DynamicsTrainingConfig
        {
            Steps = 40_000, BatchSize = 16, SequenceLength = 32, LearningRate = 1e-4, WarmupSteps = 1000, BootstrapStart = 5000, WeightAverage = 0.999,
            EvalEvery = 2000, EvalWindows = 64, TrainShuffleWindows = 64, EvalContext = 8, EvalHorizon = 16, CheckpointEvery = 2000,
        },
        "a GPU host (Device=cuda)");
}
