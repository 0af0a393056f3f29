using Dreamer.Torch;
using Dreamer.Torch.NN;

namespace Dreamer.WorldModel.Tests;

using Torch = Dreamer.Torch.Torch;

public sealed class SpaceTimeTransformerTests
{
    private static SpaceTimeConfig Small(int registers = 0, int timeEvery = 2) => new()
    {
        Dim = 32, Heads = 4, KvHeads = 2, Hidden = 64, Layers = 4, TimeEvery = timeEvery, Registers = registers,
    };

    // Two modalities (0: "patches" 0..5, 1: "latents" 6..7) plus registers (2), latents-only time attention.
    private static TokenLayout TwoModalities(bool latentsOnlyTime)
    {
        var modalities = new[] { 0, 0, 0, 0, 0, 0, 1, 1 };
        var reads = new[,] { { true, false, false }, { true, true, true }, { true, true, true } };
        long[] rows = [0, 0, 0, 1, 1, 1, 0, 0], cols = [0, 1, 2, 0, 1, 2, 0, 0];
        return latentsOnlyTime
            ? new TokenLayout(modalities, reads, 2, rows, cols, 6, 2)
            : new TokenLayout(modalities, reads, 2, rows, cols);
    }

    private static SpaceTimeTransformer NewModel(SpaceTimeConfig config, ulong seed = 3)
    {
        using var g = new Generator(seed);
        return new SpaceTimeTransformer(config, new ParamOptions(Generator: g));
    }

    private static float MaxAbsDiff(Tensor a, Tensor b)
    {
        using var d = (a - b).Abs().Max();
        return d.ToSingle();
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 2)]
    public void EncodingFrameTDoesNotDependOnLaterFrames(bool latentsOnlyTime, int registers)
    {
        using var scope = Torch.NewDisposeScope();
        using var model = NewModel(Small(registers));
        var layout = TwoModalities(latentsOnlyTime);
        using var g = new Generator(11);
        var x = Torch.Randn([2, 6, 8, 32], g);
        var y = model.Forward(x, layout);
        // Change frames 3.. completely: frames 0..2 must come out the same.
        var changed = Torch.Cat([x.Narrow(1, 0, 3), Torch.Randn([2, 3, 8, 32], g) * 5], 1);
        var y2 = model.Forward(changed, layout);
        Assert.True(MaxAbsDiff(y.Narrow(1, 0, 3), y2.Narrow(1, 0, 3)) < 1e-6f);
        Assert.True(MaxAbsDiff(y.Narrow(1, 3, 3), y2.Narrow(1, 3, 3)) > 1e-3f);
    }

    [Fact]
    public void SpaceMaskKeepsModalitiesApart()
    {
        using var scope = Torch.NewDisposeScope();
        using var model = NewModel(Small(registers: 2, timeEvery: 1));
        var layout = TwoModalities(latentsOnlyTime: true);
        using var g = new Generator(5);
        var x = Torch.Randn([1, 3, 8, 32], g);
        var y = model.Forward(x, layout);
        // Modality 0 reads only itself: changing modality-1 inputs (any frame) leaves its outputs alone.
        var changedLatents = Torch.Cat([x.Narrow(2, 0, 6), Torch.Randn([1, 3, 2, 32], g)], 2);
        var y2 = model.Forward(changedLatents, layout);
        Assert.True(MaxAbsDiff(y.Narrow(2, 0, 6), y2.Narrow(2, 0, 6)) < 1e-6f);
        // Modality 1 reads everything: changing modality-0 inputs changes its outputs.
        var changedPatches = Torch.Cat([Torch.Randn([1, 3, 6, 32], g), x.Narrow(2, 6, 2)], 2);
        var y3 = model.Forward(changedPatches, layout);
        Assert.True(MaxAbsDiff(y.Narrow(2, 6, 2), y3.Narrow(2, 6, 2)) > 1e-3f);
    }

    [Fact]
    public void LatentsOnlyTimeKeepsOtherSlotsPerFrame()
    {
        using var scope = Torch.NewDisposeScope();
        using var model = NewModel(Small(timeEvery: 1));
        var layout = TwoModalities(latentsOnlyTime: true);
        using var g = new Generator(9);
        var x = Torch.Randn([1, 4, 8, 32], g);
        var y = model.Forward(x, layout);
        // Patches read only patches of their own frame: changing frame 0 leaves frame 3's patches alone.
        var changed = Torch.Cat([Torch.Randn([1, 1, 8, 32], g), x.Narrow(1, 1, 3)], 1);
        var y2 = model.Forward(changed, layout);
        Assert.True(MaxAbsDiff(y.Narrow(1, 3, 1).Narrow(2, 0, 6), y2.Narrow(1, 3, 1).Narrow(2, 0, 6)) < 1e-6f);
        Assert.True(MaxAbsDiff(y.Narrow(1, 3, 1).Narrow(2, 6, 2), y2.Narrow(1, 3, 1).Narrow(2, 6, 2)) > 1e-4f);
    }

    [Theory]
    [InlineData(null, false, 0, 1)]
    [InlineData(3, true, 2, 1)]
    [InlineData(4, false, 1, 3)]
    public void FrameByFrameWithCacheEqualsFullSequence(int? window, bool latentsOnlyTime, int registers, int chunk)
    {
        using var scope = Torch.NewDisposeScope();
        using var model = NewModel(Small(registers));
        var layout = TwoModalities(latentsOnlyTime);
        using var g = new Generator(21);
        const int frames = 9;
        var x = Torch.Randn([2, frames, 8, 32], g);
        using var noGrad = Torch.NoGrad();
        var full = model.Forward(x, layout, window: window);
        using var cache = model.NewCache(window);
        var parts = new List<Tensor>();
        for (var t = 0; t < frames; t += chunk)
            parts.Add(model.Forward(x.Narrow(1, t, Math.Min(chunk, frames - t)), layout, cache));
        var stepped = Torch.Cat(parts.ToArray(), 1);
        Assert.True(MaxAbsDiff(full, stepped) < 1e-5f, $"max diff {MaxAbsDiff(full, stepped)}");
        Assert.Equal(frames, cache.Position);
        Assert.Equal(window is { } w ? Math.Min(w - 1, frames) : frames, cache.Length);
    }

    [Fact]
    public void CacheResetStartsANewSequence()
    {
        using var scope = Torch.NewDisposeScope();
        using var model = NewModel(Small());
        var layout = TwoModalities(false);
        using var g = new Generator(4);
        var x = Torch.Randn([1, 2, 8, 32], g);
        using var noGrad = Torch.NoGrad();
        using var cache = model.NewCache(4);
        var first = model.Forward(x, layout, cache);
        cache.Reset();
        var again = model.Forward(x, layout, cache);
        Assert.True(MaxAbsDiff(first, again) < 1e-6f);
    }

    [Fact]
    public void RegistersAreParametersAndDroppedFromTheOutput()
    {
        using var scope = Torch.NewDisposeScope();
        using var model = NewModel(Small(registers: 3));
        Assert.Contains(model.NamedParameters(), p => p.Name == "registers");
        var y = model.Forward(Torch.Randn([1, 2, 8, 32]), TwoModalities(true));
        Assert.Equal([1L, 2, 8, 32], y.Shape);
    }

    [Fact]
    public void TimeMaskIsBandedCausal()
    {
        using var mask = TimeMasks.Causal(2, 5, 3, Device.Cpu);
        // Queries are key frames 3 and 4; with a window of 3 they see 1..3 and 2..4.
        Assert.Equal(new[] { false, true, true, true, false, false, false, true, true, true }, mask.ToArray<bool>());
    }
}
