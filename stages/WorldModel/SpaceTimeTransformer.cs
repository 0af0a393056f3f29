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

    public long HeadDim => Dim / Heads;

    public bool HasTime(int layer) => (layer + 1) % TimeEvery == 0;
}

/// <summary>
/// One layer: pre-RMSNorm space attention within each frame, optional causal time attention per
/// token slot across frames, and a SwiGLU MLP, each residual.
/// </summary>
public sealed class SpaceTimeBlock : Module
{
    private readonly RMSNorm _spaceNorm;
    private readonly Attention _spaceAttention;
    private readonly RMSNorm? _timeNorm;
    private readonly Attention? _timeAttention;
    private readonly RMSNorm _mlpNorm;
    private readonly SwiGluMlp _mlp;

    public SpaceTimeBlock(SpaceTimeConfig config, bool hasTime, ParamOptions options = default)
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
    }

    private static Attention NewAttention(SpaceTimeConfig c, ParamOptions options) =>
        new(c.Dim, c.Heads, c.KvHeads, qkNorm: c.QkNorm, softCap: c.SoftCap, options: options);

    public bool HasTime => _timeAttention != null;

    /// <summary>x [B, T, S, D]; spaceMask broadcastable to [.., S, S] (null: full), timeMask [T, T].</summary>
    public Tensor Forward(Tensor x, Rope spaceRope, Rope timeRope, Tensor? spaceMask, Tensor timeMask)
    {
        using var scope = Torch.NewDisposeScope();
        var (b, t, s, d) = (x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]);

        var h = _spaceAttention.Forward(_spaceNorm.Forward(x).Reshape(b * t, s, d), spaceMask, spaceRope);
        x = x + h.View(b, t, s, d);
        if (_timeAttention != null)
        {
            var slots = _timeNorm!.Forward(x).Transpose(1, 2).Reshape(b * s, t, d);
            h = _timeAttention.Forward(slots, timeMask, timeRope);
            x = x + h.View(b, s, t, d).Transpose(1, 2);
        }
        return scope.Keep(x + _mlp.Forward(_mlpNorm.Forward(x)));
    }
}

/// <summary>
/// The factorised space-time transformer shared by tokenizer and dynamics (block-causal in time):
/// space layers mix tokens within a frame, time layers mix each token slot with its own past.
/// </summary>
public sealed class SpaceTimeTransformer : Module
{
    private readonly List<SpaceTimeBlock> _blocks = [];
    private readonly RMSNorm _outNorm;

    public SpaceTimeConfig Config { get; }

    public SpaceTimeTransformer(SpaceTimeConfig config, ParamOptions options = default)
    {
        if (config.Dim % config.Heads != 0) throw new ArgumentException($"Dim {config.Dim} is not divisible by Heads {config.Heads}");
        Config = config;
        for (var i = 0; i < config.Layers; i++)
            _blocks.Add(RegisterModule($"block{i}", new SpaceTimeBlock(config, config.HasTime(i), options)));
        _outNorm = RegisterModule("out_norm", new RMSNorm(config.Dim, options: options));
    }

    public Tensor Forward(Tensor x, Rope spaceRope, Rope timeRope, Tensor? spaceMask, Tensor timeMask)
    {
        using var scope = Torch.NewDisposeScope();
        foreach (var block in _blocks) x = block.Forward(x, spaceRope, timeRope, spaceMask, timeMask);
        return scope.Keep(_outNorm.Forward(x));
    }

    /// <summary>
    /// Forward-pass FLOPs for a [batch, frames, tokens, Dim] input, counting matrix multiplies
    /// (2 per multiply-add) — the basis of model FLOP utilisation (training step = 3x forward).
    /// </summary>
    public static double ForwardFlops(SpaceTimeConfig c, long batch, long frames, long tokens)
    {
        double n = batch * frames * tokens;
        double qkvo = 2 * n * c.Dim * (2 * c.Heads * c.HeadDim + 2 * c.KvHeads * c.HeadDim);
        double mlp = 2 * n * 3 * c.Dim * c.Hidden;
        // Scores and weighted values: per query 2 * L * HeadDim * Heads, twice.
        double spaceScores = 2 * 2 * n * tokens * c.HeadDim * c.Heads;
        double timeScores = 2 * 2 * n * frames * c.HeadDim * c.Heads;
        double total = 0;
        for (var i = 0; i < c.Layers; i++)
            total += qkvo + mlp + spaceScores + (c.HasTime(i) ? qkvo + timeScores : 0);
        return total;
    }
}
