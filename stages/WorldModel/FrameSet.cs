using System.Text.Json.Nodes;
using Dreamer.Torch;

namespace Dreamer.WorldModel;

using Torch = Dreamer.Torch.Torch;

/// <summary>
/// Frames held in memory as one uint8 tensor [N, H, W, C], grouped by episode: frames of an episode are
/// consecutive and in time order, and episodes[i] names the episode of frame i (any ordinal).
/// </summary>
public sealed class FrameSet : IDisposable
{
    private readonly Tensor _frames;

    public FrameSet(Tensor frames, int[] episodes)
    {
        var s = frames.Shape;
        if (frames.DType != DType.UInt8 || s.Length != 4) throw new ArgumentException($"expected uint8 frames [N, H, W, C], got {frames}");
        if (episodes.Length != s[0]) throw new ArgumentException($"{s[0]} frames but {episodes.Length} episode entries");
        _frames = frames.DetachFromScopes();
        Episodes = episodes;
        (Count, Height, Width, Channels) = ((int)s[0], (int)s[1], (int)s[2], (int)s[3]);
    }

    /// <summary>Copies raw HWC frames (n frames of h*w*c bytes, back to back).</summary>
    public static FrameSet FromBytes(ReadOnlySpan<byte> pixels, int height, int width, int channels, int[] episodes)
    {
        var n = episodes.Length;
        if (pixels.Length != (long)n * height * width * channels)
            throw new ArgumentException($"{pixels.Length} bytes is not {n} frames of {height}x{width}x{channels}");
        return new FrameSet(Tensor.From(pixels, n, height, width, channels), episodes);
    }

    public int Count { get; }
    public int Height { get; }
    public int Width { get; }
    public int Channels { get; }
    public int[] Episodes { get; }

    /// <summary>The frames tensor (owned by this set).</summary>
    public Tensor Frames => _frames;

    /// <summary>Start frames of every window of <paramref name="length"/> consecutive frames of one episode.</summary>
    public int[] WindowStarts(int length, int stride = 1) => EpisodeWindows.Starts(Episodes, length, stride);

    /// <summary>(first frame, frame count) of every episode, in order.</summary>
    public IReadOnlyList<(int Start, int Length)> EpisodeRanges() => EpisodeWindows.Ranges(Episodes);

    /// <summary>uint8 [B, T, H, W, C]: the windows starting at <paramref name="starts"/>.</summary>
    public Tensor Gather(ReadOnlySpan<int> starts, int length)
    {
        using var scope = Torch.NewDisposeScope();
        var index = new long[starts.Length * length];
        for (var b = 0; b < starts.Length; b++)
            for (var t = 0; t < length; t++) index[b * length + t] = starts[b] + t;
        var picked = _frames.IndexSelect(0, Tensor.From<long>(index));
        return picked.View(starts.Length, length, Height, Width, Channels).MoveToOuterScope();
    }

    /// <summary>uint8 [length, H, W, C] frames start..start+length-1.</summary>
    public Tensor Slice(int start, int length) => _frames.Narrow(0, start, length);

    public void Dispose() => _frames.Dispose();
}

/// <summary>Windows over rows grouped by episode (an episode's rows consecutive, episodes[i] its ordinal).</summary>
public static class EpisodeWindows
{
    /// <summary>(first row, row count) of every episode, in order.</summary>
    public static IReadOnlyList<(int Start, int Length)> Ranges(int[] episodes)
    {
        var ranges = new List<(int, int)>();
        var i = 0;
        while (i < episodes.Length)
        {
            var end = i;
            while (end + 1 < episodes.Length && episodes[end + 1] == episodes[i]) end++;
            ranges.Add((i, end - i + 1));
            i = end + 1;
        }
        return ranges;
    }

    /// <summary>Start rows of every window of <paramref name="length"/> consecutive rows of one episode.</summary>
    public static int[] Starts(int[] episodes, int length, int stride = 1)
    {
        var starts = new List<int>();
        foreach (var (start, count) in Ranges(episodes))
            for (var s = start; s + length <= start + count; s += stride) starts.Add(s);
        return starts.ToArray();
    }

    /// <summary>At most <paramref name="max"/> non-overlapping windows, evenly spaced: the same ones every evaluation.</summary>
    public static int[] Evenly(int[] episodes, int length, int max) => Evenly(Starts(episodes, length, stride: length), max);

    /// <summary>At most <paramref name="max"/> of the given window starts, evenly spaced.</summary>
    public static int[] Evenly(int[] starts, int max)
    {
        if (starts.Length <= max) return starts;
        return Enumerable.Range(0, max).Select(i => starts[(int)((long)i * starts.Length / max)]).ToArray();
    }
}

/// <summary>
/// Deterministic epoch-wise shuffling of window indices. The cursor (epoch, position) is the whole
/// state: each epoch's permutation is a pure function of (seed, epoch), so a resumed run continues
/// the same sequence.
/// </summary>
public sealed class WindowSampler
{
    private readonly int _count;
    private readonly ulong _seed;
    private int[] _order;

    public WindowSampler(int count, ulong seed, long epoch = 0, int position = 0)
    {
        if (count < 1) throw new ArgumentException("no training windows: every episode is shorter than the sequence length");
        if (position < 0 || position > count) throw new ArgumentOutOfRangeException(nameof(position));
        _count = count;
        _seed = seed;
        Epoch = epoch;
        Position = position;
        _order = Permutation(count, seed, epoch);
    }

    public long Epoch { get; private set; }
    public int Position { get; private set; }

    /// <summary>The data cursor a checkpoint keeps: seed, epoch, position and the number of windows it runs over.</summary>
    public JsonObject ToCursor() => new() { ["seed"] = _seed, ["epoch"] = Epoch, ["position"] = Position, ["windows"] = _count };

    /// <summary>The sampler a cursor written by <see cref="ToCursor"/> continues; its seed and window count must be this run's.</summary>
    public static WindowSampler FromCursor(JsonObject cursor, int windows, ulong seed)
    {
        var taken = cursor["windows"]!.GetValue<int>();
        if (taken != windows)
            throw new InvalidDataException($"checkpoint was taken with {taken} training windows, the data now gives {windows}");
        if (cursor["seed"]!.GetValue<ulong>() != seed)
            throw new InvalidDataException($"checkpoint was taken with seed {cursor["seed"]}, this run uses {seed}");
        return new WindowSampler(windows, seed, cursor["epoch"]!.GetValue<long>(), cursor["position"]!.GetValue<int>());
    }

    /// <summary>The next <paramref name="batch"/> window indices (crossing into the next epoch as needed).</summary>
    public int[] Next(int batch)
    {
        var result = new int[batch];
        for (var i = 0; i < batch; i++)
        {
            if (Position == _count)
            {
                Epoch++;
                Position = 0;
                _order = Permutation(_count, _seed, Epoch);
            }
            result[i] = _order[Position++];
        }
        return result;
    }

    /// <summary>Fisher-Yates with splitmix64 seeded by (seed, epoch).</summary>
    public static int[] Permutation(int count, ulong seed, long epoch)
    {
        var order = new int[count];
        for (var i = 0; i < count; i++) order[i] = i;
        var state = seed ^ (0x9E3779B97F4A7C15UL * (ulong)(epoch + 1));
        for (var i = count - 1; i > 0; i--)
        {
            var j = (int)(SplitMix(ref state) % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    private static ulong SplitMix(ref ulong x)
    {
        var z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
