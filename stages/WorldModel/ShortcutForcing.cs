using Dreamer.Torch;

namespace Dreamer.WorldModel;

using Torch = Dreamer.Torch.Torch;

/// <summary>Which objective trains the dynamics model.</summary>
public enum DynamicsObjective
{
    /// <summary>The paper's: every frame gets its own signal level and step size (diffusion forcing).</summary>
    Shortcut,
    /// <summary>
    /// 4K's fix for sparse content: context frames stay nearly clean (noise in a 0.05-0.15 band, labelled
    /// with the context level), only the last frame is noised and scored.
    /// </summary>
    CleanContext,
}

/// <summary>
/// Per (row, frame) signal and step indices, and which frames take the bootstrap (self-consistency) path.
/// Signal index s: tau = s / KMax. Step index e: d = 2^-e (e = log2 KMax is the finest step).
/// </summary>
public sealed record ShortcutDraw(Tensor Signal, Tensor Step, Tensor Bootstrap, Tensor Scored, Tensor Tau) : IDisposable
{
    public void Dispose()
    {
        Signal.Dispose();
        Step.Dispose();
        Bootstrap.Dispose();
        Scored.Dispose();
        Tau.Dispose();
    }
}

/// <summary>Loss and its parts for one batch (the parts are means over their frames; NaN when a part had none).</summary>
public sealed record ShortcutLoss(Tensor Loss, double Flow, double Bootstrap, double FlowFrames, double BootstrapFrames);

/// <summary>
/// Shortcut forcing (dreamer4.md section 3): z~ = (1 - tau) z0 + tau z1; at the finest step the
/// x-space flow loss ||x^ - z1||^2; for larger steps the bootstrap target from two half steps under
/// stop-gradient, L = (1 - tau)^2 ||v^ - sg(b' + b'')/2||^2; every term weighted by w(tau) = 0.9 tau + 0.1.
/// Following NH/EH, whole batch rows are either flow rows (d = d_min, tau on the finest grid) or
/// bootstrap rows (d = 2^-e for e in [0, log2 KMax), tau on that step's grid), drawn per frame.
/// </summary>
public static class ShortcutForcing
{
    /// <summary>
    /// Draws indices for a batch under the training's objective and level draw. bootstrapFraction: share of rows on the
    /// bootstrap path (0 before it is enabled).
    /// </summary>
    public static ShortcutDraw Draw(DynamicsConfig config, DynamicsTrainingConfig training, long batch, long frames, double bootstrapFraction,
        Generator generator, Device device)
    {
        using var scope = Torch.NewDisposeScope();
        var k = config.KMax;
        var finest = DynamicsConfig.Log2(k);
        var rows = bootstrapFraction > 0 && finest > 0
            ? Torch.Rand([batch, 1], generator, device: device) < bootstrapFraction
            : Torch.Zeros([batch, 1], DType.Bool, device);
        var bootstrap = rows.Expand(batch, frames);
        // Bootstrap frames: e uniform in [0, finest); flow frames: e = finest.
        var e = Torch.Where(bootstrap, Torch.Randint(0, Math.Max(finest, 1), [batch, frames], generator, device: device),
            Torch.Full([batch, frames], finest, DType.Int64, device));
        // d in units of 1/KMax is KMax >> e; tau = j * d with j uniform in [0, 2^e).
        var stepUnits = Lookup(StepUnits(k), e);
        var choices = Lookup(Enumerable.Range(0, finest + 1).Select(i => 1L << i).ToArray(), e);
        // Clamp in float: clamping an int64 tensor with scalar bounds would promote it to float.
        var u = training.LevelDrawScale > 0
            ? (Torch.Randn([batch, frames], generator, device: device) * training.LevelDrawScale + training.LevelDrawMean).Sigmoid()
            : Torch.Rand([batch, frames], generator, device: device);
        var j = (u * choices.To(DType.Float32)).Floor().Clamp(0, k - 1).To(DType.Int64);
        var signal = j * stepUnits;
        var tau = signal.To(DType.Float32) * (1.0 / k);
        var scored = Torch.Ones([batch, frames], DType.Bool, device);
        if (training.Objective == DynamicsObjective.CleanContext && frames > 1)
        {
            // Context frames: actual tau in [0.85, 0.95], labelled with the sampler's context level; only the last frame is scored.
            var last = Torch.Arange(frames, device: device).Eq(frames - 1).View(1, frames).Expand(batch, frames);
            var contextTau = Torch.Rand([batch, frames], generator, device: device) * 0.1 + 0.85;
            tau = Torch.Where(last, tau, contextTau);
            signal = Torch.Where(last, signal, Torch.Full([batch, frames], config.ContextSignal, DType.Int64, device));
            e = Torch.Where(last, e, Torch.Full([batch, frames], finest, DType.Int64, device));
            bootstrap = bootstrap.LogicalAnd(last);
            scored = last;
        }
        if (config.CleanPrefixShare > 0 && frames > 1)
        {
            // Chosen rows: frames before a split in [1, frames) are clean context, the rest keep their draw.
            var rowsClean = Torch.Rand([batch, 1], generator, device: device) < config.CleanPrefixShare;
            var split = (Torch.Rand([batch, 1], generator, device: device) * (frames - 1)).Floor().Clamp(0, frames - 2) + 1;
            var clean = rowsClean.LogicalAnd(Torch.Arange(frames, device: device).View(1, frames).To(DType.Float32) < split);
            tau = Torch.Where(clean, Torch.Ones([batch, frames], device: device), tau);
            signal = Torch.Where(clean, Torch.Full([batch, frames], k, DType.Int64, device), signal);
            e = Torch.Where(clean, Torch.Full([batch, frames], finest, DType.Int64, device), e);
            bootstrap = bootstrap.LogicalAnd(clean.LogicalNot());
            scored = scored.LogicalAnd(clean.LogicalNot());
        }
        if (config.ResidualHead && frames > 1)
        {
            // A window's first frame has no previous frame to start from; sampling never generates one.
            var later = Torch.Arange(frames, device: device).Eq(0).LogicalNot().View(1, frames).Expand(batch, frames);
            bootstrap = bootstrap.LogicalAnd(later);
            scored = scored.LogicalAnd(later);
        }
        return new ShortcutDraw(signal.MoveToOuterScope(), e.MoveToOuterScope(), bootstrap.Contiguous().MoveToOuterScope(),
            scored.Contiguous().MoveToOuterScope(), tau.MoveToOuterScope());
    }

    /// <summary>d in units of 1/KMax for each step index e: KMax >> e.</summary>
    public static long[] StepUnits(int kMax) => Enumerable.Range(0, DynamicsConfig.Log2(kMax) + 1).Select(e => (long)(kMax >> e)).ToArray();

    /// <summary>table[index] elementwise, for int64 indices of any shape.</summary>
    private static Tensor Lookup(long[] table, Tensor index)
    {
        using var scope = Torch.NewDisposeScope();
        var values = Tensor.From(table).To(index.Device);
        return values.IndexSelect(0, index.Flatten()).View(index.Shape).MoveToOuterScope();
    }

    /// <summary>z~ = (1 - tau) z0 + tau z1: noise z0 moved toward clean latents z1 by the signal level tau.</summary>
    public static Tensor AtSignal(Tensor z0, Tensor z1, Tensor tau) => z0 * (1 - tau) + z1 * tau;

    /// <inheritdoc cref="AtSignal(Tensor, Tensor, Tensor)"/>
    public static Tensor AtSignal(Tensor z0, Tensor z1, double tau) => z0 * (1 - tau) + z1 * tau;

    /// <summary>
    /// The loss for clean latents z1 [B, T, N, D] under a draw, with noise z0 ~ N(0, I) from the generator.
    /// The two teacher passes run only on rows with a bootstrap frame, without gradients. changeWeight: see
    /// <see cref="DynamicsTrainingConfig.ChangeWeight"/> (0: every token of a frame counts the same).
    /// </summary>
    public static ShortcutLoss Compute(DynamicsModel model, Tensor z1, Tensor? actions, Tensor? labeled, ShortcutDraw draw, Generator generator,
        double changeWeight = 0)
    {
        using var scope = Torch.NewDisposeScope();
        var k = model.Config.KMax;
        var z0 = Torch.Randn(z1.Shape, generator, z1.DType, z1.Device);
        var tau = draw.Tau.View(draw.Tau.Size(0), draw.Tau.Size(1), 1, 1);
        var noisy = AtSignal(z0, z1, tau);
        var predicted = model.Forward(noisy, draw.Signal, draw.Step, actions, labeled);

        var weight = draw.Tau * 0.9 + 0.1; // w(tau), [B, T]
        var flowMask = draw.Scored.LogicalAnd(draw.Bootstrap.LogicalNot()).To(DType.Float32);
        var tokenWeight = changeWeight > 0 ? ChangeWeights(z1, changeWeight) : null; // [B, T, N]
        var flowError = FrameError(predicted - z1, tokenWeight); // [B, T]
        var total = (flowError * weight * flowMask).Sum();
        double flowFrames = flowMask.Sum().ToDouble();
        var flowMean = flowFrames > 0 ? (flowError * flowMask).Sum().ToDouble() / flowFrames : double.NaN;

        var bootstrapMask = draw.Bootstrap.To(DType.Float32);
        double bootstrapFrames = bootstrapMask.Sum().ToDouble();
        var bootstrapMean = double.NaN;
        if (bootstrapFrames > 0)
        {
            var rowsWithBootstrap = draw.Bootstrap.To(DType.Float32).Sum(1).To(Device.Cpu).ToArray<float>();
            var rowIndex = Tensor.From(Enumerable.Range(0, rowsWithBootstrap.Length).Where(i => rowsWithBootstrap[i] > 0).Select(i => (long)i).ToArray())
                .To(z1.Device);
            var target = Teacher(model, noisy.IndexSelect(0, rowIndex), draw, rowIndex, actions, labeled, k);
            var student = predicted.IndexSelect(0, rowIndex);
            var oneMinusTau = (1 - tau.IndexSelect(0, rowIndex)).Clamp(1e-6, 1);
            // (1 - tau)^2 ||(x^ - z~)/(1 - tau) - v||^2 = ||x^ - z~ - (1 - tau) v||^2
            var error = FrameError(student - noisy.IndexSelect(0, rowIndex) - oneMinusTau * target, tokenWeight?.IndexSelect(0, rowIndex));
            var mask = bootstrapMask.IndexSelect(0, rowIndex);
            total = total + (error * weight.IndexSelect(0, rowIndex) * mask).Sum();
            bootstrapMean = (error * mask).Sum().ToDouble() / bootstrapFrames;
        }
        var scoredFrames = draw.Scored.To(DType.Float32).Sum().ToDouble();
        var loss = total * (1.0 / Math.Max(scoredFrames, 1));
        return new ShortcutLoss(loss.MoveToOuterScope(), flowMean, bootstrapMean, flowFrames, bootstrapFrames);
    }

    /// <summary>Mean squared difference per frame [B, T] of [B, T, N, D], tokens weighted by [B, T, N] when given.</summary>
    private static Tensor FrameError(Tensor difference, Tensor? tokenWeight)
    {
        using var scope = Torch.NewDisposeScope();
        var perToken = difference.Square().Mean(new long[] { 3 });
        return (tokenWeight == null ? perToken : perToken * tokenWeight).Mean(new long[] { 2 }).MoveToOuterScope();
    }

    /// <summary>
    /// 1 + weight * change / mean change per token [B, T, N], change = squared difference of a token to itself one frame
    /// earlier (0 for the first frame); all ones when nothing in the batch changes.
    /// </summary>
    public static Tensor ChangeWeights(Tensor z1, double weight)
    {
        using var scope = Torch.NewDisposeScope();
        var (b, t, n) = (z1.Size(0), z1.Size(1), z1.Size(2));
        var change = t > 1
            ? Torch.Cat([Torch.Zeros([b, 1, n], z1.DType, z1.Device), (z1.Narrow(1, 1, t - 1) - z1.Narrow(1, 0, t - 1)).Square().Mean(new long[] { 3 })], 1)
            : Torch.Zeros([b, t, n], z1.DType, z1.Device);
        var mean = change.Mean().ToDouble();
        return (mean > 0 ? change * (weight / mean) + 1 : Torch.OnesLike(change)).MoveToOuterScope();
    }

    /// <summary>
    /// sg((b' + b'')/2): two half steps from z~ (step index e + 1) on the bootstrap frames of the given rows;
    /// other frames keep their input and labels so the context the frames read is the student's.
    /// </summary>
    private static Tensor Teacher(DynamicsModel model, Tensor noisy, ShortcutDraw draw, Tensor rows, Tensor? actions, Tensor? labeled, int k)
    {
        using var scope = Torch.NewDisposeScope();
        using var noGrad = Torch.NoGrad();
        var signal = draw.Signal.IndexSelect(0, rows);
        var step = draw.Step.IndexSelect(0, rows);
        var boot = draw.Bootstrap.IndexSelect(0, rows);
        var tau = draw.Tau.IndexSelect(0, rows);
        var a = actions?.IndexSelect(0, rows);
        var l = labeled?.IndexSelect(0, rows);
        var bootMask = boot.View(boot.Size(0), boot.Size(1), 1, 1);

        var halfStep = Torch.Where(boot, step + 1, step);
        var halfUnits = Lookup(StepUnits(k), Torch.Where(boot, step + 1, step)); // (d/2) * KMax on bootstrap frames
        var halfD = (halfUnits.To(DType.Float32) * (1.0 / k)).View(tau.Size(0), tau.Size(1), 1, 1);
        var tau4 = tau.View(tau.Size(0), tau.Size(1), 1, 1);

        var first = model.Forward(noisy, signal, halfStep, a, l);
        var b1 = (first - noisy) / (1 - tau4).Clamp(1e-6, 1);
        halfD = halfD * bootMask.To(DType.Float32);
        var middle = noisy + b1 * halfD;
        var middleSignal = Torch.Where(boot, signal + halfUnits, signal);
        var second = model.Forward(middle, middleSignal, halfStep, a, l);
        var b2 = (second - middle) / (1 - tau4 - halfD).Clamp(1e-6, 1);
        return ((b1 + b2) * 0.5).Detach().MoveToOuterScope();
    }
}
