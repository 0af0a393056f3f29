namespace Dreamer.Torch;

/// <summary>Cached ATen operator handles used by the tensor API (looked up once per process).</summary>
internal static class Aten
{
    public static readonly Op Arange = new("aten::arange", "start_step");
    public static readonly Op Rand = new("aten::rand", "generator");
    public static readonly Op Randn = new("aten::randn", "generator");
    public static readonly Op Randint = new("aten::randint", "low_generator");
    public static readonly Op ZerosLike = new("aten::zeros_like");
    public static readonly Op OnesLike = new("aten::ones_like");
    public static readonly Op FullLike = new("aten::full_like");
    public static readonly Op RandLike = new("aten::rand_like");
    public static readonly Op RandnLike = new("aten::randn_like");
    public static readonly Op Eye = new("aten::eye");
    public static readonly Op Linspace = new("aten::linspace");

    public static readonly Op Reshape = new("aten::reshape");
    public static readonly Op View = new("aten::view");
    public static readonly Op Permute = new("aten::permute");
    public static readonly Op Transpose = new("aten::transpose", "int");
    public static readonly Op Contiguous = new("aten::contiguous");
    public static readonly Op Narrow = new("aten::narrow");
    public static readonly Op ConstantPad = new("aten::constant_pad_nd");
    public static readonly Op Slice = new("aten::slice", "Tensor");
    public static readonly Op Select = new("aten::select", "int");
    public static readonly Op IndexSelect = new("aten::index_select");
    public static readonly Op Index = new("aten::index", "Tensor");
    public static readonly Op IndexPut_ = new("aten::index_put_");
    public static readonly Op IndexAdd = new("aten::index_add");
    public static readonly Op Gather = new("aten::gather");
    public static readonly Op Scatter = new("aten::scatter", "src");
    public static readonly Op ScatterValue = new("aten::scatter", "value");
    public static readonly Op ScatterAdd = new("aten::scatter_add");
    public static readonly Op Cat = new("aten::cat");
    public static readonly Op Stack = new("aten::stack");
    public static readonly Op Chunk = new("aten::chunk");
    public static readonly Op Split = new("aten::split", "Tensor");
    public static readonly Op SplitSizes = new("aten::split_with_sizes");
    public static readonly Op Unbind = new("aten::unbind", "int");
    public static readonly Op Unsqueeze = new("aten::unsqueeze");
    public static readonly Op Squeeze = new("aten::squeeze");
    public static readonly Op SqueezeDim = new("aten::squeeze", "dim");
    public static readonly Op Expand = new("aten::expand");
    public static readonly Op Repeat = new("aten::repeat");
    public static readonly Op RepeatInterleave = new("aten::repeat_interleave", "self_int");
    public static readonly Op Flip = new("aten::flip");
    public static readonly Op Roll = new("aten::roll");
    public static readonly Op Flatten = new("aten::flatten", "using_ints");
    public static readonly Op MaskedFill = new("aten::masked_fill", "Scalar");
    public static readonly Op MaskedFillT = new("aten::masked_fill", "Tensor");
    public static readonly Op Where = new("aten::where", "self");
    public static readonly Op WhereScalarOther = new("aten::where", "ScalarOther");
    public static readonly Op Tril = new("aten::tril");
    public static readonly Op Triu = new("aten::triu");
    public static readonly Op Clone = new("aten::clone");

    public static readonly Op Bmm = new("aten::bmm");
    public static readonly Op Einsum = new("aten::einsum");
    public static readonly Op Exp = new("aten::exp");
    public static readonly Op Log = new("aten::log");
    public static readonly Op Log1p = new("aten::log1p");
    public static readonly Op Sqrt = new("aten::sqrt");
    public static readonly Op Rsqrt = new("aten::rsqrt");
    public static readonly Op Square = new("aten::square");
    public static readonly Op PowScalar = new("aten::pow", "Tensor_Scalar");
    public static readonly Op PowTensor = new("aten::pow", "Tensor_Tensor");
    public static readonly Op Abs = new("aten::abs");
    public static readonly Op Sign = new("aten::sign");
    public static readonly Op Clamp = new("aten::clamp");
    public static readonly Op ClampT = new("aten::clamp", "Tensor");
    public static readonly Op Tanh = new("aten::tanh");
    public static readonly Op Sigmoid = new("aten::sigmoid");
    public static readonly Op Silu = new("aten::silu");
    public static readonly Op Gelu = new("aten::gelu");
    public static readonly Op Relu = new("aten::relu");
    public static readonly Op Softplus = new("aten::softplus");
    public static readonly Op Sin = new("aten::sin");
    public static readonly Op Cos = new("aten::cos");
    public static readonly Op Erf = new("aten::erf");
    public static readonly Op Floor = new("aten::floor");
    public static readonly Op Ceil = new("aten::ceil");
    public static readonly Op Round = new("aten::round");
    public static readonly Op Reciprocal = new("aten::reciprocal");
    public static readonly Op Maximum = new("aten::maximum");
    public static readonly Op Minimum = new("aten::minimum");
    public static readonly Op Softmax = new("aten::softmax", "int");
    public static readonly Op LogSoftmax = new("aten::log_softmax", "int");
    public static readonly Op LogSumExp = new("aten::logsumexp");
    public static readonly Op SumAll = new("aten::sum");
    public static readonly Op SumDim = new("aten::sum", "dim_IntList");
    public static readonly Op MeanAll = new("aten::mean");
    public static readonly Op MeanDim = new("aten::mean", "dim");
    public static readonly Op VarDim = new("aten::var", "correction");
    public static readonly Op StdDim = new("aten::std", "correction");
    public static readonly Op MaxAll = new("aten::max");
    public static readonly Op MaxDim = new("aten::max", "dim");
    public static readonly Op MinAll = new("aten::min");
    public static readonly Op MinDim = new("aten::min", "dim");
    public static readonly Op Amax = new("aten::amax");
    public static readonly Op Amin = new("aten::amin");
    public static readonly Op ArgMax = new("aten::argmax");
    public static readonly Op ArgMin = new("aten::argmin");
    public static readonly Op Prod = new("aten::prod");
    public static readonly Op All = new("aten::all");
    public static readonly Op Any = new("aten::any");
    public static readonly Op NormDim = new("aten::norm", "ScalarOpt_dim");
    public static readonly Op NormAll = new("aten::norm", "Scalar");
    public static readonly Op CumSum = new("aten::cumsum");
    public static readonly Op OneHot = new("aten::one_hot");
    public static readonly Op LerpScalar = new("aten::lerp", "Scalar");
    public static readonly Op LerpTensor = new("aten::lerp", "Tensor");
    public static readonly Op IsFinite = new("aten::isfinite");
    public static readonly Op IsNan = new("aten::isnan");
    public static readonly Op Topk = new("aten::topk");
    public static readonly Op Sort = new("aten::sort");
    public static readonly Op Eq = new("aten::eq", "Tensor");
    public static readonly Op EqS = new("aten::eq", "Scalar");
    public static readonly Op Ne = new("aten::ne", "Tensor");
    public static readonly Op NeS = new("aten::ne", "Scalar");
    public static readonly Op Lt = new("aten::lt", "Tensor");
    public static readonly Op LtS = new("aten::lt", "Scalar");
    public static readonly Op Le = new("aten::le", "Tensor");
    public static readonly Op LeS = new("aten::le", "Scalar");
    public static readonly Op Gt = new("aten::gt", "Tensor");
    public static readonly Op GtS = new("aten::gt", "Scalar");
    public static readonly Op Ge = new("aten::ge", "Tensor");
    public static readonly Op GeS = new("aten::ge", "Scalar");
    public static readonly Op LogicalNot = new("aten::logical_not");
    public static readonly Op LogicalAnd = new("aten::logical_and");
    public static readonly Op LogicalOr = new("aten::logical_or");
    public static readonly Op RsubScalar = new("aten::rsub", "Scalar");

    public static readonly Op Multinomial = new("aten::multinomial");
    public static readonly Op Bernoulli = new("aten::bernoulli");
    public static readonly Op BernoulliP = new("aten::bernoulli", "p");
    public static readonly Op NormalTT = new("aten::normal", "Tensor_Tensor");
    public static readonly Op NormalTF = new("aten::normal", "Tensor_float");
    public static readonly Op Normal_ = new("aten::normal_");
    public static readonly Op Uniform_ = new("aten::uniform_");
    public static readonly Op Erfinv_ = new("aten::erfinv_");
    public static readonly Op Fill_ = new("aten::fill_", "Scalar");
    public static readonly Op Clamp_ = new("aten::clamp_");

    public static readonly Op Embedding = new("aten::embedding");
    public static readonly Op LayerNorm = new("aten::layer_norm");
    public static readonly Op Dropout = new("aten::dropout");
    public static readonly Op CrossEntropy = new("aten::cross_entropy_loss");
    public static readonly Op MseLoss = new("aten::mse_loss");
}

public sealed unsafe partial class Tensor
{
    // ---- hot arithmetic (direct entry points) ----

    private static Tensor Binary(int op, Tensor a, Tensor b)
    {
        nint h;
        var status = Native.dt_binary(op, a.Handle, b.Handle, &h);
        GC.KeepAlive(a);
        GC.KeepAlive(b);
        Native.Check(status);
        return new Tensor(h);
    }

    private static Tensor BinaryScalar(int op, Tensor a, double s)
    {
        nint h;
        var status = Native.dt_binary_scalar(op, a.Handle, s, &h);
        GC.KeepAlive(a);
        Native.Check(status);
        return new Tensor(h);
    }

    private static Tensor BinaryScalar(int op, Tensor a, long s)
    {
        nint h;
        var status = Native.dt_binary_scalar_i(op, a.Handle, s, &h);
        GC.KeepAlive(a);
        Native.Check(status);
        return new Tensor(h);
    }

    public static Tensor operator +(Tensor a, Tensor b) => Binary(0, a, b);
    public static Tensor operator -(Tensor a, Tensor b) => Binary(1, a, b);
    public static Tensor operator *(Tensor a, Tensor b) => Binary(2, a, b);
    public static Tensor operator /(Tensor a, Tensor b) => Binary(3, a, b);
    public static Tensor operator +(Tensor a, double s) => BinaryScalar(0, a, s);
    public static Tensor operator -(Tensor a, double s) => BinaryScalar(1, a, s);
    public static Tensor operator *(Tensor a, double s) => BinaryScalar(2, a, s);
    public static Tensor operator /(Tensor a, double s) => BinaryScalar(3, a, s);
    public static Tensor operator +(Tensor a, long s) => BinaryScalar(0, a, s);
    public static Tensor operator -(Tensor a, long s) => BinaryScalar(1, a, s);
    public static Tensor operator *(Tensor a, long s) => BinaryScalar(2, a, s);
    public static Tensor operator /(Tensor a, long s) => BinaryScalar(3, a, s);
    public static Tensor operator +(double s, Tensor a) => BinaryScalar(0, a, s);
    public static Tensor operator *(double s, Tensor a) => BinaryScalar(2, a, s);
    public static Tensor operator +(long s, Tensor a) => BinaryScalar(0, a, s);
    public static Tensor operator *(long s, Tensor a) => BinaryScalar(2, a, s);

    public static Tensor operator -(double s, Tensor a)
    {
        nint h;
        var status = Native.dt_rsub_scalar(s, a.Handle, &h);
        GC.KeepAlive(a);
        Native.Check(status);
        return new Tensor(h);
    }

    public static Tensor operator -(long s, Tensor a) => Aten.RsubScalar.Call(a, s);

    public static Tensor operator /(double s, Tensor a)
    {
        nint h;
        var status = Native.dt_rdiv_scalar(s, a.Handle, &h);
        GC.KeepAlive(a);
        Native.Check(status);
        return new Tensor(h);
    }

    public static Tensor operator -(Tensor a)
    {
        nint h;
        var status = Native.dt_neg(a.Handle, &h);
        GC.KeepAlive(a);
        Native.Check(status);
        return new Tensor(h);
    }

    public static Tensor operator <(Tensor a, Tensor b) => Aten.Lt.Call(a, b);
    public static Tensor operator >(Tensor a, Tensor b) => Aten.Gt.Call(a, b);
    public static Tensor operator <=(Tensor a, Tensor b) => Aten.Le.Call(a, b);
    public static Tensor operator >=(Tensor a, Tensor b) => Aten.Ge.Call(a, b);
    public static Tensor operator <(Tensor a, double s) => Aten.LtS.Call(a, s);
    public static Tensor operator >(Tensor a, double s) => Aten.GtS.Call(a, s);
    public static Tensor operator <=(Tensor a, double s) => Aten.LeS.Call(a, s);
    public static Tensor operator >=(Tensor a, double s) => Aten.GeS.Call(a, s);
    public static Tensor operator &(Tensor a, Tensor b) => Aten.LogicalAnd.Call(a, b);
    public static Tensor operator |(Tensor a, Tensor b) => Aten.LogicalOr.Call(a, b);
    public static Tensor operator ~(Tensor a) => Aten.LogicalNot.Call(a);

    public Tensor Add(Tensor other) => Binary(0, this, other);
    public Tensor Sub(Tensor other) => Binary(1, this, other);
    public Tensor Mul(Tensor other) => Binary(2, this, other);
    public Tensor Div(Tensor other) => Binary(3, this, other);
    public Tensor Add(double s) => BinaryScalar(0, this, s);
    public Tensor Mul(double s) => BinaryScalar(2, this, s);
    public Tensor Neg() => -this;

    public Tensor MatMul(Tensor other)
    {
        nint h;
        var status = Native.dt_matmul(Handle, other.Handle, &h);
        GC.KeepAlive(this);
        GC.KeepAlive(other);
        Native.Check(status);
        return new Tensor(h);
    }

    /// <summary>x @ W^T + b (torch.nn.functional.linear).</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        nint h;
        var status = Native.dt_linear(x.Handle, weight.Handle, bias?.Handle ?? 0, &h);
        GC.KeepAlive(x);
        GC.KeepAlive(weight);
        GC.KeepAlive(bias);
        Native.Check(status);
        return new Tensor(h);
    }

    // ---- in place (used by optimisers and initialisers; returns this) ----

    private Tensor InPlace(int op, Tensor other, double alpha)
    {
        var status = Native.dt_binary_(op, Handle, other.Handle, alpha);
        GC.KeepAlive(other);
        Native.Check(status);
        return this;
    }

    private Tensor InPlace(int op, double s)
    {
        Native.Check(Native.dt_binary_scalar_(op, Handle, s));
        return this;
    }

    public Tensor Add_(Tensor other, double alpha = 1) => InPlace(0, other, alpha);
    public Tensor Sub_(Tensor other, double alpha = 1) => InPlace(1, other, alpha);
    public Tensor Mul_(Tensor other) => InPlace(2, other, 1);
    public Tensor Div_(Tensor other) => InPlace(3, other, 1);
    public Tensor Add_(double s) => InPlace(0, s);
    public Tensor Sub_(double s) => InPlace(1, s);
    public Tensor Mul_(double s) => InPlace(2, s);
    public Tensor Div_(double s) => InPlace(3, s);

    /// <summary>Copies src (broadcast, converted) into this tensor.</summary>
    public Tensor CopyFrom_(Tensor src)
    {
        var status = Native.dt_copy_(Handle, src.Handle);
        GC.KeepAlive(src);
        Native.Check(status);
        return this;
    }

    public Tensor Zero_()
    {
        Native.Check(Native.dt_zero_(Handle));
        return this;
    }

    public Tensor Fill_(double value)
    {
        Aten.Fill_.CallVoid(this, value);
        return this;
    }

    public Tensor Normal_(double mean = 0, double std = 1, Generator? generator = null)
    {
        Aten.Normal_.CallVoid(this, mean, std, generator);
        return this;
    }

    public Tensor Uniform_(double from = 0, double to = 1, Generator? generator = null)
    {
        Aten.Uniform_.CallVoid(this, from, to, generator);
        return this;
    }

    public Tensor Erfinv_()
    {
        Aten.Erfinv_.CallVoid(this);
        return this;
    }

    public Tensor Clamp_(double? min = null, double? max = null)
    {
        Aten.Clamp_.CallVoid(this, Arg.Of(min), Arg.Of(max));
        return this;
    }

    // ---- shape ----

    public Tensor Reshape(params long[] shape) => Aten.Reshape.Call(this, shape);
    public Tensor View(params long[] shape) => Aten.View.Call(this, shape);
    public Tensor Permute(params long[] dims) => Aten.Permute.Call(this, dims);
    public Tensor Transpose(long dim0, long dim1) => Aten.Transpose.Call(this, dim0, dim1);

    /// <summary>Transpose of the last two dimensions.</summary>
    public Tensor MT => Transpose(-2, -1);

    public Tensor Contiguous() => Aten.Contiguous.Call(this);
    public Tensor Narrow(long dim, long start, long length) => Aten.Narrow.Call(this, dim, start, length);
    /// <summary>Constant padding, torch.nn.functional.pad order: (before, after) pairs from the last dimension backwards.</summary>
    public Tensor Pad(long[] pad, double value = 0) => Aten.ConstantPad.Call(this, pad, value);

    /// <summary>Python's x[start:end:step] along dim (null bounds are open).</summary>
    public Tensor Slice(long dim, long? start, long? end, long step = 1) =>
        Aten.Slice.Call(this, dim, Arg.Of(start), Arg.Of(end), step);

    /// <summary>x[..., index, ...] along dim (drops the dimension).</summary>
    public Tensor Select(long dim, long index) => Aten.Select.Call(this, dim, index);

    public Tensor IndexSelect(long dim, Tensor index) => Aten.IndexSelect.Call(this, dim, index);

    /// <summary>Advanced indexing x[i0, i1, ...] with tensor indices (null = full slice).</summary>
    public Tensor Index(params Tensor?[] indices) => Aten.Index.Call(this, indices);

    public Tensor IndexAdd(long dim, Tensor index, Tensor source, double alpha = 1) =>
        Aten.IndexAdd.Call(this, dim, index, source, alpha);

    /// <summary>In place x[indices] = values (or += with accumulate).</summary>
    public Tensor IndexPut_(Tensor?[] indices, Tensor values, bool accumulate = false)
    {
        Aten.IndexPut_.CallVoid(this, indices, values, accumulate);
        return this;
    }

    public Tensor Gather(long dim, Tensor index) => Aten.Gather.Call(this, dim, index);
    public Tensor Scatter(long dim, Tensor index, Tensor src) => Aten.Scatter.Call(this, dim, index, src);
    public Tensor Scatter(long dim, Tensor index, double value) => Aten.ScatterValue.Call(this, dim, index, value);
    public Tensor ScatterAdd(long dim, Tensor index, Tensor src) => Aten.ScatterAdd.Call(this, dim, index, src);

    public Tensor[] Chunk(int chunks, long dim = 0) => Aten.Chunk.CallList(chunks, this, chunks, dim);

    public Tensor[] Split(long splitSize, long dim = 0)
    {
        var n = (int)((Size((int)dim) + splitSize - 1) / Math.Max(splitSize, 1));
        return Aten.Split.CallList(Math.Max(n, 1), this, splitSize, dim);
    }

    public Tensor[] Split(long[] sizes, long dim = 0) => Aten.SplitSizes.CallList(sizes.Length, this, sizes, dim);

    public Tensor[] Unbind(long dim = 0) => Aten.Unbind.CallList((int)Size((int)dim), this, dim);

    public Tensor Unsqueeze(long dim) => Aten.Unsqueeze.Call(this, dim);
    public Tensor Squeeze() => Aten.Squeeze.Call(this);
    public Tensor Squeeze(long dim) => Aten.SqueezeDim.Call(this, dim);
    public Tensor Expand(params long[] shape) => Aten.Expand.Call(this, shape);
    public Tensor Repeat(params long[] repeats) => Aten.Repeat.Call(this, repeats);
    public Tensor RepeatInterleave(long repeats, long? dim = null) => Aten.RepeatInterleave.Call(this, repeats, Arg.Of(dim));
    public Tensor Flip(params long[] dims) => Aten.Flip.Call(this, dims);
    public Tensor Roll(long shift, long dim) => Aten.Roll.Call(this, new[] { shift }, new[] { dim });
    public Tensor Roll(long[] shifts, long[] dims) => Aten.Roll.Call(this, shifts, dims);
    public Tensor Flatten(long startDim = 0, long endDim = -1) => Aten.Flatten.Call(this, startDim, endDim);
    public Tensor MaskedFill(Tensor mask, double value) => Aten.MaskedFill.Call(this, mask, value);
    public Tensor MaskedFill(Tensor mask, Tensor value) => Aten.MaskedFillT.Call(this, mask, value);
    public Tensor Tril(long diagonal = 0) => Aten.Tril.Call(this, diagonal);
    public Tensor Triu(long diagonal = 0) => Aten.Triu.Call(this, diagonal);
    public Tensor Clone() => Aten.Clone.Call(this);

    // ---- math ----

    public Tensor Bmm(Tensor other) => Aten.Bmm.Call(this, other);
    public Tensor Exp() => Aten.Exp.Call(this);
    public Tensor Log() => Aten.Log.Call(this);
    public Tensor Log1p() => Aten.Log1p.Call(this);
    public Tensor Sqrt() => Aten.Sqrt.Call(this);
    public Tensor Rsqrt() => Aten.Rsqrt.Call(this);
    public Tensor Square() => Aten.Square.Call(this);
    public Tensor Pow(double exponent) => Aten.PowScalar.Call(this, exponent);
    public Tensor Pow(Tensor exponent) => Aten.PowTensor.Call(this, exponent);
    public Tensor Abs() => Aten.Abs.Call(this);
    public Tensor Sign() => Aten.Sign.Call(this);
    public Tensor Clamp(double? min = null, double? max = null) => Aten.Clamp.Call(this, Arg.Of(min), Arg.Of(max));
    public Tensor Clamp(Tensor? min, Tensor? max) => Aten.ClampT.Call(this, min, max);
    public Tensor Tanh() => Aten.Tanh.Call(this);
    public Tensor Sigmoid() => Aten.Sigmoid.Call(this);
    public Tensor Silu() => Aten.Silu.Call(this);

    /// <summary>GELU; approximate "none" (exact erf) or "tanh".</summary>
    public Tensor Gelu(string approximate = "none") => Aten.Gelu.Call(this, approximate);

    public Tensor Relu() => Aten.Relu.Call(this);
    public Tensor Softplus(double beta = 1, double threshold = 20) => Aten.Softplus.Call(this, beta, threshold);
    public Tensor Sin() => Aten.Sin.Call(this);
    public Tensor Cos() => Aten.Cos.Call(this);
    public Tensor Erf() => Aten.Erf.Call(this);
    public Tensor Floor() => Aten.Floor.Call(this);
    public Tensor Ceil() => Aten.Ceil.Call(this);
    public Tensor Round() => Aten.Round.Call(this);
    public Tensor Reciprocal() => Aten.Reciprocal.Call(this);
    public Tensor Maximum(Tensor other) => Aten.Maximum.Call(this, other);
    public Tensor Minimum(Tensor other) => Aten.Minimum.Call(this, other);
    public Tensor Softmax(long dim, DType? dtype = null) => Aten.Softmax.Call(this, dim, dtype);
    public Tensor LogSoftmax(long dim, DType? dtype = null) => Aten.LogSoftmax.Call(this, dim, dtype);
    public Tensor LogSumExp(long dim, bool keepDim = false) => Aten.LogSumExp.Call(this, dim, keepDim);
    public Tensor LogSumExp(long[] dims, bool keepDim = false) => Aten.LogSumExp.Call(this, dims, keepDim);

    /// <summary>Linear interpolation this + weight * (end - this).</summary>
    public Tensor Lerp(Tensor end, double weight) => Aten.LerpScalar.Call(this, end, weight);
    public Tensor Lerp(Tensor end, Tensor weight) => Aten.LerpTensor.Call(this, end, weight);
    public Tensor IsFinite() => Aten.IsFinite.Call(this);
    public Tensor IsNan() => Aten.IsNan.Call(this);
    public Tensor CumSum(long dim, DType? dtype = null) => Aten.CumSum.Call(this, dim, dtype);

    /// <summary>int64 class indices to a one-hot int64 tensor with a trailing class dimension.</summary>
    public Tensor OneHot(long numClasses = -1) => Aten.OneHot.Call(this, numClasses);

    // ---- reductions ----

    public Tensor Sum(DType? dtype = null) => Aten.SumAll.Call(this, dtype);
    public Tensor Sum(long dim, bool keepDim = false, DType? dtype = null) => Aten.SumDim.Call(this, dim, keepDim, dtype);
    public Tensor Sum(long[] dims, bool keepDim = false, DType? dtype = null) => Aten.SumDim.Call(this, dims, keepDim, dtype);
    public Tensor Mean(DType? dtype = null) => Aten.MeanAll.Call(this, dtype);
    public Tensor Mean(long dim, bool keepDim = false, DType? dtype = null) => Aten.MeanDim.Call(this, dim, keepDim, dtype);
    public Tensor Mean(long[] dims, bool keepDim = false, DType? dtype = null) => Aten.MeanDim.Call(this, dims, keepDim, dtype);

    /// <summary>Variance over dims (all when null) with Bessel's correction by default.</summary>
    public Tensor Var(long[]? dims = null, bool unbiased = true, bool keepDim = false) =>
        Aten.VarDim.Call(this, dims, (long)(unbiased ? 1 : 0), keepDim);
    public Tensor Var(long dim, bool unbiased = true, bool keepDim = false) => Var(new[] { dim }, unbiased, keepDim);
    public Tensor Std(long[]? dims = null, bool unbiased = true, bool keepDim = false) =>
        Aten.StdDim.Call(this, dims, (long)(unbiased ? 1 : 0), keepDim);

    public Tensor Max() => Aten.MaxAll.Call(this);
    public (Tensor Values, Tensor Indices) Max(long dim, bool keepDim = false) => Aten.MaxDim.Call2(this, dim, keepDim);
    public Tensor Min() => Aten.MinAll.Call(this);
    public (Tensor Values, Tensor Indices) Min(long dim, bool keepDim = false) => Aten.MinDim.Call2(this, dim, keepDim);
    public Tensor Amax(long dim, bool keepDim = false) => Aten.Amax.Call(this, dim, keepDim);
    public Tensor Amin(long dim, bool keepDim = false) => Aten.Amin.Call(this, dim, keepDim);
    public Tensor ArgMax(long? dim = null, bool keepDim = false) => Aten.ArgMax.Call(this, Arg.Of(dim), keepDim);
    public Tensor ArgMin(long? dim = null, bool keepDim = false) => Aten.ArgMin.Call(this, Arg.Of(dim), keepDim);
    public Tensor Prod() => Aten.Prod.Call(this);
    public Tensor All() => Aten.All.Call(this);
    public Tensor Any() => Aten.Any.Call(this);
    public Tensor Norm(double p = 2) => Aten.NormAll.Call(this, p);
    public Tensor Norm(long dim, double p = 2, bool keepDim = false) => Aten.NormDim.Call(this, p, dim, keepDim);
    public (Tensor Values, Tensor Indices) TopK(long k, long dim = -1, bool largest = true, bool sorted = true) =>
        Aten.Topk.Call2(this, k, dim, largest, sorted);
    public (Tensor Values, Tensor Indices) Sort(long dim = -1, bool descending = false) => Aten.Sort.Call2(this, dim, descending);

    // ---- comparisons (bool results) ----

    public Tensor Eq(Tensor other) => Aten.Eq.Call(this, other);
    public Tensor Eq(double s) => Aten.EqS.Call(this, s);
    public Tensor Ne(Tensor other) => Aten.Ne.Call(this, other);
    public Tensor Ne(double s) => Aten.NeS.Call(this, s);
    public Tensor Lt(Tensor other) => Aten.Lt.Call(this, other);
    public Tensor Lt(double s) => Aten.LtS.Call(this, s);
    public Tensor Le(Tensor other) => Aten.Le.Call(this, other);
    public Tensor Le(double s) => Aten.LeS.Call(this, s);
    public Tensor Gt(Tensor other) => Aten.Gt.Call(this, other);
    public Tensor Gt(double s) => Aten.GtS.Call(this, s);
    public Tensor Ge(Tensor other) => Aten.Ge.Call(this, other);
    public Tensor Ge(double s) => Aten.GeS.Call(this, s);
    public Tensor LogicalNot() => Aten.LogicalNot.Call(this);
    public Tensor LogicalAnd(Tensor other) => Aten.LogicalAnd.Call(this, other);
    public Tensor LogicalOr(Tensor other) => Aten.LogicalOr.Call(this, other);

    // ---- sampling ----

    /// <summary>Samples category indices from rows of (unnormalised) probabilities.</summary>
    public Tensor Multinomial(long numSamples, bool replacement = false, Generator? generator = null) =>
        Aten.Multinomial.Call(this, numSamples, replacement, generator);

    /// <summary>Bernoulli draws with this tensor as probabilities.</summary>
    public Tensor Bernoulli(Generator? generator = null) => Aten.Bernoulli.Call(this, generator);

    /// <summary>Bernoulli draws with probability p, shaped like this tensor.</summary>
    public Tensor Bernoulli(double p, Generator? generator = null) => Aten.BernoulliP.Call(this, p, generator);
}
