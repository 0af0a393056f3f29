using Dreamer.Torch;

namespace Dreamer.WorldModel;

using Torch = Dreamer.Torch.Torch;

/// <summary>
/// One evaluation of a dynamics model. Metrics (keys): psnr_k{K}_h{h} (open-loop rollout frame h vs the
/// ground truth, both decoded by the tokenizer), floor_h{h} (the last context frame copied forward),
/// gain_k{K}_h{h} = psnr - floor (these three average per-window PSNRs), pooled_psnr_k{K}_h{h}, pooled_floor_h{h} and
/// pooled_gain_k{K}_h{h} (the same from the squared error pooled over all windows: a window the copy gets exactly
/// right has an unbounded PSNR, so a per-window mean of the floor depends on where PSNR is capped, the pooled one does
/// not), rollout_action_gain_k{K}_h{h} (largest K: pooled PSNR with the recorded actions minus with another window's
/// actions, windows rolled by half their number; above 0 means rollouts follow their actions), latent_mse_k{K} (over the horizon), latent_floor_mse (the last context
/// latent copied forward) and latent_floor_ratio_k{K} = floor / rollout MSE (above 1: better than copying), flow_loss and action_shuffle_ratio
/// (finest-step loss with other windows' actions, averaged over <see cref="ShufflePairings"/> rolls, over the loss with the true ones; above 1 means
/// the model reads its actions; action_shuffle_ratio_level{L} the same at signal level tau = L / KMax alone), action_shuffle_ratio_clean_context
/// (the same pooled over levels, scoring only each window's last frame behind a past corrupted as the sampler's context),
/// action_shuffle_ratio_as_trained (the training objective's flow loss, levels drawn per frame and w(tau)-weighted); eval_windows_labeled is 1 when the windows come from labeled episodes. Video: per frame an RGB24 image (ground truth | imagined) of the first window.
/// Episodes: the distinct episodes the windows come from, in order (names when the set has them), so a reader can tell
/// how representative the numbers are.
/// </summary>
public sealed record DynamicsEvalResult(Dictionary<string, double> Metrics, IReadOnlyList<byte[]> Video, int VideoWidth, int VideoHeight, int Windows,
    IReadOnlyList<string> Episodes);

public static class DynamicsEvaluation
{
    public static readonly int[] Horizons = [1, 4, 16];
    public static readonly int[] SamplingSteps = [1, 4];

    /// <param name="tokenizer">Decodes latents to pixels for PSNR and the video; null: latent metrics only.</param>
    public static DynamicsEvalResult Evaluate(DynamicsModel model, CausalTokenizer? tokenizer, LatentSet data, DynamicsTrainingConfig training,
        ulong seed, Device device, int videoWindows = 1)
    {
        var context = training.EvalContext;
        var horizon = training.EvalHorizon;
        // Rollouts follow the recorded actions, so score windows whose actions were recorded when there are any
        // (unlabeled episodes would measure action-free prediction and make the shuffle ratio 1 by construction).
        var labeledStarts = data.LabeledWindowStarts(context + horizon);
        var starts = labeledStarts.Length > 0
            ? EpisodeWindows.Evenly(labeledStarts, training.EvalWindows)
            : EpisodeWindows.Evenly(data.Episodes, context + horizon, training.EvalWindows);
        if (starts.Length == 0) throw new ArgumentException($"no validation episode has {context + horizon} frames (EvalContext + EvalHorizon)");
        using var scope = Torch.NewDisposeScope();
        using var noGrad = Torch.NoGrad();
        // Restore each model's mode afterwards: a frozen tokenizer stays in eval mode.
        var (modelTraining, tokenizerTraining) = (model.Training, tokenizer?.Training ?? false);
        model.Eval();
        tokenizer?.Eval();
        var metrics = new Dictionary<string, double> { ["eval_windows_labeled"] = labeledStarts.Length > 0 ? 1 : 0 };
        var (z, actions, labeled) = data.Gather(starts, context + horizon, device);
        var contextZ = z.Narrow(1, 0, context);
        var futureZ = z.Narrow(1, context, horizon);
        // Copy-last floor in latent space: judges the dynamics apart from how sensitive the tokenizer's decoder is.
        var latentFloor = (contextZ.Narrow(1, context - 1, 1) - futureZ).Square().Mean().ToDouble();
        metrics["latent_floor_mse"] = latentFloor;
        Tensor? truthFrames = null;
        if (tokenizer != null)
        {
            truthFrames = tokenizer.DecodeSequence(z);
            var last = truthFrames.Narrow(1, context - 1, 1);
            foreach (var h in Horizons.Where(h => h <= horizon))
                (metrics[$"floor_h{h}"], metrics[$"pooled_floor_h{h}"]) = Psnr(last, AtHorizon(truthFrames, h));
        }
        byte[][] video = [];
        int videoWidth = 0, videoHeight = 0;
        var largestK = SamplingSteps.Where(k => k <= model.Config.KMax).Max();
        foreach (var k in SamplingSteps.Where(k => k <= model.Config.KMax))
        {
            using var sampler = new DynamicsSampler(model, k, seed: seed);
            var imagined = sampler.Rollout(contextZ, actions.Narrow(1, 0, context), labeled.Narrow(1, 0, context),
                actions.Narrow(1, context, horizon), labeled.Narrow(1, context, horizon), horizon);
            metrics[$"latent_mse_k{k}"] = (imagined - futureZ).Square().Mean().ToDouble();
            metrics[$"latent_floor_ratio_k{k}"] = Ratio(latentFloor, metrics[$"latent_mse_k{k}"]);
            if (tokenizer == null || truthFrames == null) continue;
            var frames = tokenizer.DecodeSequence(Torch.Cat([contextZ, imagined], 1));
            foreach (var h in Horizons.Where(h => h <= horizon))
            {
                var (psnr, pooled) = Psnr(AtHorizon(frames, h), AtHorizon(truthFrames, h));
                metrics[$"psnr_k{k}_h{h}"] = psnr;
                metrics[$"gain_k{k}_h{h}"] = psnr - metrics[$"floor_h{h}"];
                metrics[$"pooled_psnr_k{k}_h{h}"] = pooled;
                metrics[$"pooled_gain_k{k}_h{h}"] = pooled - metrics[$"pooled_floor_h{h}"];
            }
            if (k != largestK) continue;
            (video, videoWidth, videoHeight) = SideBySide(truthFrames, frames, Math.Min(videoWindows, starts.Length));
            if (starts.Length < 2) continue;
            // Same context and noise, another window's actions: what the actions alone change in the rollout.
            using var shuffledSampler = new DynamicsSampler(model, k, seed: seed);
            var roll = ShuffleOffsets(starts.Length, 1)[0];
            var shuffledFrames = tokenizer.DecodeSequence(Torch.Cat([contextZ, shuffledSampler.Rollout(contextZ, actions.Narrow(1, 0, context),
                labeled.Narrow(1, 0, context), actions.Narrow(1, context, horizon).Roll(roll, 0), labeled.Narrow(1, context, horizon).Roll(roll, 0), horizon)], 1));
            foreach (var h in Horizons.Where(h => h <= horizon))
                metrics[$"rollout_action_gain_k{k}_h{h}"] = metrics[$"pooled_psnr_k{k}_h{h}"] - Psnr(AtHorizon(shuffledFrames, h), AtHorizon(truthFrames, h)).Pooled;
        }
        var windows = ShuffleWindows.Of(z, actions, labeled, training.SequenceLength);
        var shuffle = ActionShuffle(model, windows, seed, device);
        var (drawnLoss, drawnShuffled) = ActionShuffleAsTrained(model, windows, seed, training, device);
        metrics["action_shuffle_ratio_as_trained"] = Ratio(drawnShuffled, drawnLoss);
        metrics["flow_loss"] = shuffle.Flow.Average();
        metrics["action_shuffle_ratio"] = Ratio(shuffle.Shuffled.Average(), metrics["flow_loss"]);
        // Per signal level (tau = level / KMax); the pooled ratio is their loss-weighted mean.
        for (var level = 0; level < shuffle.Flow.Length; level++)
            metrics[$"action_shuffle_ratio_level{level}"] = Ratio(shuffle.Shuffled[level], shuffle.Flow[level]);
        if (shuffle.FlowLast.Length > 0)
            metrics["action_shuffle_ratio_clean_context"] = Ratio(shuffle.ShuffledLast.Average(), shuffle.FlowLast.Average());
        if (modelTraining) model.Train();
        if (tokenizerTraining) tokenizer?.Train();
        var episodes = starts.Select(s => data.Episodes[s]).Distinct().Select(e => data.EpisodeNames?[e] ?? $"episode {e}").ToArray();
        return new DynamicsEvalResult(metrics, video, videoWidth, videoHeight, starts.Length, episodes);

        Tensor AtHorizon(Tensor frames, int h) => frames.Narrow(1, context + h - 1, 1);
    }

    private static double Ratio(double numerator, double denominator) => numerator / Math.Max(denominator, 1e-12);

    /// <summary>
    /// The pooled action-shuffle ratio alone on at most <paramref name="windows"/> windows of SequenceLength frames with actions, evenly
    /// spread over <paramref name="data"/>: read on the train split, it spans many episodes where the validation split may hold two, so a
    /// model change is not judged through which episodes those are. NaN when fewer than two such windows exist.
    /// </summary>
    public static (double Ratio, int Windows, int Episodes) ActionShuffleRatio(DynamicsModel model, LatentSet data, DynamicsTrainingConfig training,
        int windows, ulong seed, Device device)
    {
        var starts = EpisodeWindows.Evenly(data.LabeledWindowStarts(training.SequenceLength), windows);
        var episodes = starts.Select(s => data.Episodes[s]).Distinct().Count();
        if (starts.Length < 2) return (double.NaN, starts.Length, episodes);
        using var scope = Torch.NewDisposeScope();
        using var noGrad = Torch.NoGrad();
        var modelTraining = model.Training;
        model.Eval();
        var (z, actions, labeled) = data.Gather(starts, training.SequenceLength, device);
        var shuffle = ActionShuffle(model, ShuffleWindows.Of(z, actions, labeled, training.SequenceLength), seed, device, cleanContext: false);
        if (modelTraining) model.Train();
        return (Ratio(shuffle.Shuffled.Average(), shuffle.Flow.Average()), starts.Length, episodes);
    }

    /// <summary>
    /// Frames [B, 1, H, W, C] against the truth: the mean of per-window PSNRs, and the PSNR of the squared error pooled over
    /// all windows (same pixel count per window, so the mean of their MSEs), both from one pass over the pixels.
    /// </summary>
    private static (double Mean, double Pooled) Psnr(Tensor a, Tensor b)
    {
        using var scope = Torch.NewDisposeScope();
        var n = a.Size(0) * a.Size(1);
        var perWindow = ImageMetrics.Psnr(a.Reshape(n, -1), b.Reshape(n, -1));
        var pooledMse = (perWindow * (-Math.Log(10) / 10)).Exp().Mean().ToDouble();
        return (perWindow.Mean().ToDouble(), ImageMetrics.PsnrOfMse(pooledMse));
    }

    /// <summary>How many other windows' actions each window is scored with in the action-shuffle ratio.</summary>
    public const int ShufflePairings = 4;

    /// <summary>
    /// Up to <paramref name="count"/> distinct offsets spread over [1, windows) to roll the windows by, pairing each with
    /// others' actions. Not only by one: evenly spaced windows next to each other are often moments of one episode with
    /// alike actions, so that pairing understates what the actions carry, and a single pairing is a noisy draw
    /// (the same model read 1.243 on 32 windows and 1.137 on 68 when rolled by one).
    /// </summary>
    public static int[] ShuffleOffsets(int windows, int count) =>
        Enumerable.Range(1, count).Select(j => (int)Math.Round((double)j * windows / (count + 1), MidpointRounding.AwayFromZero))
            .Where(r => r >= 1 && r < windows).Distinct().DefaultIfEmpty(0).ToArray();

    /// <summary>The first SequenceLength frames of the windows with their actions, and other windows' actions (rolled by <see cref="ShuffleOffsets"/>).</summary>
    private sealed record ShuffleWindows(Tensor Z, Tensor Actions, Tensor Labeled, (Tensor Actions, Tensor Labeled)[] Others)
    {
        public int Frames => (int)Z.Size(1);

        public static ShuffleWindows Of(Tensor z, Tensor actions, Tensor labeled, int length)
        {
            var t = Math.Min(length, z.Size(1));
            var (a, l) = (actions.Narrow(1, 0, t), labeled.Narrow(1, 0, t));
            var others = ShuffleOffsets((int)z.Size(0), ShufflePairings).Select(r => (a.Roll(r, 0), l.Roll(r, 0))).ToArray();
            return new ShuffleWindows(z.Narrow(1, 0, t), a, l, others);
        }
    }

    /// <summary>
    /// Finest-step (flow) loss of the first SequenceLength frames at each signal level, with the windows'
    /// own actions and with other windows' actions (averaged over <see cref="ShuffleOffsets"/>, same noise): a model that ignores actions
    /// has equal losses. Flow/Shuffled put every frame at the level (the training objective's regime); FlowLast/ShuffledLast score the
    /// last frame alone at the level behind a past corrupted and labelled as the sampler does (the regime play and rollouts run in).
    /// </summary>
    private static (double[] Flow, double[] Shuffled, double[] FlowLast, double[] ShuffledLast) ActionShuffle(DynamicsModel model,
        ShuffleWindows windows, ulong seed, Device device, bool cleanContext = true)
    {
        using var scope = Torch.NewDisposeScope();
        var (z1, a, l, others, t) = (windows.Z, windows.Actions, windows.Labeled, windows.Others, windows.Frames);
        var b = z1.Size(0);
        var config = model.Config;
        var k = config.KMax;
        double[] flow = new double[k], shuffled = new double[k], flowLast = new double[k], shuffledLast = new double[k];
        using var generator = new Generator(seed ^ 0xA5A5A5A5UL, device);
        using var step = Torch.Full([b, t], DynamicsConfig.Log2(k), DType.Int64, device);
        for (var level = 0; level < k; level++)
        {
            var tau = (double)level / k;
            using var signal = Torch.Full([b, t], level, DType.Int64, device);
            var noisy = ShortcutForcing.AtSignal(Torch.Randn(z1.Shape, generator, z1.DType, device), z1, tau);
            flow[level] = Loss(noisy, signal, a, l, t);
            shuffled[level] = others.Average(o => Loss(noisy, signal, o.Actions, o.Labeled, t));
        }
        if (t < 2 || !cleanContext) return (flow, shuffled, [], []);
        // Drawn after the loop above, so its numbers do not depend on this one.
        var past = DynamicsSampler.CorruptContext(z1.Narrow(1, 0, t - 1), config.ContextNoise, generator);
        var pastSignal = Torch.Full([b, t - 1], config.ContextSignal, DType.Int64, device);
        var lastNoise = Torch.Randn([b, 1, z1.Size(2), z1.Size(3)], generator, z1.DType, device);
        for (var level = 0; level < k; level++)
        {
            using var levelScope = Torch.NewDisposeScope();
            var tau = (double)level / k;
            var noisy = Torch.Cat([past, ShortcutForcing.AtSignal(lastNoise, z1.Narrow(1, t - 1, 1), tau)], 1);
            var signal = Torch.Cat([pastSignal, Torch.Full([b, 1], level, DType.Int64, device)], 1);
            flowLast[level] = Loss(noisy, signal, a, l, 1);
            shuffledLast[level] = others.Average(o => Loss(noisy, signal, o.Actions, o.Labeled, 1));
        }
        return (flow, shuffled, flowLast, shuffledLast);

        // Mean squared error of the clean-latent prediction over the last `scored` frames.
        double Loss(Tensor noisy, Tensor signal, Tensor withActions, Tensor withLabeled, int scored)
        {
            using var lossScope = Torch.NewDisposeScope();
            return (model.Forward(noisy, signal, step, withActions, withLabeled).Narrow(1, t - scored, scored) - z1.Narrow(1, t - scored, scored))
                .Square().Mean().ToDouble();
        }
    }

    /// <summary>How many signal-level draws <see cref="ActionShuffleAsTrained"/> averages over.</summary>
    public const int TrainingDraws = 4;

    /// <summary>
    /// The flow part of the training objective itself on the first SequenceLength frames (a signal level drawn per frame as
    /// training draws them, w(tau)-weighted, the objective's scored frames), with the windows' own actions and with other
    /// windows' actions (same draws and noise), averaged over <see cref="TrainingDraws"/> draws.
    /// </summary>
    private static (double Loss, double Shuffled) ActionShuffleAsTrained(DynamicsModel model, ShuffleWindows windows,
        ulong seed, DynamicsTrainingConfig training, Device device)
    {
        using var scope = Torch.NewDisposeScope();
        var (z1, a, l, others, t) = (windows.Z, windows.Actions, windows.Labeled, windows.Others, windows.Frames);
        var b = z1.Size(0);
        using var drawGenerator = new Generator(seed ^ 0x5A5A5A5AUL, device);
        double loss = 0, shuffled = 0;
        for (var i = 0; i < TrainingDraws; i++)
        {
            using var drawScope = Torch.NewDisposeScope();
            using var draw = ShortcutForcing.Draw(model.Config, training, b, t, 0, drawGenerator, device);
            var noiseSeed = seed + (ulong)i;
            loss += Loss(a, l);
            shuffled += others.Average(o => Loss(o.Actions, o.Labeled));

            // The same noise for every set of actions: a generator restarted from one seed.
            double Loss(Tensor withActions, Tensor withLabeled)
            {
                using var noise = new Generator(noiseSeed, device);
                using var lossScope = Torch.NewDisposeScope();
                return ShortcutForcing.Compute(model, z1, withActions, withLabeled, draw, noise, training.ChangeWeight).Loss.ToDouble();
            }
        }
        return (loss / TrainingDraws, shuffled / TrainingDraws);
    }

    /// <summary>Frames [B, T, H, W, C] in [0, 1] side by side (truth | imagined), windows stacked vertically; RGB24 per frame.</summary>
    private static (byte[][] Frames, int Width, int Height) SideBySide(Tensor truth, Tensor imagined, int windows)
    {
        using var scope = Torch.NewDisposeScope();
        var pair = Torch.Cat([truth.Narrow(0, 0, windows), imagined.Narrow(0, 0, windows)], 3); // [W, T, H, 2W, C]
        var s = pair.Shape;
        var stacked = pair.Permute(1, 0, 2, 3, 4).Reshape(s[1], s[0] * s[2], s[3], s[4]); // [T, windows*H, 2W, C]
        var bytes = (stacked * 255).Round().Clamp(0, 255).To(DType.UInt8).To(Device.Cpu).Contiguous();
        var frames = new byte[s[1]][];
        for (var i = 0; i < frames.Length; i++) frames[i] = bytes.Select(0, i).Contiguous().ToBytes();
        return (frames, (int)s[3], (int)(s[0] * s[2]));
    }
}
