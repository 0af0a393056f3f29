namespace Dreamer.Torch.NN;

/// <summary>Common options for creating layer parameters.</summary>
public readonly record struct ParamOptions(DType? DType = null, Device? Device = null, Generator? Generator = null)
{
    /// <summary>The parameter dtype (float32 unless set; default(ParamOptions) is valid).</summary>
    internal global::Dreamer.Torch.DType Type => DType ?? global::Dreamer.Torch.DType.Float32;

    internal global::Dreamer.Torch.Device Dev => Device ?? global::Dreamer.Torch.Device.Cpu;
}

/// <summary>y = x W^T + b, PyTorch's default (Kaiming-uniform) initialisation.</summary>
public sealed class Linear : Module
{
    public Linear(long inFeatures, long outFeatures, bool bias = true, ParamOptions options = default)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        var bound = 1.0 / Math.Sqrt(inFeatures);
        using var noGrad = Torch.NoGrad();
        Weight = RegisterParameter("weight",
            Torch.Empty([outFeatures, inFeatures], options.Type, options.Dev).Uniform_(-bound, bound, options.Generator));
        if (bias)
            Bias = RegisterParameter("bias", Torch.Empty([outFeatures], options.Type, options.Dev).Uniform_(-bound, bound, options.Generator));
    }

    public long InFeatures { get; }
    public long OutFeatures { get; }
    public Tensor Weight { get; }
    public Tensor? Bias { get; }

    public Tensor Forward(Tensor x) => Tensor.Linear(x, Weight, Bias);
}

/// <summary>Lookup table of vectors, initialised N(0, 1).</summary>
public sealed class Embedding : Module
{
    public Embedding(long count, long dim, ParamOptions options = default)
    {
        using var noGrad = Torch.NoGrad();
        Weight = RegisterParameter("weight", Torch.Empty([count, dim], options.Type, options.Dev).Normal_(0, 1, options.Generator));
    }

    public Tensor Weight { get; }

    /// <summary>int64 indices of any shape to vectors [..., dim].</summary>
    public Tensor Forward(Tensor indices) => Aten.Embedding.Call(Weight, indices);
}

/// <summary>x * rsqrt(mean(x^2) + eps) * weight over the last dimension (computed in float32 for half types).</summary>
public sealed class RMSNorm : Module
{
    public RMSNorm(long dim, double eps = 1e-6, ParamOptions options = default)
    {
        Eps = eps;
        Weight = RegisterParameter("weight", Torch.Ones([dim], options.Type, options.Dev));
    }

    public double Eps { get; }
    public Tensor Weight { get; }

    public Tensor Forward(Tensor x)
    {
        var dt = x.DType;
        if (dt is DType.Float16 or DType.BFloat16)
        {
            using var xf = x.To(DType.Float32);
            using var y = Normalize(xf);
            using var yc = y.To(dt);
            return yc * Weight;
        }
        using var n = Normalize(x);
        return n * Weight;
    }

    private Tensor Normalize(Tensor x)
    {
        using var sq = x.Square();
        using var ms = sq.Mean(-1, keepDim: true);
        using var eps = ms + Eps;
        using var r = eps.Rsqrt();
        return x * r;
    }
}

/// <summary>Layer normalisation over the last dimension with optional affine weight and bias.</summary>
public sealed class LayerNorm : Module
{
    public LayerNorm(long dim, double eps = 1e-5, bool affine = true, bool bias = true, ParamOptions options = default)
    {
        Dim = dim;
        Eps = eps;
        if (affine)
        {
            Weight = RegisterParameter("weight", Torch.Ones([dim], options.Type, options.Dev));
            if (bias) Bias = RegisterParameter("bias", Torch.Zeros([dim], options.Type, options.Dev));
        }
    }

    public long Dim { get; }
    public double Eps { get; }
    public Tensor? Weight { get; }
    public Tensor? Bias { get; }

    public Tensor Forward(Tensor x) => Aten.LayerNorm.Call(x, new[] { Dim }, Weight, Bias, Eps);
}

/// <summary>Zeroes elements with probability p while training (scaling the rest by 1/(1-p)).</summary>
public sealed class Dropout : Module
{
    public Dropout(double p) => P = p is >= 0 and < 1 ? p : throw new ArgumentOutOfRangeException(nameof(p));

    public double P { get; }

    public Tensor Forward(Tensor x) => Training && P > 0 ? Aten.Dropout.Call(x, P, true) : x.Alias();
}

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) * up(x)).</summary>
public sealed class SwiGluMlp : Module
{
    public SwiGluMlp(long dim, long hidden, bool bias = false, ParamOptions options = default)
    {
        Gate = RegisterModule("gate", new Linear(dim, hidden, bias, options));
        Up = RegisterModule("up", new Linear(dim, hidden, bias, options));
        Down = RegisterModule("down", new Linear(hidden, dim, bias, options));
    }

    public Linear Gate { get; }
    public Linear Up { get; }
    public Linear Down { get; }

    public Tensor Forward(Tensor x)
    {
        using var g = Gate.Forward(x);
        using var a = g.Silu();
        using var u = Up.Forward(x);
        using var h = a * u;
        return Down.Forward(h);
    }
}

/// <summary>Parameter initialisers (in place, without autograd recording).</summary>
public static class Init
{
    public static Tensor Zeros_(Tensor t)
    {
        using var _ = Torch.NoGrad();
        return t.Zero_();
    }

    public static Tensor Ones_(Tensor t)
    {
        using var _ = Torch.NoGrad();
        return t.Fill_(1);
    }

    public static Tensor Constant_(Tensor t, double value)
    {
        using var _ = Torch.NoGrad();
        return t.Fill_(value);
    }

    public static Tensor Normal_(Tensor t, double mean = 0, double std = 1, Generator? generator = null)
    {
        using var _ = Torch.NoGrad();
        return t.Normal_(mean, std, generator);
    }

    public static Tensor Uniform_(Tensor t, double from = 0, double to = 1, Generator? generator = null)
    {
        using var _ = Torch.NoGrad();
        return t.Uniform_(from, to, generator);
    }

    /// <summary>Normal(mean, std) truncated to [a, b], by inverse CDF as torch.nn.init.trunc_normal_.</summary>
    public static Tensor TruncNormal_(Tensor t, double mean = 0, double std = 1, double a = -2, double b = 2, Generator? generator = null)
    {
        using var _ = Torch.NoGrad();
        static double Cdf(double x) => (1 + Erf(x / Math.Sqrt(2))) / 2;
        var l = Cdf((a - mean) / std);
        var u = Cdf((b - mean) / std);
        t.Uniform_(2 * l - 1, 2 * u - 1, generator);
        t.Erfinv_();
        t.Mul_(std * Math.Sqrt(2));
        t.Add_(mean);
        return t.Clamp_(a, b);
    }

    /// <summary>Glorot uniform for a [fanOut, fanIn, ...] weight.</summary>
    public static Tensor XavierUniform_(Tensor t, double gain = 1, Generator? generator = null)
    {
        var (fanIn, fanOut) = Fans(t);
        var bound = gain * Math.Sqrt(6.0 / (fanIn + fanOut));
        return Uniform_(t, -bound, bound, generator);
    }

    public static Tensor XavierNormal_(Tensor t, double gain = 1, Generator? generator = null)
    {
        var (fanIn, fanOut) = Fans(t);
        return Normal_(t, 0, gain * Math.Sqrt(2.0 / (fanIn + fanOut)), generator);
    }

    private static (double FanIn, double FanOut) Fans(Tensor t)
    {
        var s = t.Shape;
        if (s.Length < 2) throw new ArgumentException($"fan in/out needs at least 2 dims, got {Tensor.ShapeString(s)}");
        long receptive = 1;
        for (var i = 2; i < s.Length; i++) receptive *= s[i];
        return (s[1] * receptive, s[0] * receptive);
    }

    // Abramowitz-Stegun 7.1.26 is too coarse for init bounds; use erf via series/continued fraction.
    private static double Erf(double x)
    {
        if (x < 0) return -Erf(-x);
        if (x < 3)
        {
            // Maclaurin series, converges quickly for |x| < 3.
            double sum = x, term = x, x2 = x * x;
            for (var n = 1; n < 100; n++)
            {
                term *= -x2 / n;
                var add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17) break;
            }
            return 2 / Math.Sqrt(Math.PI) * sum;
        }
        // erfc continued fraction for large x.
        double f = 0;
        for (var k = 60; k >= 1; k--) f = k / 2.0 / (x + f);
        return 1 - Math.Exp(-x * x) / Math.Sqrt(Math.PI) / (x + f);
    }
}
