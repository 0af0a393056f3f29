using System.Text.Json.Nodes;
using Dreamer.Torch;
using Dreamer.Torch.NN;

namespace Dreamer.WorldModel;

using Torch = Dreamer.Torch.Torch;

/// <summary>How the tokenizer is trained and evaluated.</summary>
public sealed record TokenizerTrainingConfig : IOptimizerSettings
{
    public int Steps { get; init; } = 2000;
    public int BatchSize { get; init; } = 8;
    /// <summary>Frames per training window (at most the model's ContextFrames).</summary>
    public int SequenceLength { get; init; } = 4;
    public double LearningRate { get; init; } = 3e-4;
    /// <summary>Cosine decay ends at LearningRate * MinLearningRateRatio.</summary>
    public double MinLearningRateRatio { get; init; } = 0.1;
    public int WarmupSteps { get; init; } = 100;
    public double WeightDecay { get; init; } = 0.01;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double GradClip { get; init; } = 1.0;
    /// <summary>Decay of the weight average evaluation and the stored model use (0: the raw weights); left out of the config JSON when 0.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public double WeightAverage { get; init; }
    /// <summary>none, ssim, gradient or lpips (then LpipsWeights names a safetensors file).</summary>
    public string Perceptual { get; init; } = "ssim";
    public double PerceptualWeight { get; init; } = 0.2;
    public string? LpipsWeights { get; init; }
    /// <summary>EMA decay of the RMS loss normalisers (each term is divided by sqrt(EMA of its square)).</summary>
    public double LossNormDecay { get; init; } = 0.95;
    public int EvalEvery { get; init; } = 500;
    /// <summary>Validation windows per evaluation (evenly spaced over the split).</summary>
    public int EvalWindows { get; init; } = 64;
    public int CheckpointEvery { get; init; } = 500;

    public IEnumerable<string> Validate(string prefix = "")
    {
        foreach (var problem in OptimizerSettings.Validate(this, prefix)) yield return problem;
        if (!PerceptualLosses.Names.Contains(Perceptual))
            yield return $"{prefix}Perceptual must be one of {string.Join(", ", PerceptualLosses.Names)} (got '{Perceptual}')";
        if (Perceptual == "lpips" && string.IsNullOrEmpty(LpipsWeights)) yield return $"{prefix}LpipsWeights must name a safetensors file when Perceptual is lpips";
        if (PerceptualWeight < 0) yield return $"{prefix}PerceptualWeight must not be negative (got {PerceptualWeight})";
        if (LossNormDecay is <= 0 or >= 1) yield return $"{prefix}LossNormDecay must lie in (0, 1) (got {LossNormDecay})";
        if (EvalEvery < 1) yield return $"{prefix}EvalEvery must be positive (got {EvalEvery})";
        if (EvalWindows < 1) yield return $"{prefix}EvalWindows must be positive (got {EvalWindows})";
        if (CheckpointEvery < 1) yield return $"{prefix}CheckpointEvery must be positive (got {CheckpointEvery})";
    }
}

/// <summary>
/// Divides a loss by the root of an exponential moving average of its square (bias-corrected), so each
/// term contributes gradients of a steady scale however small it gets (LR LossNormalizer).
/// </summary>
public sealed class LossNormalizer(double decay)
{
    public double Ema { get; private set; }
    public long Count { get; private set; }

    /// <summary>Folds in this step's value and returns the divisor.</summary>
    public double Update(double value)
    {
        Ema = decay * Ema + (1 - decay) * value * value;
        Count++;
        var corrected = Ema / (1 - Math.Pow(decay, Count));
        return Math.Max(Math.Sqrt(corrected), 1e-8);
    }

    public JsonObject ToJson() => new() { ["ema"] = Ema, ["count"] = Count };

    public void Load(JsonObject json)
    {
        Ema = json["ema"]!.GetValue<double>();
        Count = json["count"]!.GetValue<long>();
    }
}

/// <summary>A loss that is NaN or infinite: training stops without a step or a checkpoint.</summary>
public sealed class NonFiniteLossException(long step, string detail)
    : Exception($"non-finite loss at step {step}: {detail}; stopping without a checkpoint (lower the learning rate or check the data)")
{
    public long Step { get; } = step;
}

public readonly record struct TrainStepResult(long Step, double Loss, double Mse, double Perceptual, double GradNorm, double LearningRate);

/// <summary>
/// Mean per-frame PSNR (dB) and SSIM over the evaluated validation frames, and how faithfully reconstructions change from
/// one frame to the next (pooled over consecutive pairs, PSNR with peak 1): TemporalPsnr scores the decoded change against
/// the true change (low: flicker or motion lost), RawChangePsnr and DecodedChangePsnr are the copy-last-frame PSNR of the
/// originals and of the reconstructions (decoded above raw: the tokenizer smooths motion away; below: it flickers); NaN
/// when the windows hold one frame each.
/// </summary>
public sealed record EvalResult(double Psnr, double Ssim, double Mse, int Frames, double TemporalPsnr, double RawChangePsnr, double DecodedChangePsnr);

/// <summary>Squared errors of frame-to-frame change, summed over consecutive pairs (each pair's mean over pixels).</summary>
public readonly record struct TemporalChange(double Temporal, double Raw, double Decoded, long Pairs)
{
    public static TemporalChange operator +(TemporalChange a, TemporalChange b) =>
        new(a.Temporal + b.Temporal, a.Raw + b.Raw, a.Decoded + b.Decoded, a.Pairs + b.Pairs);

    /// <summary>decoded and original [B, T, ...] in [0, 1]: the pairs (t, t + 1) of every window.</summary>
    public static TemporalChange Of(Tensor decoded, Tensor original)
    {
        using var scope = Torch.NewDisposeScope();
        var (b, t) = (original.Size(0), original.Size(1));
        if (t < 2) return default;
        Tensor Change(Tensor x) => x.Narrow(1, 1, t - 1) - x.Narrow(1, 0, t - 1);
        double Sum(Tensor squared) => squared.Reshape(b * (t - 1), -1).Mean(1).Sum().ToDouble();
        var raw = Change(original);
        var dec = Change(decoded);
        return new TemporalChange(Sum((dec - raw).Square()), Sum(raw.Square()), Sum(dec.Square()), b * (t - 1));
    }

    /// <summary>PSNR (peak 1) of a pooled sum; a zero error reads 100 dB, as ImageMetrics.Psnr caps it.</summary>
    public double Psnr(double sum) => Pairs == 0 ? double.NaN : ImageMetrics.PsnrOfMse(sum / Pairs);
}

/// <summary>
/// The tokenizer training loop on an in-memory <see cref="FrameSet"/>: windows of consecutive frames,
/// MAE masking, loss = MSE/rms + w * perceptual/rms, AdamW with warmup + cosine and gradient clipping.
/// Everything a resumed run needs is in <see cref="CaptureState"/>: weights, optimizer moments, the MAE
/// generator's state, the data cursor and the loss normalisers, so N steps equal N/2 + resume + N/2 bit for bit.
/// </summary>
public sealed class TokenizerTrainer : ICheckpointedTrainer, IDisposable
{
    private readonly FrameSet _train;
    private readonly int[] _windows;
    private WindowSampler _sampler;
    private readonly Generator _generator;
    private readonly TrainerOptimizer _optimizer;
    private readonly IPerceptualLoss? _perceptual;
    private readonly LossNormalizer _mseNorm;
    private readonly LossNormalizer _perceptualNorm;

    /// <param name="perceptual">A perceptual term to use instead of the one Training.Perceptual names (the trainer disposes it).</param>
    public TokenizerTrainer(TokenizerConfig model, TokenizerTrainingConfig training, FrameSet train, ulong seed, Device? device = null,
        IPerceptualLoss? perceptual = null)
    {
        var problems = model.Validate().Concat(training.Validate()).ToList();
        if (training.SequenceLength > model.ContextFrames)
            problems.Add($"SequenceLength {training.SequenceLength} exceeds the model's ContextFrames {model.ContextFrames}");
        if (train.Height != model.Height || train.Width != model.Width || train.Channels != model.Channels)
            problems.Add($"frames are {train.Height}x{train.Width}x{train.Channels} but the tokenizer expects {model.Height}x{model.Width}x{model.Channels}");
        if (problems.Count > 0) throw new ArgumentException(string.Join("; ", problems));
        ModelConfig = model;
        Training = training;
        Device = device ?? Device.Cpu;
        Seed = seed;
        _train = train;
        _windows = train.WindowStarts(training.SequenceLength);
        _sampler = new WindowSampler(_windows.Length, seed);
        // Separate streams: initialisation, and MAE masks (the latter is checkpointed).
        using (var init = new Generator(seed, Device.Cpu))
        {
            Model = new CausalTokenizer(model, new ParamOptions(Generator: init));
        }
        if (Device != Device.Cpu) Model.To(Device);
        _generator = new Generator(seed ^ 0x5DEECE66DUL, Device);
        _optimizer = new TrainerOptimizer(Model, training);
        _perceptual = perceptual ?? (training.PerceptualWeight > 0 ? PerceptualLosses.Create(training.Perceptual, training.LpipsWeights, Device) : null);
        _mseNorm = new LossNormalizer(training.LossNormDecay);
        _perceptualNorm = new LossNormalizer(training.LossNormDecay);
    }

    public CausalTokenizer Model { get; }
    public TokenizerConfig ModelConfig { get; }
    public TokenizerTrainingConfig Training { get; }
    public Device Device { get; }
    public ulong Seed { get; }
    public long Step { get; private set; }
    public int TrainingWindows => _windows.Length;
    public bool Done => Step >= Training.Steps;

    /// <summary>[B, T, H, W, C] to [B*T, C, H, W].</summary>
    public static Tensor ToImages(Tensor frames)
    {
        using var scope = Torch.NewDisposeScope();
        var s = frames.Shape;
        return frames.Reshape(s[0] * s[1], s[2], s[3], s[4]).Permute(0, 3, 1, 2).MoveToOuterScope();
    }

    /// <summary>One optimisation step on the next batch of windows.</summary>
    public TrainStepResult TrainStep()
    {
        using var scope = Torch.NewDisposeScope();
        Model.Train();
        var t = Training;
        var picks = _sampler.Next(t.BatchSize);
        var starts = picks.Select(i => _windows[i]).ToArray();
        var x = CausalTokenizer.ToUnit(_train.Gather(starts, t.SequenceLength).To(Device));
        var mask = ModelConfig.MaskProbMax > 0 ? Model.SampleMask(t.BatchSize, t.SequenceLength, _generator, Device) : null;
        var recon = Model.Decode(Model.Encode(x, mask));

        var mse = Torch.MseLoss(recon, x);
        var perceptual = _perceptual?.Forward(ToImages(recon), ToImages(x));
        double mseValue = mse.ToDouble(), perceptualValue = perceptual?.ToDouble() ?? 0;
        if (!double.IsFinite(mseValue) || !double.IsFinite(perceptualValue))
            throw new NonFiniteLossException(Step, $"mse {mseValue}, {t.Perceptual} {perceptualValue}");

        var loss = mse / _mseNorm.Update(mseValue);
        if (perceptual != null && t.PerceptualWeight > 0)
            loss = loss + perceptual * (t.PerceptualWeight / _perceptualNorm.Update(perceptualValue));
        var lossValue = loss.ToDouble();
        var (norm, lr) = _optimizer.Step(loss, Step);
        Step++;
        return new TrainStepResult(Step, lossValue, mseValue, perceptualValue, norm, lr);
    }

    /// <summary>The weight average in the model until disposed (see <see cref="TrainerOptimizer.AveragedWeights"/>).</summary>
    public IDisposable AveragedWeights() => _optimizer.AveragedWeights();

    /// <summary>
    /// Throws <see cref="NonFiniteLossException"/> when any weight is NaN or infinite: an update can blow the
    /// weights up while its own loss was still finite, and such weights must never reach a checkpoint.
    /// </summary>
    public void EnsureFiniteWeights() => TrainerState.EnsureFiniteWeights(Model, Step);

    /// <summary>
    /// PSNR/SSIM of reconstructions without masking on up to <paramref name="maxWindows"/> windows of
    /// SequenceLength frames, evenly spaced over the set (deterministic).
    /// </summary>
    public EvalResult Evaluate(FrameSet data, int maxWindows, int batchSize = 8)
    {
        using (AveragedWeights())
            return Evaluate(Model, data, Training.SequenceLength, maxWindows, batchSize, Device);
    }

    public static EvalResult Evaluate(CausalTokenizer model, FrameSet data, int length, int maxWindows, int batchSize, Device device)
    {
        var starts = EvalWindows(data, length, maxWindows);
        if (starts.Length == 0) throw new ArgumentException($"no validation window of {length} frames");
        using var noGrad = Torch.NoGrad();
        model.Eval();
        double psnr = 0, ssim = 0, mse = 0;
        var frames = 0;
        var change = default(TemporalChange);
        for (var i = 0; i < starts.Length; i += batchSize)
        {
            using var scope = Torch.NewDisposeScope();
            var chunk = starts.AsSpan(i, Math.Min(batchSize, starts.Length - i));
            var x = CausalTokenizer.ToUnit(data.Gather(chunk, length).To(device));
            var recon = model.Decode(model.Encode(x));
            var a = ToImages(recon);
            var b = ToImages(x);
            psnr += ImageMetrics.Psnr(a, b).Sum().ToDouble();
            ssim += ImageMetrics.Ssim(a, b).Sum().ToDouble();
            mse += (a - b).Square().Mean(new long[] { 1, 2, 3 }).Sum().ToDouble();
            frames += (int)a.Size(0);
            change += TemporalChange.Of(recon, x);
        }
        model.Train();
        return new EvalResult(psnr / frames, ssim / frames, mse / frames, frames,
            change.Psnr(change.Temporal), change.Psnr(change.Raw), change.Psnr(change.Decoded));
    }

    /// <summary>Non-overlapping windows, evenly spaced: the same ones every evaluation.</summary>
    public static int[] EvalWindows(FrameSet data, int length, int maxWindows) => EpisodeWindows.Evenly(data.Episodes, length, maxWindows);

    /// <summary>
    /// Everything a resumed run needs: weights (the module's own tensors), optimizer moments (copies the
    /// caller disposes) and a JSON state with "step", "rng" (the MAE generator), "cursor" (the data
    /// sampler) and "normalizers" (the RMS loss normalisers).
    /// </summary>
    public (Dictionary<string, Tensor> Model, Dictionary<string, Tensor> Optimizer, JsonObject State) CaptureState()
    {
        var state = new JsonObject
        {
            ["step"] = Step,
            ["rng"] = new JsonObject { ["mae_generator"] = TrainerState.Capture(_generator) },
            ["cursor"] = _sampler.ToCursor(),
            ["normalizers"] = new JsonObject { ["mse"] = _mseNorm.ToJson(), ["perceptual"] = _perceptualNorm.ToJson() },
        };
        return (Model.StateDict(), _optimizer.StateDict(), state);
    }

    /// <summary>Restores a state written by <see cref="CaptureState"/> (same configuration and data).</summary>
    public void RestoreState(IReadOnlyDictionary<string, Tensor> model, IReadOnlyDictionary<string, Tensor> optimizer, JsonObject state)
    {
        var sampler = WindowSampler.FromCursor(state["cursor"]!.AsObject(), _windows.Length, Seed);
        Model.LoadStateDict(model);
        _optimizer.LoadStateDict(optimizer);
        Step = state["step"]!.GetValue<long>();
        _sampler = sampler;
        TrainerState.Restore(_generator, state["rng"]!["mae_generator"]!.GetValue<string>());
        _mseNorm.Load(state["normalizers"]!["mse"]!.AsObject());
        _perceptualNorm.Load(state["normalizers"]!["perceptual"]!.AsObject());
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _generator.Dispose();
        _perceptual?.Dispose();
        Model.Dispose();
    }
}
