using Dreamer.Torch;

namespace Dreamer.WorldModel;

using Torch = Dreamer.Torch.Torch;

/// <summary>
/// Play inside the learned world: starting contexts from a latent set (e.g. validation episodes), the
/// dynamics sampler imagining one frame per action, the tokenizer decoding it through its own KV cache.
/// The session owns the models and the latent set it is given and disposes them.
/// </summary>
public sealed class WorldSession : IInteractiveWorld
{
    private readonly DynamicsModel _dynamics;
    private readonly CausalTokenizer _tokenizer;
    private readonly LatentSet _contexts;
    private readonly List<(int Start, int Length, string Name)> _starts = [];
    private readonly DynamicsSampler _sampler;
    private readonly SpaceTimeCache _decoderCache;
    private readonly Device _device;
    private readonly int _contextFrames;

    /// <param name="contexts">Episodes to start from; each start is the first contextFrames frames of an episode.</param>
    public WorldSession(DynamicsModel dynamics, CausalTokenizer tokenizer, LatentSet contexts, int contextFrames = 4, int steps = 4, ulong seed = 0)
    {
        if (contexts.Tokens != dynamics.Config.LatentTokens || contexts.Dim != dynamics.Config.LatentDim)
            throw new ArgumentException($"contexts are {contexts.Tokens}x{contexts.Dim} latents, the model reads {dynamics.Config.LatentTokens}x{dynamics.Config.LatentDim}");
        _dynamics = dynamics;
        _tokenizer = tokenizer;
        _contexts = contexts;
        _contextFrames = Math.Max(1, Math.Min(contextFrames, dynamics.Config.ContextFrames - 1));
        foreach (var (start, length) in contexts.EpisodeRanges())
            if (length >= _contextFrames)
                _starts.Add((start, length, contexts.EpisodeNames?[contexts.Episodes[start]] ?? $"episode {_starts.Count}"));
        if (_starts.Count == 0) throw new ArgumentException($"no episode has {_contextFrames} frames to start from");
        _sampler = new DynamicsSampler(dynamics, steps, seed: seed);
        _device = _sampler.Device;
        _decoderCache = tokenizer.NewDecoderCache();
    }

    public int Width => _tokenizer.Config.Width;
    public int Height => _tokenizer.Config.Height;
    public IReadOnlyList<ActionComponentSpec> Actions => _dynamics.ActionSpace;
    public IReadOnlyList<string> Contexts => _starts.Select(s => s.Name).ToArray();

    public byte[] Reset(int context = 0)
    {
        if (context < 0 || context >= _starts.Count) throw new ArgumentOutOfRangeException(nameof(context), $"context must lie in [0, {_starts.Count})");
        using var scope = Torch.NewDisposeScope();
        using var noGrad = Torch.NoGrad();
        var (z, actions, labeled) = _contexts.Gather([_starts[context].Start], _contextFrames, _device);
        _sampler.Reset();
        _sampler.Observe(z, actions, labeled);
        _decoderCache.Reset();
        var frames = _tokenizer.Decode(z, _decoderCache);
        return Rgb(frames.Narrow(1, _contextFrames - 1, 1));
    }

    public byte[] Step(double[] action)
    {
        if (_sampler.Batch == null) Reset();
        var columns = _dynamics.ActionColumns;
        if (action.Length != columns) throw new ArgumentException($"an action has {columns} values (one per action column), got {action.Length}");
        using var scope = Torch.NewDisposeScope();
        using var noGrad = Torch.NoGrad();
        var a = Tensor.From<float>(action.Select(v => (float)v).ToArray().AsSpan(), 1, 1, columns).To(_device);
        var labeled = Torch.Ones([1, 1], DType.Bool, _device);
        var z = _sampler.Next(columns > 0 ? a : null, columns > 0 ? labeled : null);
        return Rgb(_tokenizer.Decode(z, _decoderCache));
    }

    private static byte[] Rgb(Tensor frame)
    {
        using var scope = Torch.NewDisposeScope();
        return (frame * 255).Round().Clamp(0, 255).To(DType.UInt8).To(Device.Cpu).Contiguous().ToBytes();
    }

    public void Dispose()
    {
        _sampler.Dispose();
        _decoderCache.Dispose();
        _dynamics.Dispose();
        _tokenizer.Dispose();
        _contexts.Dispose();
    }
}
