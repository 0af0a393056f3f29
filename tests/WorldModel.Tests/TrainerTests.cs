using Dreamer.Torch;

namespace Dreamer.WorldModel.Tests;

using Torch = Dreamer.Torch.Torch;

public sealed class TrainerTests
{
    private static readonly TokenizerPreset Tiny = TokenizerPresets.Tiny;

    [Fact]
    public void LossDecreasesOnATinyDataset()
    {
        using var data = GameFrames.Make(2, 24, 11);
        var training = Tiny.Training with { Steps = 60, Perceptual = "ssim" };
        using var trainer = new TokenizerTrainer(Tiny.Model, training, data, 5);
        var before = trainer.Evaluate(data, 8);
        var mse = new List<double>();
        while (!trainer.Done) mse.Add(trainer.TrainStep().Mse);
        var after = trainer.Evaluate(data, 8);
        Assert.True(mse.TakeLast(10).Average() < 0.5 * mse.Take(10).Average(), $"training mse {mse.Take(10).Average():0.0000} -> {mse.TakeLast(10).Average():0.0000}");
        Assert.True(after.Psnr > before.Psnr + 3, $"PSNR {before.Psnr:0.00} -> {after.Psnr:0.00}");
        // The originals' own frame-to-frame change does not depend on the model; the decoded change follows it better once trained.
        Assert.Equal(before.RawChangePsnr, after.RawChangePsnr, 9);
        Assert.InRange(after.RawChangePsnr, 5, 60);
        Assert.True(after.TemporalPsnr > before.TemporalPsnr, $"temporal PSNR {before.TemporalPsnr:0.00} -> {after.TemporalPsnr:0.00}");
    }

    /// <summary>
    /// Frame-to-frame change by hand: still originals (0.5) against reconstructions alternating 0.4 / 0.6 (a flicker of
    /// 0.2), and a reconstruction that moves exactly as the originals do (a constant offset, no temporal error).
    /// </summary>
    [Fact]
    public void TemporalChangeScoresFlickerAndFaithfulMotion()
    {
        using var scope = Torch.NewDisposeScope();
        var still = Torch.Full([2, 3, 4, 4, 3], 0.5);
        var flicker = Torch.Cat([Torch.Full([2, 1, 4, 4, 3], 0.4), Torch.Full([2, 1, 4, 4, 3], 0.6), Torch.Full([2, 1, 4, 4, 3], 0.4)], 1);
        var c = TemporalChange.Of(flicker, still);
        Assert.Equal(4, c.Pairs);
        Assert.Equal(100, c.Psnr(c.Raw), 6);                            // nothing moves: capped
        Assert.Equal(-10 * Math.Log10(0.04), c.Psnr(c.Decoded), 4);     // change 0.2 everywhere: 13.98 dB
        Assert.Equal(-10 * Math.Log10(0.04), c.Psnr(c.Temporal), 4);

        var ramp = Torch.Arange(0, 3).To(DType.Float32).View(1, 3, 1, 1, 1).Expand(2, 3, 4, 4, 3) * 0.1 + 0.2;
        var offset = TemporalChange.Of(ramp + 0.05, ramp);
        Assert.Equal(100, offset.Psnr(offset.Temporal), 4);             // same change, only shifted in level
        Assert.Equal(20, offset.Psnr(offset.Raw), 4);                   // 0.1 per frame: 20 dB
        Assert.Equal(offset.Raw, offset.Decoded, 6);
        Assert.Equal(0, TemporalChange.Of(ramp.Narrow(1, 0, 1), ramp.Narrow(1, 0, 1)).Pairs);
    }

    [Fact]
    public void ResumeFromHalfwayGivesBitIdenticalWeights()
    {
        using var data = GameFrames.Make(2, 20, 12);
        var training = Tiny.Training with { Steps = 16, WarmupSteps = 4, Perceptual = "gradient" };
        const ulong seed = 9;

        using var straight = new TokenizerTrainer(Tiny.Model, training, data, seed);
        while (!straight.Done) straight.TrainStep();

        TrainerCheckpoint saved;
        using (var first = new TokenizerTrainer(Tiny.Model, training, data, seed))
        {
            for (var i = 0; i < 8; i++) first.TrainStep();
            saved = CheckpointRoundTrip.Of(first);
        }
        using var resumed = new TokenizerTrainer(Tiny.Model, training, data, seed);
        saved.RestoreInto(resumed);
        Assert.Equal(8, resumed.Step);
        while (!resumed.Done) resumed.TrainStep();

        var a = straight.Model.StateDict();
        var b = resumed.Model.StateDict();
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, t) in a)
            Assert.True(t.ToBytes().AsSpan().SequenceEqual(b[name].ToBytes()), $"parameter {name} differs after resume");
    }

    private sealed class PoisonedLoss(int poisonAt) : IPerceptualLoss
    {
        private int _calls;
        public string Name => "poisoned";

        public Tensor Forward(Tensor prediction, Tensor target)
        {
            var mse = (prediction - target).Square().Mean();
            return ++_calls >= poisonAt ? mse * double.NaN : mse;
        }

        public void Dispose() { }
    }

    [Fact]
    public void NonFiniteLossStopsWithoutTouchingTheWeights()
    {
        using var data = GameFrames.Make(1, 12, 13);
        using var trainer = new TokenizerTrainer(Tiny.Model, Tiny.Training, data, 3, perceptual: new PoisonedLoss(3));
        trainer.TrainStep();
        trainer.TrainStep();
        var before = trainer.Model.StateDict().ToDictionary(p => p.Key, p => p.Value.ToBytes());
        var e = Assert.Throws<NonFiniteLossException>(() => trainer.TrainStep());
        Assert.Equal(2, e.Step);
        Assert.Contains("non-finite loss", e.Message);
        foreach (var (name, t) in trainer.Model.StateDict())
            Assert.True(before[name].AsSpan().SequenceEqual(t.ToBytes()), $"{name} changed");
    }

    [Fact]
    public void SamplerPermutationIsAFunctionOfSeedAndEpoch()
    {
        var a = new WindowSampler(10, 42);
        var first = a.Next(25);
        var b = new WindowSampler(10, 42, epoch: 1, position: 5);
        Assert.Equal(first[15..], b.Next(10));
        Assert.Equal(Enumerable.Range(0, 10), first[..10].Order());
    }

    [Fact]
    public void WindowsStayInsideEpisodes()
    {
        using var frames = FrameSet.FromBytes(new byte[7 * 3], 1, 1, 3, [0, 0, 0, 1, 1, 2, 2]);
        Assert.Equal([0, 1, 3, 5], frames.WindowStarts(2));
        Assert.Equal([0], frames.WindowStarts(3));
        Assert.Equal([(0, 3), (3, 2), (5, 2)], frames.EpisodeRanges());
    }
}
