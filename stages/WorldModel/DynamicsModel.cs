using Dreamer.Torch;
using Dreamer.Torch.NN;

namespace Dreamer.WorldModel;

using Torch = Dreamer.Torch.Torch;

/// <summary>Shape of the interactive dynamics model over a tokenizer's latents.</summary>
public sealed record DynamicsConfig
{
    public SpaceTimeConfig Transformer { get; init; } = new() { Dim = 128, Heads = 4, KvHeads = 2, Hidden = 352, Layers = 6, TimeEvery = 2, Registers = 2 };
    /// <summary>N_b and D_b of the tokenizer bottleneck this model reads and writes.</summary>
    public int LatentTokens { get; init; } = 32;
    public int LatentDim { get; init; } = 16;
    /// <summary>Consecutive latent tokens packed into one spatial token (S_z = LatentTokens / Pack).</summary>
    public int Pack { get; init; } = 2;
    /// <summary>Finest step grid: d_min = 1/KMax (a power of two).</summary>
    public int KMax { get; init; } = 8;
    /// <summary>Frames a frame may see in time attention, itself included (training windows are at most this long).</summary>
    public int ContextFrames { get; init; } = 16;
    /// <summary>Noise fraction mixed into context frames at sampling time (the paper's tau_ctx; 0.1 = signal 0.9; 0 = clean context, labelled with the top trained level).</summary>
    public double ContextNoise { get; init; } = 0.1;
    /// <summary>
    /// Residual x-prediction (off: the paper's): x^_t = c(tau_{t-1}) z~_{t-1} + head, so the untrained model copies the
    /// previous frame (the strong baseline of a slowly changing scene) and the head learns only what changes.
    /// c(tau) = min(1, tau / (tau^2 + (1 - tau)^2)) is the linear estimate of a unit-variance latent from its noisy
    /// version, so a heavily noised previous frame contributes little. The first frame of a window has no previous
    /// frame and is left out of the loss. Left out of the config JSON when off, so existing model files read as before.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool ResidualHead { get; init; }
    /// <summary>
    /// Share of training rows (0: the paper's objective) whose frames before a random split are clean (tau = 1, labelled
    /// KMax, not scored) while the rest are drawn as usual: the regime sampling runs in (a clean past, a noisy present),
    /// which diffusion forcing alone never shows. With it, clean context (ContextNoise 0) is labelled KMax at sampling.
    /// Left out of the config JSON when 0.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public double CleanPrefixShare { get; init; }
    /// <summary>
    /// Also add the frame's action and shortcut embeddings to each of its spatial tokens (off: the paper's, where they
    /// reach the latents only through space attention to their own tokens). Every latent then starts from its frame's
    /// action and noise level, as adaptive-norm conditioning does in image diffusion transformers. The tokens stay.
    /// Left out of the config JSON when off.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool ConditionSpatial { get; init; }
    /// <summary>
    /// Adaptive norm in every transformer block (off: the paper's): the frame's action and shortcut embeddings, summed and RMS-normalised, set a
    /// per-frame scale and shift after each norm and a gain on each residual branch, for every token of the frame, through
    /// zero-initialised maps (the untrained model is the unconditioned one). Image diffusion transformers condition on class and
    /// noise level this way rather than through tokens; here the action then reaches every layer directly instead of by space
    /// attention to one token. Left out of the config JSON when off.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool AdaptiveNorm { get; init; }
    /// <summary>
    /// 0 (the default): the latents are a sequence and spatial token i sits at RoPE column i + 1. Above 0: the latents
    /// form a row-major grid this many wide (the tokenizer's LatentGrid, taken from the data), and each packed token (Pack
    /// neighbours in a row) sits at its 2-D grid position, so space attention sees which tokens are neighbours and a
    /// view that scrolls moves content by a fixed relative offset. Left out of the config JSON when 0.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public int LatentGridCols { get; init; }
    /// <summary>
    /// Also feed each spatial token the same token of the previous frame (its <see cref="DynamicsModel.ResidualBase"/>,
    /// c(tau) z~) through a zero-initialised linear map (off: the paper's, where the past arrives only through time
    /// attention). The untrained model is the paper's; the map gives a still scene an exact linear path from the last
    /// frame to the prediction, which attention over a softmax does not, while the output stays a free x-prediction
    /// (unlike <see cref="ResidualHead"/>). Left out of the config JSON when off.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool PreviousInput { get; init; }
    /// <summary>
    /// With <see cref="PreviousInput"/> and a latent grid (<see cref="LatentGridCols"/>): each spatial token reads the previous
    /// frame's packed tokens within this many grid steps of its own (1: the 3 x 3 neighbourhood, zero beyond the edges)
    /// instead of its own alone. A view that scrolls moves content to a neighbouring token, which through attention the model
    /// has to pick by the action with a different head per direction (1000s of steps did not teach it that on bench scroll).
    /// On its own this did not help there either; it is what <see cref="PreviousPerAction"/>'s maps read. Left out of the config JSON when 0.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public int PreviousReach { get; init; }
    /// <summary>
    /// With <see cref="PreviousInput"/>: besides the shared map, a map of the previous frame's token (or neighbourhood) chosen by
    /// the class of the first categorical action component (one zero-initialised map per class, one more for frames without
    /// an action): an action-conditioned linear transition the model gets without having to gate content by the action.
    /// Left out of the config JSON when off.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool PreviousPerAction { get; init; }
    /// <summary>
    /// With <see cref="PreviousPerAction"/>: the maps are this factor times their parameters (null: 1), so AdamW, which moves
    /// every parameter by about the learning rate per step, moves them this many times faster. A map that shifts content
    /// needs entries near 1 from a zero start: at lr 3e-4 that is thousands of steps, in which the rest of the model learns
    /// to do without it. Left out of the config JSON when null.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public double? PreviousMapGain { get; init; }

    /// <summary>Whether Forward reads the previous frame's base (the sampler then carries it from frame to frame).</summary>
    public bool ReadsPreviousFrame => ResidualHead || PreviousInput;

    public int SpatialTokens => LatentTokens / Pack;
    public int PackedDim => LatentDim * Pack;
    public int StepLevels => Log2(KMax) + 1;
    /// <summary>Slots per frame before registers: action, shortcut (signal level + step size), spatial tokens.</summary>
    public int Slots => 2 + SpatialTokens;

    /// <summary>
    /// Signal index the context is labelled with: the grid level nearest to 1 - ContextNoise, below 1 unless the model
    /// trained on clean frames (<see cref="CleanPrefixShare"/>) and the context is clean.
    /// </summary>
    public int ContextSignal => CleanPrefixShare > 0 && ContextNoise == 0 ? KMax : Math.Clamp((int)Math.Round((1 - ContextNoise) * KMax), 0, KMax - 1);

    public static int Log2(int x) => System.Numerics.BitOperations.Log2((uint)x);

    public IEnumerable<string> Validate(string prefix = "")
    {
        if (LatentTokens < 1 || LatentDim < 1) yield return $"{prefix}LatentTokens and LatentDim must be positive (got {LatentTokens}x{LatentDim})";
        if (Pack < 1 || LatentTokens % Pack != 0) yield return $"{prefix}Pack must divide LatentTokens {LatentTokens} (got {Pack})";
        if (KMax < 1 || (KMax & (KMax - 1)) != 0) yield return $"{prefix}KMax must be a power of two (got {KMax})";
        if (ContextFrames < 1) yield return $"{prefix}ContextFrames must be positive (got {ContextFrames})";
        if (ContextNoise is < 0 or >= 1) yield return $"{prefix}ContextNoise must lie in [0, 1) (got {ContextNoise})";
        if (CleanPrefixShare is < 0 or > 1 || double.IsNaN(CleanPrefixShare)) yield return $"{prefix}CleanPrefixShare must lie in [0, 1] (got {CleanPrefixShare})";
        if (LatentGridCols < 0 || (LatentGridCols > 0 && (LatentTokens % LatentGridCols != 0 || LatentGridCols % Pack != 0)))
            yield return $"{prefix}LatentGridCols must be 0 or divide LatentTokens {LatentTokens} and be a multiple of Pack {Pack} (got {LatentGridCols})";
        if (PreviousReach < 0) yield return $"{prefix}PreviousReach must not be negative (got {PreviousReach})";
        else if (PreviousReach > 0 && (!PreviousInput || LatentGridCols == 0))
            yield return $"{prefix}PreviousReach {PreviousReach} needs PreviousInput and a latent grid (a tokenizer with LatentGrid, GridPositions on)";
        if (PreviousPerAction && !PreviousInput) yield return $"{prefix}PreviousPerAction needs PreviousInput";
        if (PreviousMapGain is { } g && !(g > 0 && double.IsFinite(g))) yield return $"{prefix}PreviousMapGain must be a positive number (got {g})";
        if (PreviousMapGain != null && !PreviousPerAction) yield return $"{prefix}PreviousMapGain needs PreviousPerAction";
        if (Transformer.Dim % 2 != 0) yield return $"{prefix}Transformer:Dim must be even: the shortcut token is signal || step (got {Transformer.Dim})";
        foreach (var p in Transformer.Validate(prefix + "Transformer:")) yield return p;
    }
}

/// <summary>
/// The dynamics model: per frame one block of tokens [action, shortcut(tau, d), S_z packed latents]
/// plus registers, through the block-causal space-time transformer; a zero-initialised head reads the
/// clean latents (x-prediction) out of the spatial slots. The shortcut token is the concatenation of a
/// signal-level embedding and a step-size embedding (the paper's discrete tau and d).
/// </summary>
public sealed class DynamicsModel : Module
{
    private readonly Linear _latentIn;
    private readonly Embedding _signal;
    private readonly Embedding _step;
    private readonly ActionEncoder _actions;
    private readonly SpaceTimeTransformer _transformer;
    private readonly Linear _head;
    private readonly RMSNorm? _conditionNorm;
    private readonly Linear? _previousIn;
    private readonly Tensor? _previousMaps;
    /// <summary>With PreviousPerAction: the categorical component whose class picks the map, and its action column.</summary>
    private readonly (ActionComponentSpec Spec, int Column) _mapAction;

    public DynamicsConfig Config { get; }
    public TokenLayout Layout { get; }
    public IReadOnlyList<ActionComponentSpec> ActionSpace => _actions.Components;
    public int ActionColumns { get; }

    public DynamicsModel(DynamicsConfig config, IReadOnlyList<ActionComponentSpec> actionSpace, ParamOptions options = default)
    {
        var problems = config.Validate().ToList();
        if (problems.Count > 0) throw new ArgumentException(string.Join("; ", problems));
        Config = config;
        ActionColumns = ActionComponentSpec.TotalColumns(actionSpace);
        var dim = config.Transformer.Dim;
        _latentIn = RegisterModule("latent_in", new Linear(config.PackedDim, dim, options: options));
        _signal = RegisterModule("signal_embed", new Embedding(config.KMax + 1, dim / 2, options));
        _step = RegisterModule("step_embed", new Embedding(config.StepLevels, dim / 2, options));
        using (Torch.NoGrad())
        {
            _signal.Weight.Normal_(0, 0.02, options.Generator);
            _step.Weight.Normal_(0, 0.02, options.Generator);
        }
        _actions = RegisterModule("action_encoder", new ActionEncoder(actionSpace, dim, options));
        _transformer = RegisterModule("transformer", new SpaceTimeTransformer(config.Transformer, options, conditioned: config.AdaptiveNorm));
        // The embeddings start at ~0.02: normalised, the condition moves the zero-initialised modulation maps from the first step.
        if (config.AdaptiveNorm) _conditionNorm = RegisterModule("condition_norm", new RMSNorm(dim, options: options));
        _head = RegisterModule("head", new Linear(dim, config.PackedDim, options: options));
        if (config.PreviousInput)
        {
            var window = (2 * config.PreviousReach + 1) * (2 * config.PreviousReach + 1);
            _previousIn = RegisterModule("previous_in", new Linear(window * config.PackedDim, dim, bias: false, options: options));
            if (config.PreviousPerAction)
            {
                _mapAction = ActionComponentSpec.FirstCategorical(actionSpace)
                    ?? throw new ArgumentException("PreviousPerAction needs a categorical action component");
                using var noGrad = Torch.NoGrad();
                _previousMaps = RegisterParameter("previous_maps", Torch.Zeros([_mapAction.Spec.Labels.Count + 1, window * config.PackedDim, dim], options.DType ?? DType.Float32, options.Device));
            }
            using (Torch.NoGrad()) _previousIn.Weight.Zero_();
        }
        // Zero-initialised x-prediction head: the untrained model predicts the mean latent (0), a stable start.
        using (Torch.NoGrad())
        {
            _head.Weight.Zero_();
            _head.Bias!.Zero_();
        }

        // Every slot reads every slot of its frame; every slot (registers too) attends to its own past.
        // RoPE: action and shortcut share position (0, 0); spatial tokens follow at column i + 1 (a sequence) or at
        // (row + 1, col + 1) of the packed latent grid.
        var slots = config.Slots;
        var (rows, cols) = (new long[slots], new long[slots]);
        for (var i = 0; i < config.SpatialTokens; i++)
            (rows[i + 2], cols[i + 2]) = config.LatentGridCols > 0
                ? (i * config.Pack / config.LatentGridCols + 1, i * config.Pack % config.LatentGridCols / config.Pack + 1)
                : (0, i + 1);
        Layout = new TokenLayout(new int[slots], new[,] { { true } }, 0, rows, cols);
    }

    public SpaceTimeTransformer Transformer => _transformer;

    /// <summary>A KV cache over the model's context window for frame-by-frame generation.</summary>
    public SpaceTimeCache NewCache() => _transformer.NewCache(Config.ContextFrames);

    /// <summary>[B, T, N_b, D_b] to [B, T, S_z, Pack * D_b] (consecutive tokens side by side).</summary>
    public Tensor PackLatents(Tensor z)
    {
        var s = z.Shape;
        return z.Reshape(s[0], s[1], Config.SpatialTokens, Config.PackedDim);
    }

    public Tensor UnpackLatents(Tensor packed)
    {
        var s = packed.Shape;
        return packed.Reshape(s[0], s[1], Config.LatentTokens, Config.LatentDim);
    }

    /// <summary>
    /// Predicts clean latents x1 [B, T, N_b, D_b] from noisy ones. signal: int64 [B, T] level index
    /// (tau = signal / KMax); step: int64 [B, T] step index e (d = 2^-e); actions: [B, T, columns], the
    /// action that led INTO each frame (a_{t-1}), null for none; labeled: bool [B, T] (null: all labeled
    /// when actions are given). Without a cache the T frames start at time 0 with a ContextFrames window;
    /// with a cache they continue it and the first commitFrames of them are kept (null: all; 0: read it without extending it). previousBase: with
    /// <see cref="DynamicsConfig.ReadsPreviousFrame"/>, the base of the first frame (<see cref="ResidualBase"/> of the frame
    /// before it; null: none, the window starts there); the later frames' bases come from noisy itself.
    /// </summary>
    public Tensor Forward(Tensor noisy, Tensor signal, Tensor step, Tensor? actions, Tensor? labeled, SpaceTimeCache? cache = null, int? commitFrames = null,
        Tensor? previousBase = null)
    {
        using var scope = Torch.NewDisposeScope();
        var s = noisy.Shape;
        if (s.Length != 4 || s[2] != Config.LatentTokens || s[3] != Config.LatentDim)
            throw new ArgumentException($"expected latents [B, T, {Config.LatentTokens}, {Config.LatentDim}], got [{string.Join(", ", s)}]");
        long b = s[0], t = s[1], dim = Config.Transformer.Dim;
        if (actions != null && (actions.Size(0) != b || actions.Size(1) != t || actions.Size(2) != ActionColumns))
            throw new ArgumentException($"expected actions [{b}, {t}, {ActionColumns}], got [{string.Join(", ", actions.Shape)}]");
        var spatial = _latentIn.Forward(PackLatents(noisy));
        Tensor? bases = null;
        if (Config.ReadsPreviousFrame)
        {
            var first = previousBase ?? Torch.Zeros([b, 1, Config.LatentTokens, Config.LatentDim], noisy.DType, noisy.Device);
            bases = t > 1 ? Torch.Cat([first, ResidualBase(noisy.Narrow(1, 0, t - 1), signal.Narrow(1, 0, t - 1))], 1) : first;
        }
        if (_previousIn != null)
        {
            var near = Neighbourhood(PackLatents(bases!));
            spatial = spatial + _previousIn.Forward(near);
            if (_previousMaps != null)
            {
                // Frames without an action (or unlabeled) take the last map.
                var noAction = _mapAction.Spec.Labels.Count;
                var cls = actions == null
                    ? Torch.Full([b, t], noAction, DType.Int64, noisy.Device)
                    : _mapAction.Spec.ClassIndices(actions.Select(2, _mapAction.Column));
                if (actions != null && labeled != null) cls = cls.MaskedFill(labeled.LogicalNot(), noAction);
                var maps = _previousMaps.IndexSelect(0, cls.Flatten());
                var s2 = near.Shape[2];
                var mapped = near.Reshape(b * t, s2, near.Shape[3]).MatMul(maps).View(b, t, s2, dim);
                spatial = spatial + (Config.PreviousMapGain is { } gain ? mapped * gain : mapped);
            }
        }
        var action = _actions.Forward(actions, actions == null ? null : labeled, b, t).View(b, t, 1, dim);
        var shortcut = Torch.Cat([_signal.Forward(signal), _step.Forward(step)], -1).View(b, t, 1, dim);
        if (Config.ConditionSpatial) spatial = spatial + action + shortcut;
        var tokens = Torch.Cat([action, shortcut, spatial], 2);
        var condition = _conditionNorm?.Forward((action + shortcut).View(b, t, dim));
        var h = _transformer.Forward(tokens, Layout, cache, cache == null ? Config.ContextFrames : null, commitFrames, condition);
        var x1 = UnpackLatents(_head.Forward(h.Narrow(2, 2, Config.SpatialTokens)));
        if (Config.ResidualHead) x1 = x1 + bases!;
        return x1.MoveToOuterScope();
    }

    /// <summary>
    /// Packed tokens [B, T, S, P] to each token's (2r + 1)^2 grid neighbourhood side by side [B, T, S, (2r + 1)^2 P], row by row
    /// from the top left, zero beyond the grid's edges (r = PreviousReach; 0: the tokens as they are).
    /// </summary>
    public Tensor Neighbourhood(Tensor packed)
    {
        var r = Config.PreviousReach;
        if (r == 0) return packed;
        using var scope = Torch.NewDisposeScope();
        var (b, t, s, p) = (packed.Shape[0], packed.Shape[1], packed.Shape[2], packed.Shape[3]);
        long cols = Config.LatentGridCols / Config.Pack, rows = s / cols;
        var padded = packed.Reshape(b * t, rows, cols, p).Permute(0, 3, 1, 2).Pad([r, r, r, r]);
        var pieces = new List<Tensor>();
        for (var dy = 0; dy <= 2 * r; dy++)
            for (var dx = 0; dx <= 2 * r; dx++)
                pieces.Add(padded.Narrow(2, dy, rows).Narrow(3, dx, cols));
        return Torch.Cat(pieces.ToArray(), 1).Permute(0, 2, 3, 1).Reshape(b, t, s, pieces.Count * p).MoveToOuterScope();
    }

    /// <summary>c(tau) z~ for frames z~ [B, T, N, D] at signal indices [B, T]: the base the next frames' predictions start from.</summary>
    public Tensor ResidualBase(Tensor noisy, Tensor signal)
    {
        using var scope = Torch.NewDisposeScope();
        var tau = signal.To(DType.Float32) * (1.0 / Config.KMax);
        var c = (tau / (tau.Square() + (1 - tau).Square())).Clamp(max: 1);
        return (noisy * c.View(signal.Size(0), signal.Size(1), 1, 1).To(noisy.DType)).MoveToOuterScope();
    }

    /// <summary>Forward FLOPs for [batch, frames] (matrix multiplies; training with bootstrap costs more).</summary>
    public static double ForwardFlops(DynamicsConfig c, long batch, long frames) =>
        SpaceTimeTransformer.ForwardFlops(c.Transformer, batch, frames, c.Slots)
        + 2.0 * batch * frames * c.SpatialTokens * c.PackedDim * c.Transformer.Dim * 2
        + (c.AdaptiveNorm ? 2.0 * batch * frames * c.Transformer.Dim * Enumerable.Range(0, c.Transformer.Layers).Sum(i => SpaceTimeBlock.ModulationOutputs(c.Transformer.Dim, c.Transformer.HasTime(i))) : 0);
}
