using System.Diagnostics;
using Dreamer.Hosting;
using Dreamer.Stages.TrainDynamics;
using Dreamer.Torch;
using Dreamer.WorldModel;

namespace Dreamer.Bench;

using Torch = Dreamer.Torch.Torch;

/// <summary>
/// `./dreamer bench dynamics [--quick] [--preset tiny|small|base] [--threads N] [--blas-threads N] [--set TrainDynamics:Key=Value ...]`:
/// interactive play speed
/// (frames/s at K=4, batch 1: dynamics sampling through the KV cache plus tokenizer decoding, what
/// `dreamer play` does per frame), batched rollout frames/s, and training model FLOP utilisation
/// against the matmul peak measured in the same run. Speed does not depend on the weights, so the
/// models are freshly initialised (the zero head randomised so every path computes real values).
/// </summary>
public static class DynamicsBench
{
    public static Task<int> RunAsync(string[] args)
    {
        // One thread by default, as `dreamer play` and the train-dynamics config run: on 2 cores the small model's
        // ops are too small for intra-op threads; Torch.UseThreads then gives OpenBLAS the cores (never both pools wide).
        if (ModelBenchOptions.Parse("dynamics", args, DynamicsPresets.Names, defaultThreads: 1) is not { } options) return Task.FromResult(2);
        var (quick, presetName, threads, blasThreads) = options;
        var preset = DynamicsPresets.Get(presetName);
        var tokenizerConfig = TokenizerPresets.Get(presetName).Model;
        TrainDynamicsSection section;
        try
        {
            // --set TrainDynamics:Model:... measures a model other than the preset's (say a wider one) as the stage would build it.
            section = options.DynamicsSection(args);
            if (!string.Equals(section.Device, "cpu", StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"TrainDynamics:Device={section.Device}: bench dynamics measures this machine's CPU (expected cpu)");
        }
        catch (Exception e) when (e is StageInputException or ArgumentException)
        {
            Console.Error.WriteLine($"bench dynamics: {e.Message}");
            return Task.FromResult(2);
        }
        // Resolved as the stage resolves it over the preset tokenizer's latents (grid, and the categorical action below).
        var (config, resolvedTraining) = section.Resolve(tokenizerConfig.Latents, tokenizerConfig.LatentDim,
            tokenizerConfig.LatentGrid ? tokenizerConfig.LatentGridShape.Cols : null, categoricalAction: true);
        var training = resolvedTraining with { WarmupSteps = 1, Steps = 1000, BootstrapStart = 0 };
        IReadOnlyList<ActionComponentSpec> actions =
            [new ActionComponentSpec("command", ActionKind.Categorical, ["noop", "move_left", "move_right", "move_up", "move_down", "interact"])];
        Console.Error.WriteLine($"libtorch {Torch.Version}, {threads} threads (BLAS {blasThreads}), preset {presetName} ({preset.Purpose})");

        var peak = BenchMeasure.MatmulPeak(quick);

        using var data = SyntheticLatents(config, episodes: 4, length: 64);
        using var trainer = new DynamicsTrainer(config, actions, training, data, 1);
        var step = BenchMeasure.MedianSeconds(() => trainer.TrainStep(), warmup: quick ? 1 : 2, reps: quick ? 3 : 8);
        var forward = DynamicsModel.ForwardFlops(config, training.BatchSize, training.SequenceLength);
        // Forward + backward (3x) on the batch, plus two no-grad teacher passes on the bootstrap share of rows.
        var stepFlops = 3 * forward + 2 * training.BootstrapFraction * forward;
        var mfu = stepFlops / step / peak;
        var trainFps = training.BatchSize * training.SequenceLength / step;

        var model = trainer.Model;
        using (Torch.NoGrad())
        using (var init = new Generator(3))
            foreach (var (name, p) in model.NamedParameters().Where(p => p.Name.StartsWith("head"))) p.Normal_(0, 0.05, init);
        model.Eval();
        using var tokenizer = new CausalTokenizer(tokenizerConfig);
        tokenizer.Eval();
        var frames = quick ? 24 : 64;
        var (interactive, dynamicsOnly) = Interactive(model, tokenizer, data, frames);
        var batch = 16;
        var batched = Batched(model, data, batch, quick ? 8 : 16);

        var report = new BenchReport($"bench dynamics: preset {presetName} (libtorch {Torch.Version}, {threads} threads, BLAS {blasThreads})")
            .Columns("measure", "value", "detail");
        report.Row("matmul peak (1024x1024 float32)", $"{peak / 1e9:0.0} GFLOP/s", "the MFU reference, measured now");
        report.Row("interactive play, K=4, batch 1", $"{interactive:0.0} frames/s",
            $"{config.ContextFrames}-frame window through the KV cache, 4 denoising passes (the cache pass rides with the next frame's first), then tokenizer decode");
        report.Row("  of which dynamics alone", $"{dynamicsOnly:0.0} frames/s", "sampling without decoding");
        report.Row($"batched rollouts, K=4, batch {batch}", $"{batched:0.0} frames/s", "imagination throughput (latents, no decoding)");
        report.Row("training step", $"{step * 1000:0} ms", $"{training.BatchSize}x{training.SequenceLength} frames, shortcut forcing with bootstrap rows, fwd+bwd+AdamW");
        report.Row("training throughput", $"{trainFps:0.0} frames/s", $"{stepFlops / 1e9:0.00} GFLOP per step");
        report.Row("training model FLOP utilisation", $"{mfu:P1}", $"{stepFlops / step / 1e9:0.0} GFLOP/s of {peak / 1e9:0.0}");
        report.Row("parameters", $"{model.ParameterCount():N0}", $"{config.Slots} slots + {config.Transformer.Registers} registers per frame, latents {config.LatentTokens}x{config.LatentDim} packed {config.Pack}");
        report.Goal("dynamics_interactive_frames_per_second", interactive, ">=" + (presetName == "small" ? "20" : "0"));
        report.Goal("dynamics_batched_rollout_frames_per_second", batched, ">=" + (presetName == "small" ? "20" : "0"));
        report.Goal("dynamics_train_mfu_vs_matmul_peak", mfu, ">=0.2");
        report.Print();
        return Task.FromResult(0);
    }

    private static LatentSet SyntheticLatents(DynamicsConfig config, int episodes, int length)
    {
        using var generator = new Generator(7);
        using var scope = Torch.NewDisposeScope();
        var count = episodes * length;
        var z = Torch.Rand([count, config.LatentTokens, config.LatentDim], generator) * 2 - 1;
        var random = new Random(5);
        var actions = Enumerable.Range(0, count).Select(_ => (float)random.Next(6)).ToArray();
        var labeled = Enumerable.Repeat(true, count).ToArray();
        var ids = Enumerable.Range(0, count).Select(i => i / length).ToArray();
        return new LatentSet(z, actions, labeled, ids, 1);
    }

    /// <summary>Frames/s of the play loop: (sample + decode) and sample alone, batch 1, after a 4-frame context.</summary>
    private static (double Play, double Dynamics) Interactive(DynamicsModel model, CausalTokenizer tokenizer, LatentSet data, int frames)
    {
        using var noGrad = Torch.NoGrad();
        using var scope = Torch.NewDisposeScope();
        var (z, actions, labeled) = data.Gather([0], 4, Device.Cpu);
        var action = Tensor.From<float>([2f], 1, 1, 1);
        var isLabeled = Torch.Ones([1, 1], DType.Bool);
        double Run(bool decode)
        {
            using var sampler = new DynamicsSampler(model, 4, seed: 1);
            using var cache = tokenizer.NewDecoderCache();
            sampler.Observe(z, actions, labeled);
            for (var i = 0; i < 4; i++) // warm-up, and the cache fills past its window
            {
                using var s = Torch.NewDisposeScope();
                var next = sampler.Next(action, isLabeled);
                if (decode) tokenizer.Decode(next, cache);
            }
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < frames; i++)
            {
                using var s = Torch.NewDisposeScope();
                var next = sampler.Next(action, isLabeled);
                if (decode) tokenizer.Decode(next, cache);
            }
            return frames / clock.Elapsed.TotalSeconds;
        }
        return (Run(decode: true), Run(decode: false));
    }

    private static double Batched(DynamicsModel model, LatentSet data, int batch, int horizon)
    {
        using var noGrad = Torch.NoGrad();
        using var scope = Torch.NewDisposeScope();
        var starts = Enumerable.Range(0, batch).Select(i => (i % 4) * 64 + i / 4).ToArray();
        var (z, actions, labeled) = data.Gather(starts, 4 + horizon, Device.Cpu);
        using var sampler = new DynamicsSampler(model, 4, seed: 2);
        sampler.Rollout(z.Narrow(1, 0, 4), actions.Narrow(1, 0, 4), labeled.Narrow(1, 0, 4), actions.Narrow(1, 4, 2), labeled.Narrow(1, 4, 2), 2);
        var clock = Stopwatch.StartNew();
        sampler.Rollout(z.Narrow(1, 0, 4), actions.Narrow(1, 0, 4), labeled.Narrow(1, 0, 4), actions.Narrow(1, 4, horizon), labeled.Narrow(1, 4, horizon), horizon);
        return batch * horizon / clock.Elapsed.TotalSeconds;
    }
}
