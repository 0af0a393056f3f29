using System.Diagnostics;
using Dreamer.Torch;
using Dreamer.Hosting;
using Dreamer.Stages.TrainDynamics;
using Dreamer.WorldModel;

namespace Dreamer.Bench;

using Torch = Dreamer.Torch.Torch;

/// <summary>
/// `./dreamer bench scroll [--quick] [--preset tiny|small|base] [--threads N] [--points N] [--walk mixed|horizontal|right|drift]
/// [--set TrainDynamics:Key=Value ...]`: can the dynamics preset learn a scrolling view? A synthetic world of latents (the small
/// tokenizer's grid of 16-value latents, 5 x 10 since it has 50; 4 x 8 before, with 32; cut from a fixed random field that wraps around) moves by
/// one latent per move action and stays put otherwise, so after a clean context the next frame is a copy or a one-latent
/// shift, given the action. The preset trains on it as train-dynamics would; every quarter of the run (quick: 200 steps,
/// else 1000; --points N: every 1/N) the frame after 9 clean frames is predicted in one step from pure noise, and its error
/// is set against copying the last frame and against the field's variance (what predicting the mean scores). `--set` takes
/// the train-dynamics stage's keys (TrainDynamics:Steps, TrainDynamics:Device=cuda, TrainDynamics:Model:PreviousInput, ...);
/// `--walk` picks controls: horizontal (left and right only), right (rightwards only) and drift (always rightwards, so no
/// action is needed).
/// </summary>
public static class ScrollBench
{
    const int Dim = 16, FieldSide = 48, Context = 9;
    static readonly int Rows = TokenizerPresets.Small.Model.LatentGridShape.Rows, Cols = TokenizerPresets.Small.Model.LatentGridShape.Cols;

    public static Task<int> RunAsync(string[] args)
    {
        if (ModelBenchOptions.Parse("scroll", args, DynamicsPresets.Names, defaultThreads: 1) is not { } options) return Task.FromResult(2);
        TrainDynamicsSection section;
        int points;
        string walk;
        try
        {
            section = options.DynamicsSection(args, $"TrainDynamics:Steps={(options.Quick ? 200 : 1000)}");
            if (section.DeviceProblem() is { } problem) throw new StageInputException(problem);
            // Measured at every 1/points of the run (--points, default 4).
            var pointsArg = ModelBenchOptions.Value(args, "--points");
            points = 4;
            if (pointsArg != null && !(int.TryParse(pointsArg, out points) && points > 0))
                throw new ArgumentException($"--points {pointsArg}: expected a positive whole number");
            // --walk: mixed (the bench: half the steps a move in one of four directions), horizontal (left or right), right (one
            // direction, still gated by the action) or drift (always right: no action needed); the view wraps around the field.
            walk = ModelBenchOptions.Value(args, "--walk") ?? "mixed";
            if (walk is not ("mixed" or "horizontal" or "right" or "drift"))
                throw new ArgumentException($"--walk {walk}: expected mixed, horizontal, right or drift");
        }
        catch (Exception e) when (e is StageInputException or ArgumentException)
        {
            Console.Error.WriteLine($"bench scroll: {e.Message}");
            return Task.FromResult(2);
        }
        var (resolved, training) = section.Resolve(Rows * Cols, Dim, Cols);
        var config = resolved with { ContextNoise = 0 };
        var steps = training.Steps;
        var device = Device.Parse(section.Device);
        Torch.DeterministicAlgorithms = section.Deterministic;
        var field = Field(new Random(5));
        using var train = Walks(field, 60, 200, seed: 1, walk);
        using var validation = Walks(field, 128, Context + 1, seed: 2, walk);
        IReadOnlyList<ActionComponentSpec> space = [new ActionComponentSpec("command", ActionKind.Categorical, ["noop", "left", "right", "up", "down"])];
        Console.Error.WriteLine($"bench scroll: preset {options.Preset}, {steps} steps of {training.BatchSize}x{training.SequenceLength} frames on {device}, {options.Threads} threads");
        using var trainer = new DynamicsTrainer(config, space, training, train, (ulong)section.Seed, device);
        var variance = field.Select(v => (double)v * v).Average() - Math.Pow(field.Average(v => (double)v), 2);

        var report = new BenchReport($"bench scroll: one-step latent MSE after a clean context, preset {options.Preset} (field variance {variance:0.000})")
            .Columns("step", "seconds", "move: model", "move: shuffled actions", "move: copy", "still: model", "still: shuffled actions",
                "move: left / right / up / down");
        var clock = Stopwatch.StartNew();
        var last = Measure(trainer.Model, validation);
        Row(0, last);
        while (!trainer.Done)
        {
            var step = trainer.TrainStep().Step;
            // Each time the run passes another 1/points of its steps (also when points does not divide them).
            if (step * points / steps == (step - 1) * points / steps) continue;
            // The raw weights: what the optimiser has reached (the preset's weight average trails them early in a run).
            last = Measure(trainer.Model, validation);
            Row(step, last);
        }
        // A model that reads its action and the last frame predicts 7 of 8 latents of a move exactly, and a still frame entirely.
        report.Goal("scroll_move_error_vs_mean", last.Move / variance, "<=0.5");
        report.Goal("scroll_still_error_vs_mean", last.Still / variance, "<=0.1");
        report.Print();
        return Task.FromResult(0);

        void Row(long step, Probe p)
        {
            string[] cells = [$"{step}", $"{clock.Elapsed.TotalSeconds:0}", $"{p.Move:0.0000}", $"{p.MoveShuffled:0.0000}",
                $"{p.MoveCopy:0.0000}", $"{p.Still:0.0000}", $"{p.StillShuffled:0.0000}", string.Join(" / ", p.ByDirection.Select(e => double.IsNaN(e) ? "-" : $"{e:0.000}"))];
            report.Row(cells);
            // As it goes too: a long run shows its curve before the table.
            Console.Error.WriteLine("bench scroll: " + string.Join("  ", cells));
        }
    }

    private static float[] Field(Random random)
    {
        var field = new float[FieldSide * FieldSide * Dim];
        for (var i = 0; i < field.Length; i++) field[i] = (float)(random.NextDouble() * 1.6 - 0.8);
        return field;
    }

    /// <summary>Episodes of a view walking the field: half the steps a move (left, right, up, down by one latent), half noop.</summary>
    private static LatentSet Walks(float[] field, int episodes, int length, int seed, string walk)
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
                    for (var c = 0; c < Cols; c++)
                        Array.Copy(field, ((y + r) % FieldSide * FieldSide + (x + c) % FieldSide) * Dim, z, ((row * Rows + r) * Cols + c) * Dim, Dim);
                var action = walk switch
                {
                    "drift" => 2,
                    "right" => random.NextDouble() < 0.5 ? 0 : 2,
                    "horizontal" => random.NextDouble() < 0.5 ? 0 : 1 + random.Next(2),
                    _ => random.NextDouble() < 0.5 ? 0 : 1 + random.Next(4),
                };
                actions[row] = action;
                if (action == 1) x = (x + FieldSide - 1) % FieldSide;
                if (action == 2) x = (x + 1) % FieldSide;
                if (action == 3) y = (y + FieldSide - 1) % FieldSide;
                if (action == 4) y = (y + 1) % FieldSide;
            }
        }
        return new LatentSet(Tensor.From<float>(z.AsSpan(), n, Rows * Cols, Dim), actions, labeled, ids, 1);
    }

    private readonly record struct Probe(double Move, double MoveShuffled, double MoveCopy, double Still, double StillShuffled, double[] ByDirection);

    /// <summary>The last frame of every validation episode from pure noise in one step, after its clean context.</summary>
    private static Probe Measure(DynamicsModel model, LatentSet validation)
    {
        using var scope = Torch.NewDisposeScope();
        using var noGrad = Torch.NoGrad();
        var wasTraining = model.Training;
        model.Eval();
        var starts = validation.WindowStarts(Context + 1, Context + 1);
        var device = model.Parameters().First().Device;
        var (z, actions, labeled) = validation.Gather(starts, Context + 1, device);
        var b = starts.Length;
        var signal = Torch.Cat([Torch.Full([b, Context], model.Config.ContextSignal, DType.Int64), Torch.Full([b, 1], 0, DType.Int64)], 1).To(device);
        var step = Torch.Full([b, Context + 1], DynamicsConfig.Log2(model.Config.KMax), DType.Int64).To(device);
        using var generator = new Generator(3);
        var noisy = Torch.Cat([z.Narrow(1, 0, Context), Torch.Randn([b, 1, Rows * Cols, Dim], generator, DType.Float32, Device.Cpu).To(device)], 1);
        var truth = z.Narrow(1, Context, 1);
        float[] Error(Tensor predicted) => (predicted - truth).Square().Mean(new long[] { 1, 2, 3 }).ToArray<float>();
        var own = Error(model.Forward(noisy, signal, step, actions, labeled).Narrow(1, Context, 1));
        var shuffled = Error(model.Forward(noisy, signal, step, actions.Roll(1, 0), labeled).Narrow(1, Context, 1));
        var copy = Error(z.Narrow(1, Context - 1, 1));
        var action = actions.Narrow(1, Context, 1).Flatten().ToArray<float>();
        double Mean(float[] v, Func<float, bool> which)
        {
            var picked = Enumerable.Range(0, b).Where(i => which(action[i])).Select(i => (double)v[i]).ToArray();
            return picked.Length == 0 ? double.NaN : picked.Average();
        }
        if (wasTraining) model.Train();
        bool Move(float a) => a >= 1;
        bool Still(float a) => a < 1;
        return new Probe(Mean(own, Move), Mean(shuffled, Move), Mean(copy, Move), Mean(own, Still), Mean(shuffled, Still),
            [.. Enumerable.Range(1, 4).Select(d => Mean(own, a => (int)a == d))]);
    }
}
