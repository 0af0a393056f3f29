namespace Dreamer.Torch.Optim;

/// <summary>
/// AdamW with decoupled weight decay and bias correction, numerically identical to
/// torch.optim.AdamW (single-tensor path, amsgrad off). State per parameter: step, exp_avg, exp_avg_sq.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly List<ParamState> _params = [];

    private sealed class ParamState(string name, Tensor param)
    {
        public readonly string Name = name;
        public readonly Tensor Param = param;
        public Tensor? ExpAvg;
        public Tensor? ExpAvgSq;
        public long Step;
    }

    public AdamW(IEnumerable<(string Name, Tensor Parameter)> parameters, double lr = 1e-3, double beta1 = 0.9,
        double beta2 = 0.999, double eps = 1e-8, double weightDecay = 1e-2)
    {
        foreach (var (n, p) in parameters)
        {
            if (_params.Exists(s => s.Name == n)) throw new ArgumentException($"duplicate parameter name '{n}'");
            _params.Add(new ParamState(n, p));
        }
        LearningRate = lr;
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        WeightDecay = weightDecay;
    }

    public AdamW(NN.Module module, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 1e-2)
        : this(module.NamedParameters(), lr, beta1, beta2, eps, weightDecay) { }

    /// <summary>Current learning rate (set it from a schedule before Step).</summary>
    public double LearningRate { get; set; }
    public double Beta1 { get; set; }
    public double Beta2 { get; set; }
    public double Eps { get; set; }
    public double WeightDecay { get; set; }

    public IEnumerable<Tensor> Parameters => _params.Select(p => p.Param);

    /// <summary>Updates every parameter that has a gradient.</summary>
    public unsafe void Step()
    {
        foreach (var s in _params)
        {
            var p = s.Param;
            nint g;
            Native.Check(Native.dt_grad(p.Handle, &g));
            if (g == 0) continue;
            try
            {
                if (s.ExpAvg == null)
                {
                    s.ExpAvg = Torch.ZerosLike(p).DetachFromScopes();
                    s.ExpAvgSq = Torch.ZerosLike(p).DetachFromScopes();
                }
                s.Step++;
                Native.Check(Native.dt_adamw_step(p.Handle, g, s.ExpAvg.Handle, s.ExpAvgSq!.Handle,
                    LearningRate, Beta1, Beta2, Eps, WeightDecay, s.Step));
            }
            finally
            {
                Native.dt_free(g);
            }
            GC.KeepAlive(p);
        }
    }

    /// <summary>Clears all parameter gradients (set to none, like zero_grad(set_to_none=True)).</summary>
    public void ZeroGrad()
    {
        foreach (var s in _params) s.Param.Grad = null;
    }

    /// <summary>
    /// State as named tensors: "&lt;param&gt;.exp_avg", "&lt;param&gt;.exp_avg_sq" and "&lt;param&gt;.step" (int64 scalar),
    /// for parameters that have taken a step. The tensors are copies owned by the caller.
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var s in _params)
        {
            if (s.ExpAvg == null) continue;
            d[s.Name + ".exp_avg"] = s.ExpAvg.Detach().Clone();
            d[s.Name + ".exp_avg_sq"] = s.ExpAvgSq!.Detach().Clone();
            d[s.Name + ".step"] = Tensor.From<long>([s.Step], []);
        }
        return d;
    }

    /// <summary>Restores state written by <see cref="StateDict"/>; unknown keys are errors.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        var byName = _params.ToDictionary(p => p.Name, StringComparer.Ordinal);
        foreach (var key in state.Keys)
        {
            var dot = key.LastIndexOf('.');
            var ok = dot > 0 && byName.ContainsKey(key[..dot]) && key[(dot + 1)..] is "exp_avg" or "exp_avg_sq" or "step";
            if (!ok) throw new ArgumentException($"unexpected optimizer state key '{key}'");
        }
        using var noGrad = Torch.NoGrad();
        foreach (var s in _params)
        {
            var has = state.TryGetValue(s.Name + ".exp_avg", out var m);
            if (!has) continue;
            if (!state.TryGetValue(s.Name + ".exp_avg_sq", out var v) || !state.TryGetValue(s.Name + ".step", out var step))
                throw new ArgumentException($"incomplete optimizer state for '{s.Name}'");
            var ps = s.Param.Shape;
            if (!ps.AsSpan().SequenceEqual(m!.Shape) || !ps.AsSpan().SequenceEqual(v.Shape))
                throw new ArgumentException($"optimizer state shape mismatch for '{s.Name}': parameter {Tensor.ShapeString(ps)}, exp_avg {Tensor.ShapeString(m.Shape)}");
            s.ExpAvg ??= Torch.ZerosLike(s.Param).DetachFromScopes();
            s.ExpAvgSq ??= Torch.ZerosLike(s.Param).DetachFromScopes();
            s.ExpAvg.CopyFrom_(m);
            s.ExpAvgSq.CopyFrom_(v);
            s.Step = (long)step.ToDouble();
        }
    }

    public void Dispose()
    {
        foreach (var s in _params)
        {
            s.ExpAvg?.Dispose();
            s.ExpAvgSq?.Dispose();
            s.ExpAvg = s.ExpAvgSq = null;
        }
    }
}

/// <summary>Gradient utilities.</summary>
public static class GradClip
{
    /// <summary>
    /// Scales gradients so their global L2 norm is at most maxNorm (as torch.nn.utils.clip_grad_norm_);
    /// returns the norm before clipping.
    /// </summary>
    public static unsafe double ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        var ps = parameters as Tensor[] ?? parameters.ToArray();
        var handles = new nint[ps.Length];
        for (var i = 0; i < ps.Length; i++) handles[i] = ps[i].Handle;
        double total;
        fixed (nint* h = handles) Native.Check(Native.dt_clip_grad_norm(h, handles.Length, maxNorm, &total));
        GC.KeepAlive(ps);
        return total;
    }
}

/// <summary>A learning-rate schedule: step (0-based) to learning rate.</summary>
public abstract class LrSchedule
{
    public abstract double At(long step);

    /// <summary>Linear warmup from 0 to peak over warmupSteps, then cosine decay to minLr at totalSteps.</summary>
    public static LrSchedule WarmupCosine(double peakLr, long warmupSteps, long totalSteps, double minLr = 0) =>
        new Warmup(peakLr, warmupSteps, totalSteps, minLr, cosine: true);

    /// <summary>Linear warmup from 0 to peak over warmupSteps, then linear decay to minLr at totalSteps.</summary>
    public static LrSchedule WarmupLinear(double peakLr, long warmupSteps, long totalSteps, double minLr = 0) =>
        new Warmup(peakLr, warmupSteps, totalSteps, minLr, cosine: false);

    private sealed class Warmup : LrSchedule
    {
        private readonly double _peak, _min;
        private readonly long _warmup, _total;
        private readonly bool _cosine;

        public Warmup(double peak, long warmup, long total, double min, bool cosine)
        {
            if (warmup < 0 || total < warmup) throw new ArgumentException($"need 0 <= warmup ({warmup}) <= total ({total})");
            (_peak, _warmup, _total, _min, _cosine) = (peak, warmup, total, min, cosine);
        }

        public override double At(long step)
        {
            // (step + 1) / warmup so the very first step already moves the weights.
            if (step < _warmup) return _peak * (step + 1) / _warmup;
            if (step >= _total) return _min;
            var span = Math.Max(1, _total - _warmup);
            var progress = (double)(step - _warmup) / span;
            var factor = _cosine ? 0.5 * (1 + Math.Cos(Math.PI * progress)) : 1 - progress;
            return _min + (_peak - _min) * factor;
        }
    }
}
