namespace Dreamer.Torch.NN;

/// <summary>
/// Rotary position embedding tables for one sequence layout. 1-D: the whole head dimension
/// rotates with one position. Axial 2-D: the first half of the head dimension rotates with the
/// row, the second half with the column (each half in rotate-half form).
/// Apply to tensors laid out [..., T, H, Dh].
/// </summary>
public sealed class Rope : IDisposable
{
    private readonly Tensor _cos;
    private readonly Tensor _sin;
    private readonly int _parts;

    private Rope(Tensor cos, Tensor sin, int parts)
    {
        _cos = cos.DetachFromScopes();
        _sin = sin.DetachFromScopes();
        _parts = parts;
    }

    public long HeadDim { get; private init; }
    public long Length { get; private init; }

    /// <summary>1-D RoPE for the given positions (one per token).</summary>
    public static Rope Create1D(ReadOnlySpan<long> positions, long headDim, double theta = 10000, DType dtype = DType.Float32, Device? device = null)
    {
        if (headDim % 2 != 0) throw new ArgumentException($"head dim {headDim} must be even for RoPE");
        var (cos, sin) = Tables([positions.ToArray()], (int)headDim, theta);
        return Build(cos, sin, positions.Length, headDim, 1, dtype, device);
    }

    /// <summary>Axial 2-D RoPE: token i sits at (rows[i], cols[i]).</summary>
    public static Rope CreateAxial(ReadOnlySpan<long> rows, ReadOnlySpan<long> cols, long headDim, double theta = 10000, DType dtype = DType.Float32, Device? device = null)
    {
        if (headDim % 4 != 0) throw new ArgumentException($"head dim {headDim} must be divisible by 4 for axial RoPE");
        if (rows.Length != cols.Length) throw new ArgumentException("rows and cols must have one entry per token");
        var (cos, sin) = Tables([rows.ToArray(), cols.ToArray()], (int)headDim / 2, theta);
        return Build(cos, sin, rows.Length, headDim, 2, dtype, device);
    }

    /// <summary>Axial positions of a row-major height x width grid.</summary>
    public static Rope CreateGrid(long height, long width, long headDim, double theta = 10000, DType dtype = DType.Float32, Device? device = null)
    {
        var rows = new long[height * width];
        var cols = new long[height * width];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = i / width;
            cols[i] = i % width;
        }
        return CreateAxial(rows, cols, headDim, theta, dtype, device);
    }

    // cos/sin [T, parts * partDim] computed in double, like the Python reference.
    private static (double[] Cos, double[] Sin) Tables(long[][] positionsPerPart, int partDim, double theta)
    {
        var t = positionsPerPart[0].Length;
        var width = partDim * positionsPerPart.Length;
        var cos = new double[t * width];
        var sin = new double[t * width];
        var half = partDim / 2;
        for (var p = 0; p < positionsPerPart.Length; p++)
            for (var i = 0; i < t; i++)
                for (var j = 0; j < half; j++)
                {
                    var invFreq = 1.0 / Math.Pow(theta, 2.0 * j / partDim);
                    var angle = positionsPerPart[p][i] * invFreq;
                    var (s, c) = Math.SinCos(angle);
                    var o = i * width + p * partDim;
                    cos[o + j] = cos[o + half + j] = c;
                    sin[o + j] = sin[o + half + j] = s;
                }
        return (cos, sin);
    }

    private static Rope Build(double[] cos, double[] sin, long t, long headDim, int parts, DType dtype, Device? device)
    {
        using var scope = Torch.NewDisposeScope();
        var dev = device ?? Device.Cpu;
        var c = Tensor.From<double>(cos, t, 1, headDim).To(dtype, dev);
        var s = Tensor.From<double>(sin, t, 1, headDim).To(dtype, dev);
        return new Rope(c, s, parts) { HeadDim = headDim, Length = t };
    }

    /// <summary>Rotates x [..., T, H, Dh].</summary>
    public Tensor Apply(Tensor x)
    {
        using var rotated = RotateHalf(x);
        using var a = x * _cos;
        using var b = rotated * _sin;
        return a + b;
    }

    private Tensor RotateHalf(Tensor x)
    {
        var pieces = x.Chunk(2 * _parts, -1);
        try
        {
            var outs = new Tensor[2 * _parts];
            for (var p = 0; p < _parts; p++)
            {
                outs[2 * p] = -pieces[2 * p + 1];
                outs[2 * p + 1] = pieces[2 * p];
            }
            var r = Torch.Cat(outs, -1);
            for (var p = 0; p < _parts; p++) outs[2 * p].Dispose();
            return r;
        }
        finally
        {
            foreach (var t in pieces) t.Dispose();
        }
    }

    public void Dispose()
    {
        _cos.Dispose();
        _sin.Dispose();
    }
}

/// <summary>
/// Multi-head self-attention with grouped KV heads (GQA), optional per-head QK RMSNorm, RoPE,
/// logit soft-capping cap*tanh(logits/cap) and an arbitrary boolean mask (true = may attend).
/// Uses an explicit QK^T path because soft-capping rules out fused kernels.
/// </summary>
public sealed class Attention : Module
{
    public Attention(long dim, long numHeads, long? numKvHeads = null, long? headDim = null, bool qkNorm = false,
        double? softCap = null, bool bias = false, double normEps = 1e-6, ParamOptions options = default)
    {
        NumHeads = numHeads;
        NumKvHeads = numKvHeads ?? numHeads;
        HeadDim = headDim ?? dim / numHeads;
        if (NumHeads % NumKvHeads != 0) throw new ArgumentException($"heads {NumHeads} not divisible by kv heads {NumKvHeads}");
        if (softCap is <= 0) throw new ArgumentOutOfRangeException(nameof(softCap), "soft cap must be positive");
        SoftCap = softCap;
        Wq = RegisterModule("wq", new Linear(dim, NumHeads * HeadDim, bias, options));
        Wk = RegisterModule("wk", new Linear(dim, NumKvHeads * HeadDim, bias, options));
        Wv = RegisterModule("wv", new Linear(dim, NumKvHeads * HeadDim, bias, options));
        Wo = RegisterModule("wo", new Linear(NumHeads * HeadDim, dim, bias, options));
        if (qkNorm)
        {
            QNorm = RegisterModule("q_norm", new RMSNorm(HeadDim, normEps, options));
            KNorm = RegisterModule("k_norm", new RMSNorm(HeadDim, normEps, options));
        }
    }

    public long NumHeads { get; }
    public long NumKvHeads { get; }
    public long HeadDim { get; }
    public double? SoftCap { get; }
    public Linear Wq { get; }
    public Linear Wk { get; }
    public Linear Wv { get; }
    public Linear Wo { get; }
    public RMSNorm? QNorm { get; }
    public RMSNorm? KNorm { get; }

    /// <summary>A [T, T] lower-triangular boolean mask (token i sees tokens 0..i).</summary>
    public static Tensor CausalMask(long t, Device? device = null)
    {
        using var ones = Torch.Ones([t, t], DType.Bool, device);
        return ones.Tril();
    }

    /// <summary>
    /// x [B, T, D] to [B, T, D]. mask: bool, broadcastable to [B, H, T, T]; rope: tables for T tokens.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? mask = null, Rope? rope = null)
    {
        using var scope = Torch.NewDisposeScope();
        var s = x.Shape;
        if (s.Length != 3) throw new ArgumentException($"attention expects [B, T, D], got {Tensor.ShapeString(s)}");
        long b = s[0], t = s[1], h = NumHeads, hkv = NumKvHeads, dh = HeadDim, g = h / hkv;

        var q = Wq.Forward(x).View(b, t, h, dh);
        var k = Wk.Forward(x).View(b, t, hkv, dh);
        var v = Wv.Forward(x).View(b, t, hkv, dh);
        if (QNorm != null) q = QNorm.Forward(q);
        if (KNorm != null) k = KNorm.Forward(k);
        if (rope != null)
        {
            q = rope.Apply(q);
            k = rope.Apply(k);
        }
        // Query heads grouped per KV head: [B, Hkv, G, T, Dh] against K broadcast over G (no copy of K/V).
        var q5 = q.Transpose(1, 2).Reshape(b, hkv, g, t, dh);
        var k5 = k.Transpose(1, 2).Unsqueeze(2);
        var v5 = v.Transpose(1, 2).Unsqueeze(2);
        var logits = q5.MatMul(k5.Transpose(-2, -1)) * (1.0 / Math.Sqrt(dh));
        logits = logits.View(b, h, t, t);
        if (SoftCap is { } cap) logits = (logits / cap).Tanh() * cap;
        if (mask != null) logits = logits.MaskedFill(mask.LogicalNot(), double.NegativeInfinity);
        var probs = logits.Softmax(-1).View(b, hkv, g, t, t);
        var o = probs.MatMul(v5).Reshape(b, h, t, dh).Transpose(1, 2).Reshape(b, t, h * dh);
        return scope.Keep(Wo.Forward(o));
    }
}
