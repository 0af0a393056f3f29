using Dreamer.Torch;

namespace Dreamer.WorldModel;

using Torch = Dreamer.Torch.Torch;

/// <summary>
/// A latents table in memory: latents [N, tokens, dim] float32 grouped by episode (an episode's rows
/// consecutive and in frame order; episodes[i] its ordinal), actions [N, columns] (the action taken
/// after seeing row i) with a labeled flag. Windows hand the model the action that led INTO each frame
/// (row i-1's, or none for an episode's first frame), the alignment used in training and sampling alike.
/// </summary>
public sealed class LatentSet : IDisposable
{
    private readonly Tensor _latents;
    private readonly Tensor _previousActions;
    private readonly Tensor _previousLabeled;
    private readonly bool[] _labeledInto;

    /// <param name="actions">N x columns values, row-major (categorical: class index; binary: 0/1; continuous: value).</param>
    public LatentSet(Tensor latents, float[] actions, bool[] labeled, int[] episodes, int columns, IReadOnlyList<string>? episodeNames = null)
    {
        var s = latents.Shape;
        if (s.Length != 3) throw new ArgumentException($"expected latents [N, tokens, dim], got [{string.Join(", ", s)}]");
        var n = (int)s[0];
        if (episodes.Length != n || labeled.Length != n || actions.Length != (long)n * columns)
            throw new ArgumentException($"{n} latents need {n} episode entries, {n} labeled flags and {n}x{columns} action values");
        using var scope = Torch.NewDisposeScope();
        _latents = latents.To(DType.Float32).DetachFromScopes();
        var previous = new float[actions.Length];
        var previousLabeled = new bool[n];
        for (var i = 1; i < n; i++)
        {
            if (episodes[i] != episodes[i - 1]) continue;
            Array.Copy(actions, (long)(i - 1) * columns, previous, (long)i * columns, columns);
            previousLabeled[i] = labeled[i - 1];
        }
        _previousActions = Tensor.From<float>(previous.AsSpan(), n, columns).DetachFromScopes();
        _previousLabeled = Tensor.From<bool>(previousLabeled.AsSpan(), n).DetachFromScopes();
        _labeledInto = previousLabeled;
        Episodes = episodes;
        EpisodeNames = episodeNames;
        Columns = columns;
        Count = n;
        Tokens = (int)s[1];
        Dim = (int)s[2];
    }

    public int Count { get; }
    public int Tokens { get; }
    public int Dim { get; }
    public int Columns { get; }
    public int[] Episodes { get; }
    public IReadOnlyList<string>? EpisodeNames { get; }
    public Tensor Latents => _latents;

    public int[] WindowStarts(int length, int stride = 1) => EpisodeWindows.Starts(Episodes, length, stride);

    public IReadOnlyList<(int Start, int Length)> EpisodeRanges() => EpisodeWindows.Ranges(Episodes);

    /// <summary>
    /// Windows of <paramref name="length"/> frames (non-overlapping by default) in which every frame after the first has a
    /// recorded action leading into it: the windows where action-conditioned metrics mean something.
    /// </summary>
    public int[] LabeledWindowStarts(int length, int? stride = null) =>
        WindowStarts(length, stride: stride ?? length).Where(s => Enumerable.Range(s + 1, length - 1).All(i => _labeledInto[i])).ToArray();

    /// <summary>Windows of <paramref name="length"/> rows: latents [B, T, tokens, dim], actions into each frame [B, T, columns], labeled [B, T].</summary>
    public (Tensor Latents, Tensor Actions, Tensor Labeled) Gather(ReadOnlySpan<int> starts, int length, Device device)
    {
        using var scope = Torch.NewDisposeScope();
        var index = new long[starts.Length * length];
        for (var b = 0; b < starts.Length; b++)
            for (var t = 0; t < length; t++) index[b * length + t] = starts[b] + t;
        var rows = Tensor.From<long>(index);
        var b0 = starts.Length;
        var z = _latents.IndexSelect(0, rows).View(b0, length, Tokens, Dim).To(device);
        var a = _previousActions.IndexSelect(0, rows).View(b0, length, Columns).To(device);
        var l = _previousLabeled.IndexSelect(0, rows).View(b0, length).To(device);
        return (z.MoveToOuterScope(), a.MoveToOuterScope(), l.MoveToOuterScope());
    }

    public void Dispose()
    {
        _latents.Dispose();
        _previousActions.Dispose();
        _previousLabeled.Dispose();
    }
}
