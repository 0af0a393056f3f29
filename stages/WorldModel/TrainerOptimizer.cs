using Dreamer.Torch;
using Dreamer.Torch.NN;
using Dreamer.Torch.Optim;

namespace Dreamer.WorldModel;

/// <summary>The optimisation settings both training configurations carry, with the same names and meaning.</summary>
public interface IOptimizerSettings
{
    int Steps { get; }
    int BatchSize { get; }
    /// <summary>Frames per training window (at most the model's ContextFrames).</summary>
    int SequenceLength { get; }
    double LearningRate { get; }
    /// <summary>Cosine decay ends at LearningRate * MinLearningRateRatio.</summary>
    double MinLearningRateRatio { get; }
    int WarmupSteps { get; }
    double WeightDecay { get; }
    double Beta1 { get; }
    double Beta2 { get; }
    double GradClip { get; }
}

public static class OptimizerSettings
{
    /// <summary>One message per bad value, each naming its key after <paramref name="prefix"/>.</summary>
    public static IEnumerable<string> Validate(IOptimizerSettings s, string prefix)
    {
        if (s.Steps < 1) yield return $"{prefix}Steps must be positive (got {s.Steps})";
        if (s.BatchSize < 1) yield return $"{prefix}BatchSize must be positive (got {s.BatchSize})";
        if (s.SequenceLength < 1) yield return $"{prefix}SequenceLength must be positive (got {s.SequenceLength})";
        if (s.LearningRate <= 0) yield return $"{prefix}LearningRate must be positive (got {s.LearningRate})";
        if (s.MinLearningRateRatio is < 0 or > 1) yield return $"{prefix}MinLearningRateRatio must lie in [0, 1] (got {s.MinLearningRateRatio})";
        if (s.WarmupSteps < 0 || s.WarmupSteps > s.Steps) yield return $"{prefix}WarmupSteps must lie in [0, Steps] (got {s.WarmupSteps})";
        if (s.WeightDecay < 0) yield return $"{prefix}WeightDecay must not be negative (got {s.WeightDecay})";
        if (s.Beta1 is < 0 or >= 1 || s.Beta2 is < 0 or >= 1) yield return $"{prefix}Beta1 and Beta2 must lie in [0, 1) (got {s.Beta1}, {s.Beta2})";
        if (s.GradClip <= 0) yield return $"{prefix}GradClip must be positive (got {s.GradClip})";
    }
}

/// <summary>
/// The optimisation both trainers use: AdamW with warmup + cosine learning rate and gradient-norm clipping.
/// Its state for a checkpoint is the AdamW moments (<see cref="StateDict"/>); the schedule is a function of the step.
/// </summary>
internal sealed class TrainerOptimizer : IDisposable
{
    private readonly Tensor[] _parameters;
    private readonly AdamW _adam;
    private readonly LrSchedule _schedule;
    private readonly double _gradClip;

    public TrainerOptimizer(Module model, IOptimizerSettings s)
    {
        _parameters = model.Parameters().ToArray();
        _adam = new AdamW(model, s.LearningRate, s.Beta1, s.Beta2, 1e-8, s.WeightDecay);
        _schedule = LrSchedule.WarmupCosine(s.LearningRate, s.WarmupSteps, s.Steps, s.LearningRate * s.MinLearningRateRatio);
        _gradClip = s.GradClip;
    }

    /// <summary>
    /// Backpropagates <paramref name="loss"/>, clips the gradient norm and updates with the learning rate of
    /// <paramref name="step"/>; a non-finite gradient norm throws <see cref="NonFiniteLossException"/> before any update.
    /// </summary>
    public (double GradNorm, double LearningRate) Step(Tensor loss, long step)
    {
        _adam.ZeroGrad();
        loss.Backward();
        var norm = GradClip.ClipGradNorm(_parameters, _gradClip);
        if (!double.IsFinite(norm)) throw new NonFiniteLossException(step, $"gradient norm {norm}");
        var lr = _schedule.At(step);
        _adam.LearningRate = lr;
        _adam.Step();
        return (norm, lr);
    }

    /// <summary>The moments (copies the caller disposes).</summary>
    public Dictionary<string, Tensor> StateDict() => _adam.StateDict();

    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state) => _adam.LoadStateDict(state);

    public void Dispose() => _adam.Dispose();
}
