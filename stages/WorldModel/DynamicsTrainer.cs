using System.Text.Json.Nodes;
using Dreamer.Torch;
using Dreamer.Torch.NN;

namespace Dreamer.WorldModel;

using Torch = Dreamer.Torch.Torch;

/// <summary>How the dynamics model is trained and evaluated.</summary>
public sealed record DynamicsTrainingConfig : IOptimizerSettings
{
    public int Steps { get; init; } = 2000;
    public int BatchSize { get; init; } = 8;
    /// <summary>Frames per training window (at most the model's ContextFrames).</summary>
    public int SequenceLength { get; init; } = 8;
    public double LearningRate { get; init; } = 3e-4;
    public double MinLearningRateRatio { get; init; } = 0.1;
    public int WarmupSteps { get; init; } = 100;
    public double WeightDecay { get; init; } = 0.01;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double GradClip { get; init; } = 1.0;
    /// <summary>Decay of the weight average evaluation and the stored model use (0: the raw weights); left out of the config JSON when 0.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public double WeightAverage { get; init; }
    public DynamicsObjective Objective { get; init; } = DynamicsObjective.Shortcut;
    /// <summary>
    /// Extra loss weight on latent tokens that change from the previous frame (0: the paper's uniform weight): a token's
    /// error counts 1 + ChangeWeight * change / mean change, change being its squared difference to the same token of
    /// the frame before (0 for a window's first frame). Most tokens of most frames do not move, so the uniform loss is
    /// spent on re-drawing still content; this points it at what the actions do. The flow and bootstrap parts logged
    /// during training are weighted too; the evaluation's flow_loss is not. Left out of the config JSON when 0.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public double ChangeWeight { get; init; }
    /// <summary>
    /// Logit-normal signal-level draw (0: the paper's uniform draw): u = sigmoid(LevelDrawMean + LevelDrawScale * n), n ~ N(0, 1),
    /// takes the place of the uniform u in j = floor(u * 2^e), so the middle levels are drawn more often and both ends less,
    /// as SD3 draws rectified-flow times. Left out of the config JSON when 0.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public double LevelDrawScale { get; init; }
    /// <summary>Centre of the logit-normal level draw in logit units (0: tau = 0.5; -0.5: tau ~ 0.38); used only with LevelDrawScale > 0.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public double LevelDrawMean { get; init; }
    /// <summary>
    /// Extra draws of windows with recorded actions (0: every window once per pass over the data): a labeled window enters
    /// the training draw 1 + LabeledOversample times, so the action pathway sees more of the batch when much of the data
    /// is unlabeled. Unlabeled windows stay in. Left out of the config JSON when 0.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public int LabeledOversample { get; init; }
    /// <summary>Beyond this the draw list (one entry per draw) would outgrow memory on a large collection long before it helps.</summary>
    public const int MaxLabeledOversample = 100;
    /// <summary>Training step from which bootstrap rows are drawn (before it every row is a flow row).</summary>
    public int BootstrapStart { get; init; } = 500;
    /// <summary>Share of batch rows on the bootstrap path once enabled (NH/EH: 0.25).</summary>
    public double BootstrapFraction { get; init; } = 0.25;
    public int EvalEvery { get; init; } = 250;
    /// <summary>Validation windows per evaluation (evenly spaced over the split).</summary>
    public int EvalWindows { get; init; } = 8;
    /// <summary>
    /// Train windows (SequenceLength frames with actions, evenly spread) the action-shuffle ratio is also read on, beside the
    /// evaluation split's: many episodes instead of the few labeled validation ones (0: not read).
    /// </summary>
    public int TrainShuffleWindows { get; init; } = 32;
    /// <summary>Context frames before an open-loop rollout, and the rollout horizon.</summary>
    public int EvalContext { get; init; } = 4;
    public int EvalHorizon { get; init; } = 16;
    public int CheckpointEvery { get; init; } = 250;

    public IEnumerable<string> Validate(string prefix = "")
    {
        foreach (var problem in OptimizerSettings.Validate(this, prefix)) yield return problem;
        if (ChangeWeight < 0 || !double.IsFinite(ChangeWeight)) yield return $"{prefix}ChangeWeight must be a non-negative number (got {ChangeWeight})";
        if (LevelDrawScale < 0 || !double.IsFinite(LevelDrawScale)) yield return $"{prefix}LevelDrawScale must be a non-negative number (got {LevelDrawScale})";
        if (!double.IsFinite(LevelDrawMean)) yield return $"{prefix}LevelDrawMean must be a finite number (got {LevelDrawMean})";
        if (LabeledOversample is < 0 or > MaxLabeledOversample)
            yield return $"{prefix}LabeledOversample must lie in [0, {MaxLabeledOversample}] (got {LabeledOversample})";
        if (BootstrapStart < 0) yield return $"{prefix}BootstrapStart must not be negative (got {BootstrapStart})";
        if (BootstrapFraction is < 0 or > 1) yield return $"{prefix}BootstrapFraction must lie in [0, 1] (got {BootstrapFraction})";
        if (EvalEvery < 1) yield return $"{prefix}EvalEvery must be positive (got {EvalEvery})";
        if (EvalWindows < 1) yield return $"{prefix}EvalWindows must be positive (got {EvalWindows})";
        if (TrainShuffleWindows < 0) yield return $"{prefix}TrainShuffleWindows must not be negative (got {TrainShuffleWindows})";
        if (EvalContext < 1) yield return $"{prefix}EvalContext must be positive (got {EvalContext})";
        if (EvalHorizon < 1) yield return $"{prefix}EvalHorizon must be positive (got {EvalHorizon})";
        if (CheckpointEvery < 1) yield return $"{prefix}CheckpointEvery must be positive (got {CheckpointEvery})";
    }
}

public readonly record struct DynamicsStepResult(long Step, double Loss, double Flow, double Bootstrap, double GradNorm, double LearningRate);

/// <summary>
/// The dynamics training loop on an in-memory <see cref="LatentSet"/>: windows of consecutive frames,
/// shortcut forcing, AdamW with warmup + cosine and gradient clipping. <see cref="CaptureState"/> holds
/// everything a resumed run needs (weights, moments, the noise generator, the data cursor), so N steps
/// equal N/2 + resume + N/2 bit for bit.
/// </summary>
public sealed class DynamicsTrainer : ICheckpointedTrainer, IDisposable
{
    private readonly LatentSet _train;
    private readonly int[] _windows;
    private WindowSampler _sampler;
    private readonly Generator _generator;
    private readonly TrainerOptimizer _optimizer;

    public DynamicsTrainer(DynamicsConfig model, IReadOnlyList<ActionComponentSpec> actions, DynamicsTrainingConfig training, LatentSet train,
        ulong seed, Device? device = null)
    {
        var problems = model.Validate().Concat(training.Validate()).ToList();
        if (training.SequenceLength > model.ContextFrames)
            problems.Add($"SequenceLength {training.SequenceLength} exceeds the model's ContextFrames {model.ContextFrames}");
        if (train.Tokens != model.LatentTokens || train.Dim != model.LatentDim)
            problems.Add($"latents are {train.Tokens}x{train.Dim} but the model expects {model.LatentTokens}x{model.LatentDim}");
        if (train.Columns != ActionComponentSpec.TotalColumns(actions))
            problems.Add($"latents carry {train.Columns} action columns but the action space has {ActionComponentSpec.TotalColumns(actions)}");
        if (problems.Count > 0) throw new ArgumentException(string.Join("; ", problems));
        ModelConfig = model;
        Training = training;
        Device = device ?? Device.Cpu;
        Seed = seed;
        _train = train;
        _windows = TrainingDraws(train, training.SequenceLength, training.LabeledOversample);
        LabeledWindows = train.LabeledWindowStarts(training.SequenceLength, stride: 1).Length;
        _sampler = new WindowSampler(_windows.Length, seed);
        using (var init = new Generator(seed, Device.Cpu))
            Model = new DynamicsModel(model, actions, new ParamOptions(Generator: init));
        if (Device != Device.Cpu) Model.To(Device);
        _generator = new Generator(seed ^ 0x9E3779B97F4A7C15UL, Device);
        _optimizer = new TrainerOptimizer(Model, training);
    }

    /// <summary>Window starts one pass over the data draws from: every window once, then the labeled ones <paramref name="labeledOversample"/> times more.</summary>
    public static int[] TrainingDraws(LatentSet train, int length, int labeledOversample)
    {
        var labeled = train.LabeledWindowStarts(length, stride: 1);
        return train.WindowStarts(length).Concat(Enumerable.Repeat(labeled, labeledOversample).SelectMany(w => w)).ToArray();
    }

    public DynamicsModel Model { get; }
    public DynamicsConfig ModelConfig { get; }
    public DynamicsTrainingConfig Training { get; }
    public Device Device { get; }
    public ulong Seed { get; }
    public long Step { get; private set; }
    /// <summary>Draws per pass over the data (labeled windows counted 1 + LabeledOversample times).</summary>
    public int TrainingWindows => _windows.Length;
    /// <summary>Distinct training windows with an action leading into every frame after the first.</summary>
    public int LabeledWindows { get; }
    public bool Done => Step >= Training.Steps;

    /// <summary>Bootstrap share of rows at the current step.</summary>
    public double BootstrapFraction => Step >= Training.BootstrapStart ? Training.BootstrapFraction : 0;

    public DynamicsStepResult TrainStep()
    {
        using var scope = Torch.NewDisposeScope();
        Model.Train();
        var t = Training;
        var starts = _sampler.Next(t.BatchSize).Select(i => _windows[i]).ToArray();
        var (z1, actions, labeled) = _train.Gather(starts, t.SequenceLength, Device);
        using var draw = ShortcutForcing.Draw(ModelConfig, t, t.BatchSize, t.SequenceLength, BootstrapFraction, _generator, Device);
        var result = ShortcutForcing.Compute(Model, z1, actions, labeled, draw, _generator, t.ChangeWeight);
        var lossValue = result.Loss.ToDouble();
        if (!double.IsFinite(lossValue))
            throw new NonFiniteLossException(Step, $"flow {result.Flow}, bootstrap {result.Bootstrap}");
        var (norm, lr) = _optimizer.Step(result.Loss, Step);
        Step++;
        return new DynamicsStepResult(Step, lossValue, result.Flow, result.Bootstrap, norm, lr);
    }

    /// <summary>The weight average in the model until disposed (see <see cref="TrainerOptimizer.AveragedWeights"/>).</summary>
    public IDisposable AveragedWeights() => _optimizer.AveragedWeights();

    /// <summary>Throws <see cref="NonFiniteLossException"/> when any weight is NaN or infinite (never checkpoint those).</summary>
    public void EnsureFiniteWeights() => TrainerState.EnsureFiniteWeights(Model, Step);

    /// <summary>Weights, optimizer moments (copies the caller disposes) and a JSON state with "step", "rng" and "cursor".</summary>
    public (Dictionary<string, Tensor> Model, Dictionary<string, Tensor> Optimizer, JsonObject State) CaptureState()
    {
        var state = new JsonObject
        {
            ["step"] = Step,
            ["rng"] = new JsonObject { ["noise_generator"] = TrainerState.Capture(_generator) },
            ["cursor"] = _sampler.ToCursor(),
        };
        return (Model.StateDict(), _optimizer.StateDict(), state);
    }

    public void RestoreState(IReadOnlyDictionary<string, Tensor> model, IReadOnlyDictionary<string, Tensor> optimizer, JsonObject state)
    {
        var sampler = WindowSampler.FromCursor(state["cursor"]!.AsObject(), _windows.Length, Seed);
        Model.LoadStateDict(model);
        _optimizer.LoadStateDict(optimizer);
        Step = state["step"]!.GetValue<long>();
        _sampler = sampler;
        TrainerState.Restore(_generator, state["rng"]!["noise_generator"]!.GetValue<string>());
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _generator.Dispose();
        Model.Dispose();
    }
}
