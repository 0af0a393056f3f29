using Dreamer.Torch;

namespace Dreamer.WorldModel;

using Torch = Dreamer.Torch.Torch;

/// <summary>
/// Autoregressive generation with a KV cache on the time layers: context frames are corrupted with the
/// ContextNoise fraction (labelled with the nearest trained signal level) and cached once; each new frame starts from noise and takes K x-prediction Euler
/// steps z &lt;- z + d (x^ - z) / (1 - tau) reading the cache without extending it, then is corrupted and
/// cached like context. That cache pass is deferred and rides along with the next frame's first denoising step
/// (one forward of two frames, the first kept): K passes per frame instead of K + 1, the same result. B rollouts run
/// side by side (the batch dimension). Deterministic for a generator seed.
/// </summary>
public sealed class DynamicsSampler : IDisposable
{
    private readonly DynamicsModel _model;
    private readonly SpaceTimeCache _cache;
    private readonly Generator _generator;
    private readonly bool _ownsGenerator;
    /// <summary>Residual head or previous-frame input: the base of the frame before the next one (the last cached frame's), null before any.</summary>
    private Tensor? _previousBase;
    /// <summary>The last generated frame, corrupted, with the action and label that led into it: not yet in the cache.</summary>
    private (Tensor Frame, Tensor? Action, Tensor? Labeled)? _pending;

    /// <param name="steps">K: sampling steps per frame, a power of two dividing KMax.</param>
    public DynamicsSampler(DynamicsModel model, int steps = 4, Generator? generator = null, ulong seed = 0)
    {
        var k = model.Config.KMax;
        if (steps < 1 || (steps & (steps - 1)) != 0 || steps > k)
            throw new ArgumentException($"sampling steps must be a power of two in [1, KMax = {k}] (got {steps})");
        _model = model;
        Steps = steps;
        _cache = model.NewCache();
        _ownsGenerator = generator == null;
        // Looked up once: walking the module tree every frame would sit on play's hot path.
        Device = model.Parameters().First().Device;
        _generator = generator ?? new Generator(seed, Device);
    }

    public int Steps { get; }

    /// <summary>The model's device: where the sampler draws noise and builds its labels.</summary>
    public Device Device { get; }

    /// <summary>Frames seen so far (context and generated).</summary>
    public long Position => _cache.Position + (_pending == null ? 0 : 1);

    /// <summary>Forgets the context (a new rollout).</summary>
    public void Reset()
    {
        _cache.Reset();
        Batch = null;
        _previousBase?.Dispose();
        _previousBase = null;
        DropPending();
    }

    private void DropPending()
    {
        if (_pending is not { } p) return;
        p.Frame.Dispose();
        p.Action?.Dispose();
        p.Labeled?.Dispose();
        _pending = null;
    }

    /// <summary>
    /// Feeds context frames z [B, T, N, D] (clean latents) with the actions that led into them
    /// (actions [B, T, columns] or null; labeled [B, T] or null).
    /// </summary>
    public void Observe(Tensor z, Tensor? actions, Tensor? labeled)
    {
        using var scope = Torch.NewDisposeScope();
        using var noGrad = Torch.NoGrad();
        if (_pending is { } p) CacheContext(p.Frame, p.Action, p.Labeled);
        DropPending();
        Batch = z.Size(0);
        CacheContext(CorruptContext(z, _model.Config.ContextNoise, _generator), actions, labeled);
    }

    /// <summary>One forward that adds corrupted context frames to the cache.</summary>
    private void CacheContext(Tensor corrupted, Tensor? actions, Tensor? labeled)
    {
        using var scope = Torch.NewDisposeScope();
        var (signal, step) = ContextLabels(corrupted.Size(0), corrupted.Size(1));
        _model.Forward(corrupted, signal, step, actions, labeled, _cache, previousBase: _previousBase).Dispose();
        KeepBase(corrupted, signal);
    }

    /// <summary>Signal and step-size indices of t context frames: the context level, the finest step.</summary>
    private (Tensor Signal, Tensor Step) ContextLabels(long b, long t)
    {
        var c = _model.Config;
        return (Torch.Full([b, t], c.ContextSignal, DType.Int64, Device), Torch.Full([b, t], DynamicsConfig.Log2(c.KMax), DType.Int64, Device));
    }

    /// <summary>Residual head or previous-frame input: the base the frame after these cached ones starts from.</summary>
    private void KeepBase(Tensor corrupted, Tensor signal)
    {
        if (!_model.Config.ReadsPreviousFrame) return;
        var t = corrupted.Size(1);
        _previousBase?.Dispose();
        _previousBase = _model.ResidualBase(corrupted.Narrow(1, t - 1, 1), signal.Narrow(1, t - 1, 1)).DetachFromScopes();
    }

    /// <summary>
    /// Context corruption: (1 - noise) z + noise * eps, the configured fraction exactly (it is labelled with the nearest
    /// trained signal level, but deriving the noise from that label would force at least 1/KMax: 0.125 for 0.1 at KMax 8).
    /// No noise: z itself, and the generator is left untouched.
    /// </summary>
    public static Tensor CorruptContext(Tensor z, double noise, Generator generator)
    {
        if (noise <= 0) return z.Alias();
        using var eps = Torch.Randn(z.Shape, generator, z.DType, z.Device);
        return eps * noise + z * (1 - noise);
    }

    /// <summary>Generates the next frame [B, 1, N, D] given the action that leads into it ([B, 1, columns] or null), and caches it.</summary>
    public Tensor Next(Tensor? action, Tensor? labeled)
    {
        using var scope = Torch.NewDisposeScope();
        using var noGrad = Torch.NoGrad();
        var c = _model.Config;
        var device = Device;
        var b = action?.Size(0) ?? Batch ?? throw new InvalidOperationException("without an action the batch size comes from Observe; call Observe first");
        if (Batch is { } rollouts && b != rollouts)
            throw new ArgumentException($"an action for {b} rollouts, but {rollouts} are being sampled (the batch of the last Observe)", nameof(action));
        var shape = new long[] { b, 1, c.LatentTokens, c.LatentDim };
        var z = Torch.Randn(shape, _generator, DType.Float32, device);
        var stepIndex = DynamicsConfig.Log2(Steps);
        using var step = Torch.Full([b, 1], stepIndex, DType.Int64, device);
        for (var i = 0; i < Steps; i++)
        {
            var tau = (double)i / Steps;
            using var signal = Torch.Full([b, 1], i * (c.KMax / Steps), DType.Int64, device);
            // Latents come from the tokenizer's tanh bottleneck: projecting onto [-1, 1] never moves a prediction away from
            // any true latent, and stops a rollout that reads its own frames from compounding an overshoot.
            var predicted = (i == 0 && _pending is { } p
                ? FirstStepCachingPending(p, z, signal, step, action, labeled)
                : _model.Forward(z, signal, step, action, labeled, _cache, commitFrames: 0, previousBase: _previousBase)).Clamp(-1, 1);
            // x-prediction Euler step; at the last step (1 - tau) = d, so z becomes the prediction itself.
            z = i == Steps - 1 ? predicted : z + (predicted - z) * ((1.0 / Steps) / (1 - tau));
        }
        DropPending();
        _pending = (CorruptContext(z, c.ContextNoise, _generator).DetachFromScopes(), action?.Alias().DetachFromScopes(), labeled?.Alias().DetachFromScopes());
        return z.MoveToOuterScope();
    }

    /// <summary>
    /// The pending frame's cache pass and the new frame's first denoising step in one forward: the new frame reads the
    /// pending one exactly as it would read it from the cache, and only the pending one is kept.
    /// </summary>
    private Tensor FirstStepCachingPending((Tensor Frame, Tensor? Action, Tensor? Labeled) pending, Tensor z, Tensor signal, Tensor step,
        Tensor? action, Tensor? labeled)
    {
        using var scope = Torch.NewDisposeScope();
        var b = z.Size(0);
        var (pendingSignal, pendingStep) = ContextLabels(b, 1);
        Tensor? actions = null, labels = null;
        if (pending.Action != null || action != null)
        {
            // A frame without an action is an unlabeled one (the action encoder's base alone).
            (Tensor A, Tensor L) Labels(Tensor? a, Tensor? l) => a == null
                ? (Torch.Zeros([b, 1, _model.ActionColumns], DType.Float32, Device), Torch.Zeros([b, 1], DType.Bool, Device))
                : (a, l ?? Torch.Ones([b, 1], DType.Bool, Device));
            var (pa, pl) = Labels(pending.Action, pending.Labeled);
            var (na, nl) = Labels(action, labeled);
            actions = Torch.Cat([pa, na.To(pa.DType)], 1);
            labels = Torch.Cat([pl, nl], 1);
        }
        var predicted = _model.Forward(Torch.Cat([pending.Frame, z], 1), Torch.Cat([pendingSignal, signal], 1), Torch.Cat([pendingStep, step], 1),
            actions, labels, _cache, commitFrames: 1, previousBase: _previousBase).Narrow(1, 1, 1);
        KeepBase(pending.Frame, pendingSignal);
        return predicted.MoveToOuterScope();
    }

    /// <summary>Rollouts side by side, from the last Observe (Next needs it when it gets no action).</summary>
    public long? Batch { get; private set; }

    /// <summary>
    /// Open-loop rollout: observes context [B, C, N, D] (with its actions), then generates one frame per
    /// action of futureActions [B, H, columns] (null: H unlabeled frames, horizon required). Returns [B, H, N, D].
    /// </summary>
    public Tensor Rollout(Tensor context, Tensor? contextActions, Tensor? contextLabeled, Tensor? futureActions, Tensor? futureLabeled, int horizon)
    {
        using var scope = Torch.NewDisposeScope();
        Reset();
        Observe(context, contextActions, contextLabeled);
        var frames = new List<Tensor>(horizon);
        for (var h = 0; h < horizon; h++)
            frames.Add(Next(futureActions?.Narrow(1, h, 1), futureLabeled?.Narrow(1, h, 1)));
        return Torch.Cat(frames.ToArray(), 1).MoveToOuterScope();
    }

    public void Dispose()
    {
        DropPending();
        _previousBase?.Dispose();
        _cache.Dispose();
        if (_ownsGenerator) _generator.Dispose();
    }
}
