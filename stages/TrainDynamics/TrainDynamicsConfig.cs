using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Dreamer.Hosting;
using Dreamer.WorldModel;

namespace Dreamer.Stages.TrainDynamics;

/// <summary>The train-dynamics stage's configuration: everything lives under the "TrainDynamics" section.</summary>
public sealed class TrainDynamicsConfig : IValidatedConfig
{
    public TrainDynamicsSection TrainDynamics { get; set; } = new();

    public IEnumerable<string> Validate() => TrainDynamics.Validate();
}

/// <summary>
/// A preset (tiny, small, base) plus overrides: every unset (null) model or training value comes from
/// the preset, e.g. --set TrainDynamics:Preset=small --set TrainDynamics:Steps=500
/// --set TrainDynamics:Model:Transformer:Layers=4 --set TrainDynamics:Objective=CleanContext.
/// The latent shape (LatentTokens, LatentDim) always comes from the latents table.
/// </summary>
public sealed class TrainDynamicsSection() : TrainingSection("TrainDynamics")
{
    public static readonly IReadOnlyList<string> Objectives = Enum.GetNames<DynamicsObjective>();

    /// <summary>Shortcut (the paper's, default) or CleanContext (4K's fix for sparse content).</summary>
    public string? Objective { get; set; }
    /// <summary>Evaluation windows shown in rollout.mp4, stacked vertically (ground truth | imagined).</summary>
    public int VideoWindows { get; set; } = 2;
    /// <summary>The ffmpeg executable that encodes rollout.mp4.</summary>
    public string Ffmpeg { get; set; } = "ffmpeg";
    public int? BootstrapStart { get; set; }
    public double? ChangeWeight { get; set; }
    public double? LevelDrawScale { get; set; }
    public double? LevelDrawMean { get; set; }
    public int? LabeledOversample { get; set; }
    public int? TrainShuffleWindows { get; set; }
    public double? BootstrapFraction { get; set; }
    public int? EvalContext { get; set; }
    public int? EvalHorizon { get; set; }

    public DynamicsModelSection Model { get; set; } = new();

    public IEnumerable<string> Validate()
    {
        if (PresetProblem(DynamicsPresets.Names) is { } preset)
        {
            yield return preset;
            yield break;
        }
        if (Objective != null && !Objectives.Contains(Objective, StringComparer.OrdinalIgnoreCase))
        {
            yield return $"TrainDynamics:Objective must be one of {string.Join(", ", Objectives)} (got '{Objective}')";
            yield break;
        }
        foreach (var p in RunProblems()) yield return p;
        if (VideoWindows < 1) yield return $"TrainDynamics:VideoWindows must be positive (got {VideoWindows})";
        if (string.IsNullOrWhiteSpace(Ffmpeg)) yield return "TrainDynamics:Ffmpeg must name the ffmpeg executable";
        var (model, training) = Resolve(null, null);
        // The latent shape and grid come from the data: Pack and PreviousReach's grid are checked once they are known (PlanAsync).
        var reach = model.PreviousReach;
        model = model with { LatentTokens = Math.Max(model.Pack, 1), LatentDim = 1, PreviousReach = 0 };
        if (reach < 0) yield return $"TrainDynamics:Model:PreviousReach must not be negative (got {reach})";
        else if (reach > 0 && !model.PreviousInput) yield return $"TrainDynamics:Model:PreviousReach {reach} needs TrainDynamics:Model:PreviousInput=true";
        foreach (var p in model.Validate("TrainDynamics:Model:")) yield return p;
        foreach (var p in training.Validate("TrainDynamics:")) yield return p;
        if (training.SequenceLength > model.ContextFrames)
            yield return $"TrainDynamics:SequenceLength {training.SequenceLength} must not exceed TrainDynamics:Model:ContextFrames {model.ContextFrames}";
    }

    /// <summary>The preset with every set value applied; the latent shape from the data when given.</summary>
    /// <param name="latentGridCols">Width of the tokenizer's latent grid (null: unknown or none); used when GridPositions is on.</param>
    /// <param name="categoricalAction">Whether the latents carry a categorical action component (null: unknown).</param>
    public (DynamicsConfig Model, DynamicsTrainingConfig Training) Resolve(int? latentTokens, int? latentDim, int? latentGridCols = null,
        bool? categoricalAction = null)
    {
        var preset = DynamicsPresets.Get(Preset);
        var p = preset.Training;
        var steps = Steps ?? p.Steps;
        var training = p with
        {
            Steps = steps,
            BatchSize = BatchSize ?? p.BatchSize,
            SequenceLength = SequenceLength ?? p.SequenceLength,
            LearningRate = LearningRate ?? p.LearningRate,
            MinLearningRateRatio = MinLearningRateRatio ?? p.MinLearningRateRatio,
            WarmupSteps = WarmupSteps ?? Math.Min(p.WarmupSteps, steps),
            WeightDecay = WeightDecay ?? p.WeightDecay,
            Beta1 = Beta1 ?? p.Beta1,
            Beta2 = Beta2 ?? p.Beta2,
            GradClip = GradClip ?? p.GradClip,
            WeightAverage = WeightAverage ?? p.WeightAverage,
            Objective = Objective == null ? p.Objective : Enum.Parse<DynamicsObjective>(Objective, ignoreCase: true),
            BootstrapStart = BootstrapStart ?? p.BootstrapStart,
            ChangeWeight = ChangeWeight ?? p.ChangeWeight,
            LevelDrawScale = LevelDrawScale ?? p.LevelDrawScale,
            LevelDrawMean = LevelDrawMean ?? p.LevelDrawMean,
            LabeledOversample = LabeledOversample ?? p.LabeledOversample,
            TrainShuffleWindows = TrainShuffleWindows ?? p.TrainShuffleWindows,
            BootstrapFraction = BootstrapFraction ?? p.BootstrapFraction,
            EvalEvery = EvalEvery ?? p.EvalEvery,
            EvalWindows = EvalWindows ?? p.EvalWindows,
            EvalContext = EvalContext ?? p.EvalContext,
            EvalHorizon = EvalHorizon ?? p.EvalHorizon,
            CheckpointEvery = CheckpointEvery ?? p.CheckpointEvery,
        };
        var model = Model.Apply(preset.Model) with
        {
            LatentTokens = latentTokens ?? preset.Model.LatentTokens,
            LatentDim = latentDim ?? preset.Model.LatentDim,
            LatentGridCols = GridPositions(preset) ? latentGridCols ?? 0 : 0,
        };
        // What the preset turns on but the data cannot feed is dropped (grid positions fall back the same way); set
        // explicitly, the stage reports it instead: the neighbourhood needs a latent grid, the per-action maps a categorical action.
        if (Model.PreviousReach == null && model.LatentGridCols == 0) model = model with { PreviousReach = 0 };
        if (Model.PreviousPerAction == null && categoricalAction == false) model = model with { PreviousPerAction = false };
        if (Model.PreviousMapGain == null && !model.PreviousPerAction) model = model with { PreviousMapGain = null };
        return (model, training);
    }

    /// <summary>Whether the model takes 2-D positions from the tokenizer's latent grid (Model:GridPositions, else the preset's).</summary>
    public bool GridPositions(DynamicsPreset preset) => Model.GridPositions ?? preset.GridPositions;

    /// <summary>Settable values only: derived ones (SpatialTokens, HeadDim, ...) follow from them and would only add noise to config diffs.</summary>
    private static readonly JsonSerializerOptions EffectiveOptions = new() { IgnoreReadOnlyProperties = true, Converters = { new JsonStringEnumConverter() } };

    /// <summary>
    /// The effective configuration (preset resolved) as recorded in the manifest and hashed into the id:
    /// model, training (objective included), seed, device, determinism and the video windows.
    /// Threads, checkpoint cadence, lease timing and the ffmpeg path change how the work runs, not what it produces: left out.
    /// </summary>
    public JsonObject EffectiveJson(DynamicsConfig model, DynamicsTrainingConfig training)
    {
        var json = new JsonObject
        {
            ["Preset"] = Preset,
            ["Objective"] = training.Objective.ToString(),
            ["Device"] = Torch.Device.Parse(Device).ToString(),
            ["Deterministic"] = Deterministic,
            ["Seed"] = Seed,
            ["VideoWindows"] = VideoWindows,
            ["Model"] = JsonSerializer.SerializeToNode(model, EffectiveOptions),
            ["Training"] = JsonSerializer.SerializeToNode(training, EffectiveOptions),
        };
        json["Training"]!.AsObject().Remove(nameof(DynamicsTrainingConfig.CheckpointEvery));
        return json;
    }
}

/// <summary>Model overrides; null keeps the preset's value. LatentTokens and LatentDim are the data's, never set here.</summary>
public sealed class DynamicsModelSection
{
    public int? Pack { get; set; }
    public int? KMax { get; set; }
    public int? ContextFrames { get; set; }
    public double? ContextNoise { get; set; }
    public bool? ResidualHead { get; set; }
    public bool? PreviousInput { get; set; }
    public int? PreviousReach { get; set; }
    public bool? PreviousPerAction { get; set; }
    public double? PreviousMapGain { get; set; }
    public double? CleanPrefixShare { get; set; }
    public bool? ConditionSpatial { get; set; }
    public bool? AdaptiveNorm { get; set; }
    /// <summary>Spatial tokens at their 2-D position on the tokenizer's latent grid (needs a tokenizer trained with LatentGrid).</summary>
    public bool? GridPositions { get; set; }
    public SpaceTimeOverrides Transformer { get; set; } = new();

    public DynamicsConfig Apply(DynamicsConfig p) => p with
    {
        Pack = Pack ?? p.Pack,
        KMax = KMax ?? p.KMax,
        ContextFrames = ContextFrames ?? p.ContextFrames,
        ContextNoise = ContextNoise ?? p.ContextNoise,
        ResidualHead = ResidualHead ?? p.ResidualHead,
        PreviousInput = PreviousInput ?? p.PreviousInput,
        PreviousReach = PreviousReach ?? p.PreviousReach,
        PreviousPerAction = PreviousPerAction ?? p.PreviousPerAction,
        PreviousMapGain = PreviousMapGain ?? p.PreviousMapGain,
        CleanPrefixShare = CleanPrefixShare ?? p.CleanPrefixShare,
        ConditionSpatial = ConditionSpatial ?? p.ConditionSpatial,
        AdaptiveNorm = AdaptiveNorm ?? p.AdaptiveNorm,
        Transformer = Transformer.Apply(p.Transformer),
    };
}
