using Dreamer.Torch;
using Dreamer.Torch.NN;
using Dreamer.Torch.Optim;

namespace Dreamer.WorldModel;

using Torch = Dreamer.Torch.Torch;

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
    /// <summary>Decay of the exponential moving average of the weights that evaluation and the stored model use (0: none, the raw weights).</summary>
    double WeightAverage { get; }
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
        if (s.WeightAverage is < 0 or >= 1 || double.IsNaN(s.WeightAverage)) yield return $"{prefix}WeightAverage must lie in [0, 1) (got {s.WeightAverage})";
    }
}

/// <summary>
/// The optimisation both trainers use: AdamW with warmup + cosine learning rate and gradient-norm clipping, and
/// optionally an exponential moving average of the weights (decay min(WeightAverage, (1 + step) / (10 + step)), so
/// early steps are not frozen in) for evaluation and the stored model: small batches leave the raw weights noisy.
/// Its state for a checkpoint is the AdamW moments plus the average (<see cref="StateDict"/>); the schedule is a function of the step.
/// </summary>
internal sealed class TrainerOptimizer : IDisposable
{
    private const string AveragePrefix = "weight_average:";
    private readonly Tensor[] _parameters;
    private readonly string[] _names;
    private readonly Tensor[]? _average;
    private readonly double _averageDecay;
    private readonly AdamW _adam;
    private readonly LrSchedule _schedule;
    private readonly double _gradClip;

    public TrainerOptimizer(Module model, IOptimizerSettings s)
    {
        var named = model.NamedParameters().ToArray();
        _parameters = named.Select(p => p.Parameter).ToArray();
        _names = named.Select(p => p.Name).ToArray();
        _adam = new AdamW(model, s.LearningRate, s.Beta1, s.Beta2, 1e-8, s.WeightDecay);
        _schedule = LrSchedule.WarmupCosine(s.LearningRate, s.WarmupSteps, s.Steps, s.LearningRate * s.MinLearningRateRatio);
        _gradClip = s.GradClip;
        _averageDecay = s.WeightAverage;
        if (_averageDecay > 0)
            using (Torch.NoGrad())
                _average = _parameters.Select(p => p.Detach().Clone().DetachFromScopes()).ToArray();
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
        if (_average != null)
        {
            var decay = Math.Min(_averageDecay, (1.0 + step) / (10.0 + step));
            using var noGrad = Torch.NoGrad();
            for (var i = 0; i < _average.Length; i++) _average[i].Mul_(decay).Add_(_parameters[i], 1 - decay);
        }
        return (norm, lr);
    }

    /// <summary>
    /// Puts the averaged weights into the model until disposed, then the raw ones back (no average: nothing changes).
    /// Evaluation and the stored model run inside it; training steps must not.
    /// </summary>
    public IDisposable AveragedWeights() => _average == null ? NoSwap.Instance : new Swap(_parameters, _average);

    private sealed class NoSwap : IDisposable
    {
        public static readonly NoSwap Instance = new();

        public void Dispose() { }
    }

    private sealed class Swap : IDisposable
    {
        private readonly Tensor[] _parameters;
        private readonly Tensor[] _raw;

        public Swap(Tensor[] parameters, Tensor[] average)
        {
            _parameters = parameters;
            using var noGrad = Torch.NoGrad();
            _raw = parameters.Select(p => p.Detach().Clone().DetachFromScopes()).ToArray();
            for (var i = 0; i < parameters.Length; i++) parameters[i].CopyFrom_(average[i]);
        }

        public void Dispose()
        {
            using var noGrad = Torch.NoGrad();
            for (var i = 0; i < _parameters.Length; i++)
            {
                _parameters[i].CopyFrom_(_raw[i]);
                _raw[i].Dispose();
            }
        }
    }

    /// <summary>The moments and the weight average (copies the caller disposes).</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var state = _adam.StateDict();
        if (_average != null)
            for (var i = 0; i < _average.Length; i++) state[AveragePrefix + _names[i]] = _average[i].Detach().Clone().DetachFromScopes();
        return state;
    }

    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        var moments = state.Where(kv => !kv.Key.StartsWith(AveragePrefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value);
        if (_average == null && moments.Count != state.Count)
            throw new ArgumentException("the optimizer state holds a weight average but this run keeps none (WeightAverage 0)");
        _adam.LoadStateDict(moments);
        if (_average == null) return;
        using var noGrad = Torch.NoGrad();
        for (var i = 0; i < _average.Length; i++)
        {
            if (!state.TryGetValue(AveragePrefix + _names[i], out var saved))
                throw new ArgumentException($"the optimizer state has no weight average for '{_names[i]}' (was it written with WeightAverage 0?)");
            _average[i].CopyFrom_(saved);
        }
    }

    public void Dispose()
    {
        _adam.Dispose();
        foreach (var t in _average ?? []) t.Dispose();
    }
}
