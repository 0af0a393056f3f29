using System.Text.Json.Nodes;
using Dreamer.Hosting;
using Dreamer.WorldModel;

namespace Dreamer.Stages.Tokenize;

/// <summary>The tokenize stage's configuration: everything lives under the "Tokenizer" section.</summary>
public sealed class TokenizeConfig : IValidatedConfig
{
    public TokenizeSection Tokenizer { get; set; } = new();

    public IEnumerable<string> Validate() => Tokenizer.Validate();
}

/// <summary>
/// A preset (tiny, small, base) plus overrides: every unset (null) model or training value comes from
/// the preset, e.g. --set Tokenizer:Preset=small --set Tokenizer:Steps=3000 --set Tokenizer:Model:Encoder:Layers=6.
/// </summary>
public sealed class TokenizeSection() : TrainingSection("Tokenizer")
{
    /// <summary>Frames per forward when encoding episodes (results do not depend on it beyond float rounding).</summary>
    public int EncodeChunk { get; set; } = 16;
    /// <summary>Rows per Parquet row group of the latents table.</summary>
    public int RowGroupRows { get; set; } = 4096;
    /// <summary>Validation frames shown in samples.png (originals above reconstructions).</summary>
    public int SampleFrames { get; set; } = 8;
    public string? Perceptual { get; set; }
    public double? PerceptualWeight { get; set; }
    /// <summary>Safetensors file of an LPIPS network (Perceptual = lpips); see stages/WorldModel/README.md.</summary>
    public string? LpipsWeights { get; set; }
    public double? LossNormDecay { get; set; }

    public TokenizerModelSection Model { get; set; } = new();

    public IEnumerable<string> Validate()
    {
        if (PresetProblem(TokenizerPresets.Names) is { } preset)
        {
            yield return preset;
            yield break;
        }
        foreach (var p in RunProblems()) yield return p;
        if (EncodeChunk < 1) yield return $"Tokenizer:EncodeChunk must be positive (got {EncodeChunk})";
        if (RowGroupRows < 1) yield return $"Tokenizer:RowGroupRows must be positive (got {RowGroupRows})";
        if (SampleFrames < 1) yield return $"Tokenizer:SampleFrames must be positive (got {SampleFrames})";
        if (LpipsWeights != null && !File.Exists(LpipsWeights)) yield return $"Tokenizer:LpipsWeights: file not found: {LpipsWeights}";
        var (model, training) = Resolve(null, null);
        foreach (var p in model.Validate("Tokenizer:Model:")) yield return p;
        foreach (var p in training.Validate("Tokenizer:")) yield return p;
        if (training.SequenceLength > model.ContextFrames)
            yield return $"Tokenizer:SequenceLength {training.SequenceLength} must not exceed Tokenizer:Model:ContextFrames {model.ContextFrames}";
    }

    /// <summary>The preset with every set value applied; frame size from the data when given.</summary>
    public (TokenizerConfig Model, TokenizerTrainingConfig Training) Resolve(int? height, int? width, int channels = 3)
    {
        var preset = TokenizerPresets.Get(Preset);
        var p = preset.Training;
        var training = p with
        {
            Steps = Steps ?? p.Steps,
            BatchSize = BatchSize ?? p.BatchSize,
            SequenceLength = SequenceLength ?? p.SequenceLength,
            LearningRate = LearningRate ?? p.LearningRate,
            MinLearningRateRatio = MinLearningRateRatio ?? p.MinLearningRateRatio,
            WarmupSteps = WarmupSteps ?? Math.Min(p.WarmupSteps, Steps ?? p.Steps),
            WeightDecay = WeightDecay ?? p.WeightDecay,
            Beta1 = Beta1 ?? p.Beta1,
            Beta2 = Beta2 ?? p.Beta2,
            GradClip = GradClip ?? p.GradClip,
            WeightAverage = WeightAverage ?? p.WeightAverage,
            Perceptual = Perceptual ?? p.Perceptual,
            PerceptualWeight = PerceptualWeight ?? p.PerceptualWeight,
            LpipsWeights = LpipsWeights ?? p.LpipsWeights,
            LossNormDecay = LossNormDecay ?? p.LossNormDecay,
            EvalEvery = EvalEvery ?? p.EvalEvery,
            EvalWindows = EvalWindows ?? p.EvalWindows,
            CheckpointEvery = CheckpointEvery ?? p.CheckpointEvery,
        };
        var model = Model.Apply(preset.Model) with
        {
            Height = height ?? preset.Model.Height,
            Width = width ?? preset.Model.Width,
            Channels = channels,
        };
        // The preset's reach was chosen for its own grid: without a latent grid, or with one finer than the patches, it is
        // dropped (the manifest's effective config shows what ran); set explicitly, the same is bad input.
        if (Model.LatentReach == null && model.LatentReach != null && !model.LatentReachFits) model = model with { LatentReach = null };
        return (model, training);
    }

    /// <summary>
    /// The effective configuration (preset resolved) as recorded in the manifest and hashed into the id.
    /// Threads, checkpoint cadence and lease timing change how the work runs, not what it produces: left out.
    /// </summary>
    public JsonObject EffectiveJson(TokenizerConfig model, TokenizerTrainingConfig training, string? lpipsSha256)
    {
        var json = new JsonObject
        {
            ["Preset"] = Preset,
            ["Device"] = Torch.Device.Parse(Device).ToString(),
            ["Deterministic"] = Deterministic,
            ["Seed"] = Seed,
            ["EncodeChunk"] = EncodeChunk,
            ["RowGroupRows"] = RowGroupRows,
            ["SampleFrames"] = SampleFrames,
            ["Model"] = System.Text.Json.JsonSerializer.SerializeToNode(model),
            ["Training"] = System.Text.Json.JsonSerializer.SerializeToNode(training with { LpipsWeights = null }),
        };
        // The LPIPS file enters by content (below), not by where it happens to lie.
        json["Training"]!.AsObject().Remove(nameof(TokenizerTrainingConfig.CheckpointEvery));
        json["Training"]!.AsObject().Remove(nameof(TokenizerTrainingConfig.LpipsWeights));
        if (lpipsSha256 != null) json["LpipsWeightsSha256"] = lpipsSha256;
        return json;
    }
}

/// <summary>Model overrides; null keeps the preset's value.</summary>
public sealed class TokenizerModelSection
{
    public int? PatchSize { get; set; }
    public int? Latents { get; set; }
    public int? LatentDim { get; set; }
    public int? ContextFrames { get; set; }
    public double? MaskProbMax { get; set; }
    public int? PixelHidden { get; set; }
    public bool? PatchPositions { get; set; }
    public bool? LatentGrid { get; set; }
    /// <summary>Hard locality (see TokenizerConfig.LatentReach); negative: back to the paper's masks when the preset sets it.</summary>
    public int? LatentReach { get; set; }
    public bool? LatentsOnlyTime { get; set; }
    public SpaceTimeOverrides Encoder { get; set; } = new();
    public SpaceTimeOverrides Decoder { get; set; } = new();

    public TokenizerConfig Apply(TokenizerConfig p) => p with
    {
        PatchSize = PatchSize ?? p.PatchSize,
        Latents = Latents ?? p.Latents,
        LatentDim = LatentDim ?? p.LatentDim,
        ContextFrames = ContextFrames ?? p.ContextFrames,
        MaskProbMax = MaskProbMax ?? p.MaskProbMax,
        PixelHidden = PixelHidden ?? p.PixelHidden,
        PatchPositions = PatchPositions ?? p.PatchPositions,
        LatentGrid = LatentGrid ?? p.LatentGrid,
        LatentReach = LatentReach switch { null => p.LatentReach, < 0 => null, var r => r },
        LatentsOnlyTime = LatentsOnlyTime ?? p.LatentsOnlyTime,
        Encoder = Encoder.Apply(p.Encoder),
        Decoder = Decoder.Apply(p.Decoder),
    };
}
