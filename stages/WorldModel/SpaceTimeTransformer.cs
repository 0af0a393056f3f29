using Dreamer.Torch;
using Dreamer.Torch.NN;

namespace Dreamer.WorldModel;

// The class Dreamer.Torch.Torch, not the namespace Dreamer.Torch that Dreamer.* code would otherwise see.
using Torch = Dreamer.Torch.Torch;

/// <summary>Shape of the factorised space-time transformer.</summary>
public sealed record SpaceTimeConfig
{
    public long Dim { get; init; } = 256;
    public long Heads { get; init; } = 8;
    public long KvHeads { get; init; } = 8;
    /// <summary>SwiGLU hidden width (about 8/3 of Dim, rounded to a multiple of 32).</summary>
    public long Hidden { get; init; } = 704;
    public double SoftCap { get; init; } = 50;
    public bool QkNorm { get; init; } = true;
    public int Layers { get; init; } = 4;
    /// <summary>Layer i has time attention when (i + 1) % TimeEvery == 0 (the paper: every 4th layer).</summary>
    public int TimeEvery { get; init; } = 4;
    /// <summary>Learned register tokens appended to every frame (scratch space and attention sinks).</summary>
    public int Registers { get; init; }
    /// <summary>RoPE base: frequencies theta^(-2j/d); a smaller base gives more fast-turning pairs, sharper positions on a short axis.</summary>
    public double RopeTheta { get; init; } = 10000;

    public long HeadDim => Dim / Heads;

    public bool HasTime(int layer) => (layer + 1) % TimeEvery == 0;

    public int TimeLayers => Enumerable.Range(0, Layers).Count(HasTime);

    public IEnumerable<string> Validate(string prefix)
    {
        if (Dim < 8) yield return $"{prefix}Dim must be at least 8 (got {Dim})";
        if (Heads < 1 || Dim % Heads != 0) yield return $"{prefix}Heads must divide Dim {Dim} (got {Heads})";
        else if (HeadDim % 4 != 0) yield return $"{prefix}Dim / Heads must be divisible by 4 for axial RoPE (got {HeadDim})";
        if (KvHeads < 1 || Heads % KvHeads != 0) yield return $"{prefix}KvHeads must divide Heads {Heads} (got {KvHeads})";
        if (Hidden < 1) yield return $"{prefix}Hidden must be positive (got {Hidden})";
        if (SoftCap <= 0) yield return $"{prefix}SoftCap must be positive (got {SoftCap})";
        if (Layers < 1) yield return $"{prefix}Layers must be at least 1 (got {Layers})";
        if (TimeEvery < 1) yield return $"{prefix}TimeEvery must be at least 1 (got {TimeEvery})";
        if (Registers < 0) yield return $"{prefix}Registers must not be negative (got {Registers})";
        if (!(RopeTheta > 1)) yield return $"{prefix}RopeTheta must be greater than 1 (got {RopeTheta})";
    }
}

/// <summary>
/// Overrides of a <see cref="SpaceTimeConfig"/> as a stage configuration section binds them
/// (e.g. Tokenizer:Model:Encoder:Layers, TrainDynamics:Model:Transformer:Layers); null keeps the preset's value.
/// </summary>
public sealed class SpaceTimeOverrides
{
    public long? Dim { get; set; }
    public long? Heads { get; set; }
    public long? KvHeads { get; set; }
    public long? Hidden { get; set; }
    public double? SoftCap { get; set; }
    public bool? QkNorm { get; set; }
    public int? Layers { get; set; }
    public int? TimeEvery { get; set; }
    public int? Registers { get; set; }
    public double? RopeTheta { get; set; }

    public SpaceTimeConfig Apply(SpaceTimeConfig p) => p with
    {
        Dim = Dim ?? p.Dim,
        Heads = Heads ?? p.Heads,
        KvHeads = KvHeads ?? p.KvHeads,
        Hidden = Hidden ?? p.Hidden,
        SoftCap = SoftCap ?? p.SoftCap,
        QkNorm = QkNorm ?? p.QkNorm,
        Layers = Layers ?? p.Layers,
        TimeEvery = TimeEvery ?? p.TimeEvery,
        Registers = Registers ?? p.Registers,
        RopeTheta = RopeTheta ?? p.RopeTheta,
    };
}

/// <summary>
/// Keys and values of the time-attention layers for frames already processed, so the next frame costs
/// one frame of compute. With a window W only the last W-1 frames are kept: processing frame by frame
/// then equals a full forward with a W-frame banded causal mask.
/// </summary>
public sealed class SpaceTimeCache : IDisposable
{
    internal readonly Tensor?[] Keys;
    internal readonly Tensor?[] Values;

    internal SpaceTimeCache(int layers, int? window)
    {
        if (window is < 1) throw new ArgumentOutOfRangeException(nameof(window), "a window holds at least one frame");
        Keys = new Tensor?[layers];
        Values = new Tensor?[layers];
        Window = window;
    }

    /// <summary>Frames of context a frame may see, itself included (null: all earlier frames).</summary>
    public int? Window { get; }

    /// <summary>Time position of the next frame (frames processed so far).</summary>
    public long Position { get; internal set; }

    /// <summary>Frames currently held.</summary>
    public long Length => Keys.FirstOrDefault(k => k != null)?.Size(1) ?? 0;

    /// <summary>Forgets every frame (a new episode).</summary>
    public void Reset()
    {
        for (var i = 0; i < Keys.Length; i++)
        {
            Keys[i]?.Dispose();
            Values[i]?.Dispose();
            Keys[i] = Values[i] = null;
        }
        Position = 0;
    }

    /// <summary>
    /// Appends new keys/values of one layer, keeping at most Window-1 frames for the next call. Only the first
    /// <paramref name="commitFrames"/> new frames are kept (null: all); the rest are read but not kept (a denoising step of a
    /// frame in the making).
    /// </summary>
    internal (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v, int? commitFrames = null)
    {
        var pk = Keys[layer];
        var pv = Values[layer];
        var fullK = pk == null ? k.Alias() : Torch.Cat([pk, k], 1);
        var fullV = pv == null ? v.Alias() : Torch.Cat([pv, v], 1);
        var committed = commitFrames ?? k.Size(1);
        if (committed == 0) return (fullK, fullV);
        var total = fullK.Size(1) - (k.Size(1) - committed);
        var keep = Window is { } w ? Math.Min(total, w - 1) : total;
        pk?.Dispose();
        pv?.Dispose();
        using (Torch.NoGrad())
        {
            Keys[layer] = keep == 0 ? null : fullK.Narrow(1, total - keep, keep).Detach().Contiguous().DetachFromScopes();
            Values[layer] = keep == 0 ? null : fullV.Narrow(1, total - keep, keep).Detach().Contiguous().DetachFromScopes();
        }
        return (fullK, fullV);
    }

    public void Dispose() => Reset();
}

/// <summary>
/// The attention computation of <see cref="Attention"/> (GQA, QK-norm, RoPE, soft-cap, boolean mask) on
/// its own weights, extended with a key/value prefix for cached time attention. Every path of the
/// transformer goes through here so cached and uncached forwards agree to rounding.
/// </summary>
internal static class AttentionKernel
{
    /// <param name="x">[B, L, D] queries' tokens.</param>
    /// <param name="blocked">bool [L, Lk] or broadcastable to [B, H, L, Lk]; true = may NOT attend (inverted once per forward).</param>
    /// <param name="cache">When set, keys/values of earlier positions are prepended and the new ones stored.</param>
    public static Tensor Forward(Attention a, Tensor x, Tensor? blocked, Rope? rope, SpaceTimeCache? cache = null, int layer = 0, int? commitFrames = null)
    {
        using var scope = Torch.NewDisposeScope();
        var s = x.Shape;
        long b = s[0], t = s[1], h = a.NumHeads, hkv = a.NumKvHeads, dh = a.HeadDim, g = h / hkv;
        var q = a.Wq.Forward(x).View(b, t, h, dh);
        var k = a.Wk.Forward(x).View(b, t, hkv, dh);
        var v = a.Wv.Forward(x).View(b, t, hkv, dh);
        if (a.QNorm != null) q = a.QNorm.Forward(q);
        if (a.KNorm != null) k = a.KNorm.Forward(k);
        if (rope != null)
        {
            q = rope.Apply(q);
            k = rope.Apply(k);
        }
        if (cache != null) (k, v) = cache.Append(layer, k, v, commitFrames);
        var tk = k.Size(1);
        // Query heads grouped per KV head: [B, Hkv, G, L, Dh] against K broadcast over G (no copy of K/V).
        var q5 = q.Transpose(1, 2).Reshape(b, hkv, g, t, dh);
        var k5 = k.Transpose(1, 2).Unsqueeze(2);
        var v5 = v.Transpose(1, 2).Unsqueeze(2);
        // Scale the (smaller) queries rather than the logits; with soft-capping fold 1/cap in as well.
        var cap = a.SoftCap;
        var logits = (q5 * (1.0 / (Math.Sqrt(dh) * (cap ?? 1)))).MatMul(k5.Transpose(-2, -1)).View(b, h, t, tk);
        if (cap is { } c) logits = logits.Tanh() * c;
        if (blocked != null) logits = logits.MaskedFill(blocked, double.NegativeInfinity);
        var probs = logits.Softmax(-1).View(b, hkv, g, t, tk);
        var o = probs.MatMul(v5).Reshape(b, h, t, dh).Transpose(1, 2).Reshape(b, t, h * dh);
        return a.Wo.Forward(o).MoveToOuterScope();
    }
}

/// <summary>Per-forward tensors shared by every layer: masks and RoPE tables.</summary>
internal sealed class ForwardContext : IDisposable
{
    /// <summary>Space and time masks inverted: true where attention is not allowed.</summary>
    public required Tensor? SpaceBlocked { get; init; }
    public required Rope SpaceRope { get; init; }
    /// <summary>Null when every query sees every key (a single frame: the cache holds only what it may see).</summary>
    public required Tensor? TimeBlocked { get; init; }
    public required Rope TimeRope { get; init; }
    public required int TimeStart { get; init; }
    public required int TimeCount { get; init; }
    public SpaceTimeCache? Cache { get; init; }
    /// <summary>How many of this forward's frames (the first ones) are kept in the cache; null: all.</summary>
    public int? CommitFrames { get; init; }

    public void Dispose()
    {
        SpaceBlocked?.Dispose();
        SpaceRope.Dispose();
        TimeBlocked?.Dispose();
        TimeRope.Dispose();
    }
}

/// <summary>
/// One layer: pre-RMSNorm space attention within each frame, optional block-causal time attention per
/// token slot across frames (only the layout's time slots), and a SwiGLU MLP, each residual.
/// </summary>
public sealed class SpaceTimeBlock : Module
{
    private readonly RMSNorm _spaceNorm;
    private readonly Attention _spaceAttention;
    private readonly RMSNorm? _timeNorm;
    private readonly Attention? _timeAttention;
    private readonly RMSNorm _mlpNorm;
    private readonly SwiGluMlp _mlp;
    private readonly Linear? _modulation;

    /// <param name="conditioned">
    /// Adaptive norm: a per-frame condition vector sets a scale and shift after each norm and a gain on each residual branch
    /// (1 + its value, from a zero-initialised map, so the conditioned block starts as the plain one).
    /// </param>
    public SpaceTimeBlock(SpaceTimeConfig config, bool hasTime, ParamOptions options = default, bool conditioned = false)
    {
        _spaceNorm = RegisterModule("space_norm", new RMSNorm(config.Dim, options: options));
        _spaceAttention = RegisterModule("space_attn", NewAttention(config, options));
        if (hasTime)
        {
            _timeNorm = RegisterModule("time_norm", new RMSNorm(config.Dim, options: options));
            _timeAttention = RegisterModule("time_attn", NewAttention(config, options));
        }
        _mlpNorm = RegisterModule("mlp_norm", new RMSNorm(config.Dim, options: options));
        _mlp = RegisterModule("mlp", new SwiGluMlp(config.Dim, config.Hidden, options: options));
        if (conditioned)
        {
            _modulation = RegisterModule("modulation", new Linear(config.Dim, ModulationOutputs(config.Dim, hasTime), options: options));
            using var noGrad = Torch.NoGrad();
            _modulation.Weight.Zero_();
            _modulation.Bias!.Zero_();
        }
    }

    /// <summary>Outputs of a conditioned block's modulation map: shift, scale and gain for space, time (when present) and MLP.</summary>
    public static long ModulationOutputs(long dim, bool hasTime) => (hasTime ? 9 : 6) * dim;

    /// <summary>Width of the per-frame modulation this block computes (0: unconditioned).</summary>
    internal long ModulationWidth => _modulation?.Weight.Size(0) ?? 0;

    private static Attention NewAttention(SpaceTimeConfig c, ParamOptions options) =>
        new(c.Dim, c.Heads, c.KvHeads, qkNorm: c.QkNorm, softCap: c.SoftCap, options: options);

    public bool HasTime => _timeAttention != null;

    /// <summary>
    /// x [B, T, S, D] (registers included); timeLayer indexes this layer's KV cache slot; activatedCondition [B, T, D] for a
    /// conditioned block: the condition after SiLU, computed once for all blocks.
    /// </summary>
    internal Tensor Forward(Tensor x, ForwardContext ctx, int timeLayer, Tensor? activatedCondition = null)
    {
        using var scope = Torch.NewDisposeScope();
        var (b, t, s, d) = (x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]);
        // Per frame: (shift, scale, gain) for space, time (when present) and MLP, broadcast over the frame's tokens.
        Tensor[]? mod = null;
        if (_modulation != null)
        {
            if (activatedCondition == null) throw new ArgumentException("this block is conditioned: pass a condition [B, T, D]");
            var m = _modulation.Forward(activatedCondition).View(b, t, 1, ModulationWidth);
            mod = Enumerable.Range(0, (int)(ModulationWidth / d)).Select(i => m.Narrow(3, i * d, d)).ToArray();
        }
        Tensor Norm(RMSNorm norm, Tensor input, int part) => mod == null ? norm.Forward(input) : norm.Forward(input) * (mod[3 * part + 1] + 1) + mod[3 * part];
        Tensor Gain(Tensor branch, int part) => mod == null ? branch : branch * (mod[3 * part + 2] + 1);
        var mlpPart = _timeAttention != null ? 2 : 1;

        var h = AttentionKernel.Forward(_spaceAttention, Norm(_spaceNorm, x, 0).Reshape(b * t, s, d), ctx.SpaceBlocked, ctx.SpaceRope);
        x = x + Gain(h.View(b, t, s, d), 0);
        if (_timeAttention != null)
        {
            var (start, count) = (ctx.TimeStart, ctx.TimeCount);
            var part = count == s ? x : x.Narrow(2, start, count);
            var slots = Norm(_timeNorm!, part, 1).Transpose(1, 2).Reshape(b * count, t, d);
            h = AttentionKernel.Forward(_timeAttention, slots, ctx.TimeBlocked, ctx.TimeRope, ctx.Cache, timeLayer, ctx.CommitFrames);
            var updated = part + Gain(h.View(b, count, t, d).Transpose(1, 2), 1);
            if (count == s) x = updated;
            else
            {
                var pieces = new List<Tensor>(3);
                if (start > 0) pieces.Add(x.Narrow(2, 0, start));
                pieces.Add(updated);
                if (start + count < s) pieces.Add(x.Narrow(2, start + count, s - start - count));
                x = Torch.Cat(pieces.ToArray(), 2);
            }
        }
        return (x + Gain(_mlp.Forward(Norm(_mlpNorm, x, mlpPart)), mlpPart)).MoveToOuterScope();
    }
}

/// <summary>
/// The factorised space-time transformer shared by tokenizer and dynamics (block-causal in time):
/// space layers mix tokens within a frame under the layout's modality mask, time layers (every
/// TimeEvery-th) mix each time slot with the same slot of earlier frames. Register tokens are appended
/// to every frame and dropped from the output. A <see cref="SpaceTimeCache"/> lets frames be fed one at a time.
/// </summary>
public sealed class SpaceTimeTransformer : Module
{
    private readonly List<SpaceTimeBlock> _blocks = [];
    private readonly RMSNorm _outNorm;
    private readonly Tensor? _registers;

    public SpaceTimeConfig Config { get; }

    /// <summary>Whether Forward needs a per-frame condition.</summary>
    public bool Conditioned { get; }

    /// <param name="conditioned">Every block takes a per-frame condition (adaptive norm; see <see cref="SpaceTimeBlock"/>).</param>
    public SpaceTimeTransformer(SpaceTimeConfig config, ParamOptions options = default, bool conditioned = false)
    {
        var problems = config.Validate("").ToList();
        if (problems.Count > 0) throw new ArgumentException(string.Join("; ", problems));
        Config = config;
        Conditioned = conditioned;
        for (var i = 0; i < config.Layers; i++)
            _blocks.Add(RegisterModule($"block{i}", new SpaceTimeBlock(config, config.HasTime(i), options, conditioned)));
        _outNorm = RegisterModule("out_norm", new RMSNorm(config.Dim, options: options));
        if (config.Registers > 0)
        {
            using var noGrad = Torch.NoGrad();
            _registers = RegisterParameter("registers", Torch.Empty([config.Registers, config.Dim], options.DType ?? DType.Float32, options.Device)
                .Normal_(0, 0.02, options.Generator));
        }
    }

    /// <summary>A cache for feeding frames one (or a few) at a time; window: frames a frame may see, itself included.</summary>
    public SpaceTimeCache NewCache(int? window = null) => new(Config.Layers, window);

    /// <summary>
    /// x [B, T, S, D] for a layout of S slots; returns [B, T, S, D]. Without a cache the T frames are a
    /// sequence starting at time 0 (window: frames a frame may see, itself included). With a cache the T
    /// frames continue the cached ones, and the cache is extended by the first commitFrames of them (null: all; 0: the
    /// frames read the cache as if they came next and leave it as it was; in between: the later frames, e.g. a frame in
    /// the making, read the earlier ones without being kept). condition [B, T, D]: each frame's vector, for a conditioned
    /// transformer only.
    /// </summary>
    public Tensor Forward(Tensor x, TokenLayout layout, SpaceTimeCache? cache = null, int? window = null, int? commitFrames = null, Tensor? condition = null)
    {
        using var scope = Torch.NewDisposeScope();
        var shape = x.Shape;
        if (shape.Length != 4 || shape[2] != layout.Slots || shape[3] != Config.Dim)
            throw new ArgumentException($"expected [B, T, {layout.Slots}, {Config.Dim}], got [{string.Join(", ", shape)}]");
        if (Conditioned != (condition != null)) throw new ArgumentException(Conditioned ? "this transformer is conditioned: pass a condition [B, T, D]" : "this transformer takes no condition");
        if (condition != null && (condition.Shape.Length != 3 || condition.Size(0) != shape[0] || condition.Size(1) != shape[1] || condition.Size(2) != Config.Dim))
            throw new ArgumentException($"expected a condition [{shape[0]}, {shape[1]}, {Config.Dim}], got [{string.Join(", ", condition.Shape)}]");
        if (cache != null && window != null && cache.Window != window)
            throw new ArgumentException("pass the window when creating the cache, not to Forward");
        var (b, t) = (shape[0], shape[1]);
        if (commitFrames is < 0 || commitFrames > t) throw new ArgumentOutOfRangeException(nameof(commitFrames), $"commitFrames must lie in [0, {t}] for {t} frames (got {commitFrames})");
        var device = x.Device;
        var r = Config.Registers;
        if (_registers != null) x = Torch.Cat([x, _registers.View(1, 1, r, Config.Dim).Expand(b, t, r, Config.Dim)], 2);

        var rows = layout.Rows.Concat(new long[r]).ToArray();
        var cols = layout.Cols.Concat(new long[r]).ToArray();
        var (timeStart, timeCount) = layout.TimeSlots(r);
        var past = cache?.Length ?? 0;
        var start = cache?.Position ?? 0;
        var positions = new long[t];
        for (var i = 0; i < t; i++) positions[i] = start + i;
        using var spaceMask = layout.SpaceMask(r, device);
        // One frame sees all it is given: the cache never holds more than the window.
        using var timeMask = t == 1 ? null : TimeMasks.Causal(t, past + t, cache?.Window ?? window, device);
        using var ctx = new ForwardContext
        {
            SpaceBlocked = spaceMask?.LogicalNot(),
            SpaceRope = Rope.CreateAxial(rows, cols, Config.HeadDim, Config.RopeTheta, x.DType, device),
            TimeBlocked = timeMask?.LogicalNot(),
            TimeRope = Rope.Create1D(positions, Config.HeadDim, Config.RopeTheta, x.DType, device),
            TimeStart = timeStart,
            TimeCount = timeCount,
            Cache = cache,
            CommitFrames = commitFrames,
        };
        using var activatedCondition = condition?.Silu();
        for (var i = 0; i < _blocks.Count; i++) x = _blocks[i].Forward(x, ctx, i, activatedCondition);
        if (cache != null) cache.Position += commitFrames ?? t;
        x = _outNorm.Forward(x);
        if (r > 0) x = x.Narrow(2, 0, layout.Slots);
        return x.MoveToOuterScope();
    }

    /// <summary>
    /// Forward-pass FLOPs for [batch, frames, tokens] (registers added) with time attention on timeTokens
    /// slots (null: all), counting matrix multiplies (2 per multiply-add) — the basis of model FLOP
    /// utilisation (a training step is 3x forward).
    /// </summary>
    public static double ForwardFlops(SpaceTimeConfig c, long batch, long frames, long tokens, long? timeTokens = null)
    {
        var s = tokens + c.Registers;
        double n = batch * frames * s;
        double nt = batch * frames * (timeTokens ?? s);
        double proj = 2 * c.Dim * (2 * c.Heads * c.HeadDim + 2 * c.KvHeads * c.HeadDim);
        double mlp = 2 * n * 3 * c.Dim * c.Hidden;
        // Scores and weighted values: per query 2 * L * HeadDim * Heads, twice.
        double spaceScores = 2 * 2 * n * s * c.HeadDim * c.Heads;
        double timeScores = 2 * 2 * nt * frames * c.HeadDim * c.Heads;
        double total = 0;
        for (var i = 0; i < c.Layers; i++)
            total += n * proj + mlp + spaceScores + (c.HasTime(i) ? nt * proj + timeScores : 0);
        return total;
    }
}
