using Dreamer.Torch.NN;
using Dreamer.Torch.Optim;

namespace Dreamer.Torch.Tests;

public class ModuleTests
{
    private sealed class Mlp : Module
    {
        public Mlp(long d = 8, long h = 16, ParamOptions o = default)
        {
            L1 = RegisterModule("l1", new Linear(d, h, true, o));
            L2 = RegisterModule("l2", new Linear(h, d, true, o));
            Steps = RegisterBuffer("steps", Torch.Zeros([1], DType.Int64));
        }

        public Linear L1 { get; }
        public Linear L2 { get; }
        public Tensor Steps { get; }

        public Tensor Forward(Tensor x)
        {
            using var h = L1.Forward(x);
            using var a = h.Silu();
            return L2.Forward(a);
        }
    }

    [Fact]
    public void NamesParametersBuffersAndSubmodules()
    {
        using var m = new Mlp();
        Assert.Equal(new[] { "l1.weight", "l1.bias", "l2.weight", "l2.bias" }, m.NamedParameters().Select(p => p.Name));
        Assert.Equal(new[] { "steps" }, m.NamedBuffers().Select(b => b.Name));
        Assert.Equal(new[] { "", "l1", "l2" }, m.NamedModules().Select(x => x.Name));
        Assert.Equal(8 * 16 + 16 + 16 * 8 + 8, m.ParameterCount());
        Assert.All(m.Parameters(), p => Assert.True(p.RequiresGrad));
        Assert.Equal(5, m.StateDict().Count);
        Assert.True(m.Training);
        m.Eval();
        Assert.False(m.L1.Training);
    }

    [Fact]
    public void StateDictRoundTripsAndStrictModeNamesKeys()
    {
        using var scope = Torch.NewDisposeScope();
        using var a = new Mlp(o: new ParamOptions(Generator: new Generator(1)));
        using var b = new Mlp(o: new ParamOptions(Generator: new Generator(2)));
        var x = Torch.Randn([3, 8], new Generator(3));
        Assert.NotEqual(a.Forward(x).ToArray<float>(), b.Forward(x).ToArray<float>());
        b.LoadStateDict(a.StateDict());
        Assert.Equal(a.Forward(x).ToArray<float>(), b.Forward(x).ToArray<float>());

        var partial = a.StateDict();
        partial.Remove("l2.bias");
        partial["extra"] = x;
        var ex = Assert.Throws<ArgumentException>(() => b.LoadStateDict(partial));
        Assert.Contains("l2.bias", ex.Message);
        Assert.Contains("extra", ex.Message);
        partial.Remove("extra");
        b.LoadStateDict(partial, strict: false);

        var wrong = a.StateDict();
        wrong["l1.weight"] = Torch.Zeros([2, 2]);
        ex = Assert.Throws<ArgumentException>(() => b.LoadStateDict(wrong));
        Assert.Contains("[16, 8]", ex.Message);
        Assert.Contains("[2, 2]", ex.Message);
    }

    [Fact]
    public void ToConvertsDtypeKeepingParameterIdentity()
    {
        using var m = new Mlp();
        var w = m.L1.Weight;
        m.To(DType.Float64);
        Assert.Same(w, m.L1.Weight);
        Assert.Equal(DType.Float64, m.L1.Weight.DType);
        Assert.True(m.L1.Weight.RequiresGrad);
        Assert.Equal(DType.Int64, m.Steps.DType);
        m.To(Device.Cpu);
        using var scope = Torch.NewDisposeScope();
        Assert.Equal(DType.Float64, m.Forward(Torch.Ones([2, 8], DType.Float64)).DType);
    }

    [Fact]
    public void ParametersAreNeverScopeOwned()
    {
        Mlp m;
        using (Torch.NewDisposeScope()) m = new Mlp();
        Assert.All(m.Parameters(), p => Assert.False(p.IsDisposed));
        m.Dispose();
        Assert.All(m.Parameters(), p => Assert.True(p.IsDisposed));
    }

    [Fact]
    public void DropoutOnlyWhileTraining()
    {
        using var scope = Torch.NewDisposeScope();
        using var d = new Dropout(0.5);
        var x = Torch.Ones([1000]);
        var y = d.Forward(x).ToArray<float>();
        Assert.Contains(0f, y);
        Assert.Contains(2f, y);
        d.Eval();
        Assert.Equal(x.ToArray<float>(), d.Forward(x).ToArray<float>());
    }

    [Fact]
    public void LayersProduceExpectedShapes()
    {
        using var scope = Torch.NewDisposeScope();
        using var emb = new Embedding(10, 4);
        Assert.Equal(new long[] { 2, 3, 4 }, emb.Forward(Torch.From(new long[] { 1, 2, 3, 4, 5, 6 }, 2, 3)).Shape);
        using var mlp = new SwiGluMlp(4, 12);
        Assert.Equal(new long[] { 2, 3, 4 }, mlp.Forward(Torch.Randn([2, 3, 4])).Shape);
        using var attn = new Attention(16, 4, 1, qkNorm: true, softCap: 30);
        using var rope = Rope.CreateGrid(2, 3, 4);
        Assert.Equal(new long[] { 2, 6, 16 }, attn.Forward(Torch.Randn([2, 6, 16]), Attention.CausalMask(6), rope).Shape);
        var ln = new LayerNorm(4);
        var y = ln.Forward(Torch.Randn([5, 4]));
        Assert.True(y.Mean(-1).Abs().Max().ToDouble() < 1e-5);
        ln.Dispose();
    }

    [Fact]
    public void RopeRotatesPairsAndPreservesNorm()
    {
        using var scope = Torch.NewDisposeScope();
        using var rope = Rope.Create1D([0, 3], 4);
        var x = Torch.Randn([1, 2, 1, 4]);
        var y = rope.Apply(x);
        // Position 0 is the identity; rotations preserve the norm.
        Assert.Equal(x.Select(1, 0).ToArray<float>(), y.Select(1, 0).ToArray<float>());
        Assert.Equal(x.Norm().ToDouble(), y.Norm().ToDouble(), 5);
        // Relative property: <R(m)q, R(n)k> depends on m - n only.
        using var r2 = Rope.Create1D([5, 8], 4);
        var q = Torch.Randn([1, 1, 1, 4]).Expand(1, 2, 1, 4);
        var dot1 = (rope.Apply(q).Select(1, 0) * rope.Apply(q).Select(1, 1)).Sum().ToDouble();
        var dot2 = (r2.Apply(q).Select(1, 0) * r2.Apply(q).Select(1, 1)).Sum().ToDouble();
        Assert.Equal(dot1, dot2, 4);
    }

    [Fact]
    public void InitHelpers()
    {
        using var scope = Torch.NewDisposeScope();
        var t = Torch.Empty([200, 100]);
        Init.TruncNormal_(t, 0, 1, -2, 2, new Generator(1));
        Assert.True(t.Max().ToDouble() <= 2 && t.Min().ToDouble() >= -2);
        Assert.InRange(t.Std().ToDouble(), 0.8, 0.95);
        Init.XavierUniform_(t, 1, new Generator(2));
        Assert.True(t.Abs().Max().ToDouble() <= Math.Sqrt(6.0 / 300) + 1e-6);
        Init.XavierNormal_(t);
        Assert.InRange(t.Std().ToDouble(), 0.07, 0.093);
        Init.Normal_(t, 3, 0.5);
        Assert.InRange(t.Mean().ToDouble(), 2.95, 3.05);
        Init.Zeros_(t);
        Assert.Equal(0.0, t.Abs().Sum().ToDouble());
        Init.Ones_(t);
        Assert.Equal(20000.0, t.Sum().ToDouble());
    }
}

public class OptimTests
{
    private static (Linear Model, Tensor X, Tensor Y) Problem(ulong seed)
    {
        var g = new Generator(seed);
        var model = new Linear(4, 3, true, new ParamOptions(Generator: g));
        return (model, Torch.Randn([8, 4], g).DetachFromScopes(), Torch.Randn([8, 3], g).DetachFromScopes());
    }

    private static void TrainStep(Linear m, AdamW opt, Tensor x, Tensor y)
    {
        using var scope = Torch.NewDisposeScope();
        opt.ZeroGrad();
        Torch.MseLoss(m.Forward(x), y).Backward();
        opt.Step();
    }

    [Fact]
    public void AdamWStateDictRoundTripContinuesIdentically()
    {
        var (a, x, y) = Problem(5);
        var (b, _, _) = Problem(5);
        using var optA = new AdamW(a, lr: 0.05, weightDecay: 0.1);
        for (var i = 0; i < 3; i++) TrainStep(a, optA, x, y);
        var state = optA.StateDict();
        Assert.Equal(new[] { "bias.exp_avg", "bias.exp_avg_sq", "bias.step", "weight.exp_avg", "weight.exp_avg_sq", "weight.step" },
            state.Keys.OrderBy(k => k, StringComparer.Ordinal));

        // Through safetensors, as a checkpoint would.
        var path = Path.Combine(Path.GetTempPath(), $"adamw-{Guid.NewGuid():N}.safetensors");
        Safetensors.Save(path, state);
        b.LoadStateDict(a.StateDict());
        using var optB = new AdamW(b, lr: 0.05, weightDecay: 0.1);
        using (var f = Safetensors.Load(path)) optB.LoadStateDict(f.Tensors);
        File.Delete(path);

        for (var i = 0; i < 3; i++)
        {
            TrainStep(a, optA, x, y);
            TrainStep(b, optB, x, y);
        }
        Assert.Equal(a.Weight.ToArray<float>(), b.Weight.ToArray<float>());
        Assert.Equal(a.Bias!.ToArray<float>(), b.Bias!.ToArray<float>());
        Assert.Throws<ArgumentException>(() => optB.LoadStateDict(new Dictionary<string, Tensor> { ["nope.exp_avg"] = x }));
        foreach (var t in state.Values) t.Dispose();
        a.Dispose();
        b.Dispose();
    }

    [Fact]
    public void AdamWMatchesTheFormulaByHand()
    {
        using var scope = Torch.NewDisposeScope();
        var p = Torch.From(new double[] { 1.0, -2.0 }).RequiresGrad_();
        using var opt = new AdamW([("p", p)], lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.5);
        double[] w = [1.0, -2.0], m = [0, 0], v = [0, 0];
        for (var step = 1; step <= 3; step++)
        {
            p.Grad = null;
            (p * p).Sum().Backward();
            opt.Step();
            for (var i = 0; i < 2; i++)
            {
                var g = 2 * w[i];
                w[i] *= 1 - 0.1 * 0.5;
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.99 * v[i] + 0.01 * g * g;
                var denom = Math.Sqrt(v[i]) / Math.Sqrt(1 - Math.Pow(0.99, step)) + 1e-8;
                w[i] -= 0.1 / (1 - Math.Pow(0.9, step)) * m[i] / denom;
            }
        }
        var got = p.ToArray<double>();
        Assert.Equal(w[0], got[0], 12);
        Assert.Equal(w[1], got[1], 12);
    }

    [Fact]
    public void ClipGradNormScalesToMaxNorm()
    {
        using var scope = Torch.NewDisposeScope();
        var a = Torch.Zeros([2]).RequiresGrad_();
        var b = Torch.Zeros([1]).RequiresGrad_();
        a.Grad = Torch.From(new float[] { 3, 0 });
        b.Grad = Torch.From(new float[] { 4 });
        var norm = GradClip.ClipGradNorm([a, b], 1.0);
        Assert.Equal(5.0, norm, 5);
        Assert.Equal(0.6f, a.Grad!.ToArray<float>()[0], 5);
        Assert.Equal(0.8f, b.Grad!.ToArray<float>()[0], 5);
        // Below the limit nothing changes.
        Assert.Equal(1.0, GradClip.ClipGradNorm([a, b], 10.0), 4);
        Assert.Equal(0.8f, b.Grad!.ToArray<float>()[0], 4);
    }

    [Fact]
    public void Schedules()
    {
        var cos = LrSchedule.WarmupCosine(1.0, 10, 110, 0.1);
        Assert.Equal(0.1, cos.At(0), 12);
        Assert.Equal(1.0, cos.At(9), 12);
        Assert.Equal(1.0, cos.At(10), 12);
        Assert.Equal(0.55, cos.At(60), 12);
        Assert.Equal(0.1, cos.At(110), 12);
        Assert.Equal(0.1, cos.At(1000), 12);
        var lin = LrSchedule.WarmupLinear(2.0, 0, 100);
        Assert.Equal(2.0, lin.At(0), 12);
        Assert.Equal(1.0, lin.At(50), 12);
        Assert.Equal(0.0, lin.At(100), 12);
    }
}
