using Dreamer.Torch.NN;

namespace Dreamer.Torch.Tests;

/// <summary>Finite-difference gradient checks in float64 for every differentiable op family.</summary>
public class GradCheckTests
{
    /// <summary>
    /// Compares autograd's gradient of sum(f(inputs) * w) (w random, fixed) with central differences
    /// perturbing every input element.
    /// </summary>
    internal static void Check(Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        using var scope = Torch.NewDisposeScope();
        foreach (var x in inputs)
        {
            Assert.Equal(DType.Float64, x.DType);
            x.RequiresGrad = true;
            x.Grad = null;
        }
        var y = f(inputs);
        using var gen = new Generator(99);
        var w = Torch.Randn(y.Shape, gen, DType.Float64);
        (y * w).Sum().Backward();
        const double h = 1e-6;
        for (var k = 0; k < inputs.Length; k++)
        {
            var x = inputs[k];
            var analytic = x.Grad?.ToArray<double>() ?? new double[x.NumEl];
            var data = x.AsSpan<double>();
            using var noGrad = Torch.NoGrad();
            for (var j = 0; j < data.Length; j++)
            {
                var orig = data[j];
                data[j] = orig + h;
                var fp = Eval(f, inputs, w);
                data[j] = orig - h;
                var fm = Eval(f, inputs, w);
                data[j] = orig;
                var numeric = (fp - fm) / (2 * h);
                var tol = 1e-6 + 1e-5 * Math.Abs(numeric);
                Assert.True(Math.Abs(numeric - analytic[j]) <= tol,
                    $"input {k} element {j}: autograd {analytic[j]:G10}, finite difference {numeric:G10}");
            }
        }
    }

    private static double Eval(Func<Tensor[], Tensor> f, Tensor[] inputs, Tensor w)
    {
        using var s = Torch.NewDisposeScope();
        return (f(inputs) * w).Sum().ToDouble();
    }

    private static Tensor R(params long[] shape) => Torch.Randn(shape, s_gen, DType.Float64).DetachFromScopes();

    // Values away from 0 for ops with kinks (abs, relu, clamp, sign) and positive for log/sqrt.
    private static Tensor Pos(params long[] shape)
    {
        using var r = Torch.Rand(shape, s_gen, DType.Float64);
        return (r + 0.5).DetachFromScopes();
    }

    private static Tensor AwayFromZero(params long[] shape)
    {
        using var scope = Torch.NewDisposeScope();
        var r = Torch.Rand(shape, s_gen, DType.Float64) + 0.2;
        var sign = Torch.Randint(0, 2, shape, s_gen).To(DType.Float64) * 2.0 - 1.0;
        return scope.Keep(r * sign);
    }

    private static readonly Generator s_gen = new(2024);

    [Fact]
    public void CheckerDetectsAWrongGradient()
    {
        // Detach hides half of d(x^2)/dx from autograd: the checker must notice.
        lock (s_gen)
            Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => Check(x => x[0] * x[0].Detach(), R(3)));
    }

    [Fact]
    public void ElementwiseUnary()
    {
        lock (s_gen)
        {
            Check(x => x[0].Exp(), R(2, 3));
            Check(x => x[0].Log(), Pos(2, 3));
            Check(x => x[0].Log1p(), Pos(5));
            Check(x => x[0].Sqrt(), Pos(2, 3));
            Check(x => x[0].Rsqrt(), Pos(2, 3));
            Check(x => x[0].Pow(3.0), R(4));
            Check(x => x[0].Square(), R(4));
            Check(x => x[0].Abs(), AwayFromZero(6));
            Check(x => x[0].Tanh(), R(2, 3));
            Check(x => x[0].Sigmoid(), R(2, 3));
            Check(x => x[0].Silu(), R(2, 3));
            Check(x => x[0].Gelu(), R(2, 3));
            Check(x => x[0].Gelu("tanh"), R(2, 3));
            Check(x => x[0].Relu(), AwayFromZero(6));
            Check(x => x[0].Softplus(), R(5));
            Check(x => x[0].Sin() + x[0].Cos(), R(5));
            Check(x => x[0].Clamp(-0.1, 0.1), AwayFromZero(6));
            Check(x => -x[0] * x[0].Sign(), AwayFromZero(6));
            Check(x => x[0].Reciprocal(), Pos(4));
            Check(x => 1.0 / x[0] - 2.0, Pos(4));
        }
    }

    [Fact]
    public void BinaryWithBroadcasting()
    {
        lock (s_gen)
        {
            Check(x => x[0] + x[1], R(2, 3), R(3));
            Check(x => x[0] - x[1], R(2, 1), R(1, 3));
            Check(x => x[0] * x[1], R(2, 3), R(2, 1));
            Check(x => x[0] / x[1], R(3, 2), Pos(2));
            Check(x => x[0].Pow(x[1]), Pos(2, 2), R(2));
            Check(x => x[0].Maximum(x[1]), R(4), R(4) + 5.0);
            Check(x => (x[0] * 3.0 + 1.0) * (2.0 - x[1]), R(3), R(3));
        }
    }

    [Fact]
    public void Reductions()
    {
        lock (s_gen)
        {
            Check(x => x[0].Sum(), R(2, 3));
            Check(x => x[0].Sum(1, keepDim: true), R(2, 3));
            Check(x => x[0].Mean([0, 2]), R(2, 3, 2));
            Check(x => x[0].Var(1), R(3, 4));
            Check(x => x[0].Std([1], keepDim: true), R(3, 4));
            Check(x => x[0].Max(1).Values, R(3, 4));
            Check(x => x[0].Amax(0), R(3, 4));
            Check(x => x[0].Min(), R(5));
            Check(x => x[0].Norm(1), R(3, 4));
            Check(x => x[0].Prod(), Pos(4));
            Check(x => x[0].CumSum(1), R(2, 4));
        }
    }

    [Fact]
    public void MatmulBmmEinsumLinear()
    {
        lock (s_gen)
        {
            Check(x => x[0].MatMul(x[1]), R(3, 4), R(4, 2));
            Check(x => x[0].MatMul(x[1]), R(2, 3, 4), R(4, 2));
            Check(x => x[0].Bmm(x[1]), R(2, 3, 4), R(2, 4, 2));
            Check(x => Torch.Einsum("bij,bjk->bik", x[0], x[1]), R(2, 2, 3), R(2, 3, 2));
            Check(x => Torch.Einsum("ij,ij->i", x[0], x[1]), R(3, 4), R(3, 4));
            Check(x => Tensor.Linear(x[0], x[1], x[2]), R(2, 3), R(4, 3), R(4));
        }
    }

    [Fact]
    public void SoftmaxFamily()
    {
        lock (s_gen)
        {
            Check(x => x[0].Softmax(-1), R(2, 5));
            Check(x => x[0].LogSoftmax(0), R(3, 4));
            Check(x => x[0].LogSumExp(1), R(3, 4));
            Check(x => x[0].LogSumExp([0, 1], keepDim: true), R(3, 4));
            var target = Torch.From(new long[] { 1, 0, 3 }).DetachFromScopes();
            Check(x => Torch.CrossEntropy(x[0], target), R(3, 4));
            Check(x => Torch.MseLoss(x[0], x[1]), R(3, 4), R(3, 4));
        }
    }

    [Fact]
    public void ShapeOps()
    {
        lock (s_gen)
        {
            var idx = Torch.From(new long[] { 2, 0, 1, 2, 0, 0 }, 2, 3).DetachFromScopes();
            var sel = Torch.From(new long[] { 2, 0, 2 }).DetachFromScopes();
            Check(x => x[0].Gather(1, idx), R(2, 4));
            Check(x => x[0].IndexSelect(1, sel), R(2, 4));
            Check(x => x[0].Index(sel), R(3, 2));
            Check(x => x[0].Scatter(1, Torch.From(new long[] { 3, 0, 1, 2 }, 2, 2), x[1]), R(2, 4), R(2, 2));
            Check(x => Torch.Cat([x[0], x[1]], 1), R(2, 2), R(2, 3));
            Check(x => Torch.Stack([x[0], x[1]], 0), R(2, 2), R(2, 2));
            Check(x => x[0].Permute(2, 0, 1), R(2, 3, 2));
            Check(x => x[0].Transpose(0, 1).Reshape(6), R(2, 3));
            Check(x => x[0].View(3, 2), R(2, 3));
            Check(x => x[0].Narrow(1, 1, 2), R(2, 4));
            Check(x => x[0].Slice(0, 1, null, 2), R(5, 2));
            Check(x => x[0].Unsqueeze(1).Expand(3, 4, 2), R(3, 2));
            Check(x => x[0].Repeat(2, 3), R(2, 2));
            Check(x => x[0].Flip(0).Roll(1, 1), R(3, 3));
            Check(x => x[0].Chunk(2, 1)[1], R(2, 4));
            Check(x => x[0].Split(1, 0)[0].Squeeze(0), R(2, 4));
            Check(x => x[0].Tril() + x[0].Triu(1) * 2.0, R(3, 3));
            Check(x => x[0].Contiguous().Flatten(), R(2, 3));
            Check(x => x[0].RepeatInterleave(2, 0), R(2, 3));
            Check(x => x[0].Select(1, 2), R(2, 3));
        }
    }

    [Fact]
    public void LerpWhereMaskedFill()
    {
        lock (s_gen)
        {
            var mask = Torch.From(new[] { true, false, true, false, false, true }, 2, 3).DetachFromScopes();
            Check(x => x[0].Lerp(x[1], 0.3), R(2, 3), R(2, 3));
            Check(x => x[0].Lerp(x[1], x[2]), R(2, 3), R(2, 3), R(3));
            Check(x => Torch.Where(mask, x[0], x[1]), R(2, 3), R(2, 3));
            Check(x => x[0].MaskedFill(mask, 0.5), R(2, 3));
        }
    }

    [Fact]
    public void Norms()
    {
        lock (s_gen)
        {
            using var rms = new RMSNorm(4);
            rms.To(DType.Float64);
            using (Torch.NoGrad()) rms.Weight.CopyFrom_(Pos(4));
            Check(x => rms.Forward(x[0]), R(3, 4));
            using var ln = new LayerNorm(4);
            ln.To(DType.Float64);
            Check(x => ln.Forward(x[0]), R(3, 4));
            // Gradient with respect to the norm weights themselves.
            Check(x => x[1] * (x[0] * x[0].Square().Mean(-1, keepDim: true).Add(1e-6).Rsqrt()), R(3, 4), R(4));
        }
    }

    [Fact]
    public void AttentionModule()
    {
        lock (s_gen)
        {
            using var attn = new Attention(8, 4, 2, qkNorm: true, softCap: 3.0, options: new ParamOptions(Generator: s_gen));
            attn.To(DType.Float64);
            using var rope = Rope.Create1D([0, 1, 2], 2, dtype: DType.Float64);
            using var mask = Attention.CausalMask(3);
            Check(x => attn.Forward(x[0], mask, rope), R(1, 3, 8));
            using var grid = Rope.CreateGrid(2, 2, 4, dtype: DType.Float64);
            using var attn2 = new Attention(8, 2, 1, softCap: 2.0, options: new ParamOptions(Generator: s_gen));
            attn2.To(DType.Float64);
            var custom = Torch.From(new[] { true, true, false, true, true, true, true, false, false, true, true, true, true, true, true, true }, 4, 4).DetachFromScopes();
            Check(x => attn2.Forward(x[0], custom, grid), R(2, 4, 8));
            // Gradients with respect to the projection weights themselves.
            var input = R(1, 4, 8);
            Check(_ => attn2.Forward(input, custom, grid), attn2.Wq.Weight, attn2.Wk.Weight, attn2.Wv.Weight, attn2.Wo.Weight);
            Check(_ => attn.Forward(input.Narrow(1, 0, 3), mask, rope), attn.QNorm!.Weight, attn.KNorm!.Weight);
        }
    }
}
