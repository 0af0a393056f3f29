using System.Diagnostics;
using Dreamer.Torch;
using Dreamer.WorldModel;

namespace Dreamer.Bench;

using Torch = Dreamer.Torch.Torch;

/// <summary>
/// `./dreamer bench scroll [--quick] [--preset tiny|small|base] [--threads N]`: can the dynamics preset learn a scrolling
/// view? A synthetic world of latents (a 4 x 8 grid of 16-value latents, as the small tokenizer lays them out, cut from a
/// fixed random field) moves by one latent per move action and stays put otherwise, so after a clean context the next frame
/// is a copy or a one-latent shift, given the action. The preset trains on it as train-dynamics would; every quarter of the
/// run (quick: 200 steps, else 1000) the frame after 9 clean frames is predicted in one step from pure noise, and its error is
/// set against copying the last frame and against the field's variance (what predicting the mean scores).
/// </summary>
public static class ScrollBench
{
    const int Rows = 4, Cols = 8, Dim = 16, FieldSide = 48, Context = 9;

    public static Task<int> RunAsync(string[] args)
    {
        if (ModelBenchOptions.Parse("scroll", args, DynamicsPresets.Names, defaultThreads: 1) is not { } options) return Task.FromResult(2);
        var preset = DynamicsPresets.Get(options.Preset);
        var steps = options.Quick ? 200 : 1000;
        var field = Field(new Random(5));
        using var train = Walks(field, 60, 200, seed: 1);
        using var validation = Walks(field, 16, Context + 1, seed: 2);
        IReadOnlyList<ActionComponentSpec> space = [new ActionComponentSpec("command", ActionKind.Categorical, ["noop", "left", "right", "up", "down"])];
        var config = preset.Model with
        {
            LatentTokens = Rows * Cols, LatentDim = Dim, LatentGridCols = preset.GridPositions ? Cols : 0, ContextNoise = 0,
        };
        var training = preset.Training with { Steps = steps };
        Console.Error.WriteLine($"bench scroll: preset {options.Preset}, {steps} steps of {training.BatchSize}x{training.SequenceLength} frames, {options.Threads} threads");
        using var trainer = new DynamicsTrainer(config, space, training, train, 1);
        var variance = field.Select(v => (double)v * v).Average() - Math.Pow(field.Average(v => (double)v), 2);

        var report = new BenchReport($"bench scroll: one-step latent MSE after a clean context, preset {options.Preset} (field variance {variance:0.000})")
            .Columns("step", "seconds", "move: model", "move: shuffled actions", "move: copy", "still: model", "still: shuffled actions");
        var clock = Stopwatch.StartNew();
        var last = Measure(trainer.Model, validation);
        Row(0, last);
        while (!trainer.Done)
        {
            var step = trainer.TrainStep().Step;
            if (step * 4 % steps != 0) continue;
            // The raw weights: what the optimiser has reached (the preset's weight average trails them early in a run).
            last = Measure(trainer.Model, validation);
            Row(step, last);
        }
        // A model that reads its action and the last frame predicts 7 of 8 latents of a move exactly, and a still frame entirely.
        report.Goal("scroll_move_error_vs_mean", last.Move / variance, "<=0.5");
        report.Goal("scroll_still_error_vs_mean", last.Still / variance, "<=0.1");
        report.Print();
        return Task.FromResult(0);

        void Row(long step, Probe p) => report.Row($"{step}", $"{clock.Elapsed.TotalSeconds:0}", $"{p.Move:0.0000}", $"{p.MoveShuffled:0.0000}",
            $"{p.MoveCopy:0.0000}", $"{p.Still:0.0000}", $"{p.StillShuffled:0.0000}");
    }

    private static float[] Field(Random random)
    {
        var field = new float[FieldSide * FieldSide * Dim];
        for (var i = 0; i < field.Length; i++) field[i] = (float)(random.NextDouble() * 1.6 - 0.8);
        return field;
    }

    /// <summary>Episodes of a view walking the field: half the steps a move (left, right, up, down by one latent), half noop.</summary>
    private static LatentSet Walks(float[] field, int episodes, int length, int seed)
    {
        var random = new Random(seed);
        var n = episodes * length;
        var z = new float[n * Rows * Cols * Dim];
        var actions = new float[n];
        var labeled = new bool[n];
        var ids = new int[n];
        for (var e = 0; e < episodes; e++)
        {
            int x = random.Next(FieldSide - Cols), y = random.Next(FieldSide - Rows);
            for (var t = 0; t < length; t++)
            {
                var row = e * length + t;
                ids[row] = e;
                labeled[row] = true;
                for (var r = 0; r < Rows; r++)
                    Array.Copy(field, ((y + r) * FieldSide + x) * Dim, z, (row * Rows + r) * Cols * Dim, Cols * Dim);
                var action = random.NextDouble() < 0.5 ? 0 : 1 + random.Next(4);
                actions[row] = action;
                if (action == 1 && x > 0) x--;
                if (action == 2 && x < FieldSide - Cols) x++;
                if (action == 3 && y > 0) y--;
                if (action == 4 && y < FieldSide - Rows) y++;
            }
        }
        return new LatentSet(Tensor.From<float>(z.AsSpan(), n, Rows * Cols, Dim), actions, labeled, ids, 1);
    }

    private readonly record struct Probe(double Move, double MoveShuffled, double MoveCopy, double Still, double StillShuffled);

    /// <summary>The last frame of every validation episode from pure noise in one step, after its clean context.</summary>
    private static Probe Measure(DynamicsModel model, LatentSet validation)
    {
        using var scope = Torch.NewDisposeScope();
        using var noGrad = Torch.NoGrad();
        var wasTraining = model.Training;
        model.Eval();
        var starts = validation.WindowStarts(Context + 1, Context + 1);
        var (z, actions, labeled) = validation.Gather(starts, Context + 1, Device.Cpu);
        var b = starts.Length;
        var signal = Torch.Cat([Torch.Full([b, Context], model.Config.ContextSignal, DType.Int64), Torch.Full([b, 1], 0, DType.Int64)], 1);
        var step = Torch.Full([b, Context + 1], DynamicsConfig.Log2(model.Config.KMax), DType.Int64);
        using var generator = new Generator(3);
        var noisy = Torch.Cat([z.Narrow(1, 0, Context), Torch.Randn([b, 1, Rows * Cols, Dim], generator, DType.Float32, Device.Cpu)], 1);
        var truth = z.Narrow(1, Context, 1);
        float[] Error(Tensor predicted) => (predicted - truth).Square().Mean(new long[] { 1, 2, 3 }).ToArray<float>();
        var own = Error(model.Forward(noisy, signal, step, actions, labeled).Narrow(1, Context, 1));
        var shuffled = Error(model.Forward(noisy, signal, step, actions.Roll(1, 0), labeled).Narrow(1, Context, 1));
        var copy = Error(z.Narrow(1, Context - 1, 1));
        var move = actions.Narrow(1, Context, 1).Flatten().ToArray<float>().Select(a => a >= 1).ToArray();
        double Mean(float[] v, bool moves)
        {
            var picked = Enumerable.Range(0, b).Where(i => move[i] == moves).Select(i => (double)v[i]).ToArray();
            return picked.Length == 0 ? double.NaN : picked.Average();
        }
        if (wasTraining) model.Train();
        return new Probe(Mean(own, true), Mean(shuffled, true), Mean(copy, true), Mean(own, false), Mean(shuffled, false));
    }
}
