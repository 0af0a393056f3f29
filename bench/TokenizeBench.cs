using System.Diagnostics;
using Dreamer.Torch;
using Dreamer.WorldModel;

namespace Dreamer.Bench;

// The class Dreamer.Torch.Torch, not the namespace Dreamer.Torch that Dreamer.* code would otherwise see.
using Torch = Dreamer.Torch.Torch;

/// <summary>
/// `./dreamer bench tokenize [--quick] [--preset tiny|small|base] [--threads N] [--blas-threads N]`: the causal tokenizer's
/// training throughput (frames/s) and model FLOP utilisation against the matmul peak measured in the
/// same run, and encoding/decoding throughput (frames/s, episodes streamed through the KV cache).
/// </summary>
public static class TokenizeBench
{
    public static Task<int> RunAsync(string[] args)
    {
        if (ModelBenchOptions.Parse("tokenize", args, TokenizerPresets.Names) is not { } options) return Task.FromResult(2);
        var (quick, presetName, threads, blasThreads) = options;
        var preset = TokenizerPresets.Get(presetName);
        var model = preset.Model;
        var training = preset.Training with { WarmupSteps = 1, Steps = 1000 };
        int warmup = quick ? 1 : 2, steps = quick ? 3 : 8, episodeFrames = quick ? 32 : 96;
        Console.Error.WriteLine($"libtorch {Torch.Version}, {threads} threads (BLAS {blasThreads}), preset {presetName} ({preset.Purpose})");

        var peak = BenchMeasure.MatmulPeak(quick);

        // Synthetic frames: throughput does not depend on what the pixels show.
        using var data = SyntheticFrames(model, episodes: 4, framesPerEpisode: Math.Max(episodeFrames, training.SequenceLength * 2));
        using var trainer = new TokenizerTrainer(model, training, data, 1);
        var step = BenchMeasure.MedianSeconds(() => trainer.TrainStep(), warmup, steps);
        var framesPerStep = training.BatchSize * training.SequenceLength;
        var stepFlops = 3 * CausalTokenizer.ForwardFlops(model, training.BatchSize, training.SequenceLength);
        var trainFps = framesPerStep / step;
        var mfu = stepFlops / step / peak;

        var (encodeFps, decodeFps) = MeasureCoding(trainer.Model, data, episodeFrames, quick ? 1 : 3);
        var encodeFlops = CausalTokenizer.EncodeFlops(model, 1, 1);
        var decodeFlops = CausalTokenizer.DecodeFlops(model, 1, 1);

        var report = new BenchReport($"bench tokenize: causal tokenizer, preset {presetName} (libtorch {Torch.Version}, {threads} threads, BLAS {blasThreads})")
            .Columns("measure", "value", "detail");
        report.Row("matmul peak (1024x1024 float32)", $"{peak / 1e9:0.0} GFLOP/s", "the MFU reference, measured now");
        report.Row("training step", $"{step * 1000:0} ms", $"{training.BatchSize}x{training.SequenceLength} frames, fwd+bwd+AdamW, MAE + {training.Perceptual}");
        report.Row("training throughput", $"{trainFps:0.0} frames/s", $"{stepFlops / framesPerStep / 1e9:0.000} GFLOP per frame (3x forward)");
        report.Row("training model FLOP utilisation", $"{mfu:P1}", $"{stepFlops / step / 1e9:0.0} GFLOP/s of {peak / 1e9:0.0}");
        report.Row("encoding throughput", $"{encodeFps:0.0} frames/s",
            $"{episodeFrames}-frame episodes through the KV cache, {encodeFlops / 1e9:0.000} GFLOP/frame, MFU {encodeFps * encodeFlops / peak:P1}");
        report.Row("decoding throughput", $"{decodeFps:0.0} frames/s",
            $"same episodes, latents to pixels, {decodeFlops / 1e9:0.000} GFLOP/frame, MFU {decodeFps * decodeFlops / peak:P1}");
        report.Row("parameters", $"{trainer.Model.ParameterCount():N0}", $"{model.Patches} patches + {model.Latents} latents per frame, bottleneck {model.Latents}x{model.LatentDim}");
        report.Goal("tokenize_train_mfu_vs_matmul_peak", mfu, ">=0.25");
        report.Goal("tokenize_encode_frames_per_second", encodeFps, ">=" + (presetName == "small" ? "100" : "0"));
        report.Print();
        return Task.FromResult(0);
    }

    private static FrameSet SyntheticFrames(TokenizerConfig model, int episodes, int framesPerEpisode)
    {
        using var generator = new Generator(7);
        var count = episodes * framesPerEpisode;
        using var scope = Torch.NewDisposeScope();
        var frames = Torch.Randint(0, 256, [count, model.Height, model.Width, model.Channels], generator, DType.UInt8);
        var ids = Enumerable.Range(0, count).Select(i => i / framesPerEpisode).ToArray();
        return new FrameSet(frames, ids);
    }

    /// <summary>Frames per second for encoding and for decoding whole episodes (batch 1, chunks of 16 frames).</summary>
    private static (double Encode, double Decode) MeasureCoding(CausalTokenizer model, FrameSet data, int frames, int reps)
    {
        using var noGrad = Torch.NoGrad();
        model.Eval();
        var encodeTimes = new List<double>();
        var decodeTimes = new List<double>();
        for (var r = 0; r <= reps; r++)
        {
            using var scope = Torch.NewDisposeScope();
            var episode = data.Slice(0, frames).Unsqueeze(0);
            var clock = Stopwatch.StartNew();
            var z = model.EncodeSequence(episode);
            var encode = clock.Elapsed.TotalSeconds;
            clock.Restart();
            model.DecodeSequence(z);
            var decode = clock.Elapsed.TotalSeconds;
            if (r == 0) continue; // warm-up
            encodeTimes.Add(encode);
            decodeTimes.Add(decode);
        }
        model.Train();
        return (frames / BenchMeasure.Median(encodeTimes), frames / BenchMeasure.Median(decodeTimes));
    }

}
