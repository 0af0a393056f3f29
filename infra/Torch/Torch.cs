using System.Runtime.InteropServices;

namespace Dreamer.Torch;

/// <summary>Entry point: tensor creation, free functions, scopes and global control.</summary>
public static unsafe class Torch
{
    // ---- scopes ----

    /// <summary>Opens a dispose scope on this thread: tensors created while it is innermost die with it.</summary>
    public static DisposeScope NewDisposeScope() => new();

    /// <summary>Disables autograd recording on this thread until disposed (restores the previous mode).</summary>
    public static GradModeScope NoGrad() => new(false);

    /// <summary>Enables autograd recording on this thread until disposed.</summary>
    public static GradModeScope EnableGrad() => new(true);

    public static bool IsGradEnabled
    {
        get
        {
            int e;
            Native.Check(Native.dt_grad_enabled(&e));
            return e != 0;
        }
    }

    /// <summary>Restores the previous grad mode on Dispose.</summary>
    public readonly struct GradModeScope : IDisposable
    {
        private readonly bool _previous;

        internal GradModeScope(bool enabled)
        {
            _previous = IsGradEnabled;
            Native.Check(Native.dt_set_grad_enabled(enabled ? 1 : 0));
        }

        public void Dispose() => Native.Check(Native.dt_set_grad_enabled(_previous ? 1 : 0));
    }

    // ---- control ----

    /// <summary>libtorch version, e.g. "1.13.0".</summary>
    public static string Version => Marshal.PtrToStringUTF8(Native.dt_version()) ?? "unknown";

    /// <summary>Native tensor handles currently alive in this process (leak checks).</summary>
    public static long LiveTensorCount => Native.dt_live_tensor_count();

    /// <summary>
    /// Seconds libtorch itself takes for n additions a + b with no binding around them (a C++ loop).
    /// Benchmarks subtract it from a binding's time to isolate the binding's per-op overhead.
    /// </summary>
    public static double EngineAddLoopSeconds(Tensor a, Tensor b, long n)
    {
        double seconds;
        Native.Check(Native.dt_engine_add_loop(a.Handle, b.Handle, n, &seconds));
        GC.KeepAlive(a);
        GC.KeepAlive(b);
        return seconds;
    }

    /// <summary>Seeds the global CPU (and CUDA) generators.</summary>
    public static void ManualSeed(ulong seed) => Native.Check(Native.dt_manual_seed(seed));

    /// <summary>Use only deterministic algorithms (errors on ops that have none).</summary>
    public static bool DeterministicAlgorithms
    {
        get
        {
            int d;
            Native.Check(Native.dt_get_deterministic(&d));
            return d != 0;
        }
        set => Native.Check(Native.dt_set_deterministic(value ? 1 : 0));
    }

    /// <summary>libtorch's intra-op thread pool size (the BLAS keeps its own pool: <see cref="BlasThreads"/>).</summary>
    public static int NumThreads
    {
        get
        {
            int n;
            Native.Check(Native.dt_get_num_threads(&n));
            return n;
        }
        set => Native.Check(Native.dt_set_num_threads(value));
    }

    /// <summary>
    /// Sets libtorch's pool to <paramref name="intraOp"/> threads and OpenBLAS's pool to <paramref name="blas"/>,
    /// by default so the two never both run several threads (1 when intraOp &gt; 1, else one per core): both
    /// pools spin while idle, and on the 2-core box both at 2 made the small models' steps 2-3x slower.
    /// </summary>
    public static void UseThreads(int intraOp, int? blas = null)
    {
        if (intraOp < 1) throw new ArgumentOutOfRangeException(nameof(intraOp), intraOp, "threads must be positive");
        if (blas is < 1) throw new ArgumentOutOfRangeException(nameof(blas), blas, "BLAS threads must be positive");
        NumThreads = intraOp;
        if (BlasThreads != null) BlasThreads = blas ?? (intraOp > 1 ? 1 : Environment.ProcessorCount);
    }

    /// <summary>
    /// OpenBLAS's own thread pool size (default: one per core, whatever <see cref="NumThreads"/> says; its idle
    /// workers spin beside libtorch's pool); null when libtorch's BLAS is not OpenBLAS, and setting it is then a no-op.
    /// </summary>
    public static int? BlasThreads
    {
        get
        {
            int n;
            Native.Check(Native.dt_get_blas_threads(&n));
            return n < 0 ? null : n;
        }
        set => Native.Check(Native.dt_set_blas_threads(value ?? throw new ArgumentNullException(nameof(value))));
    }

    public static bool CudaIsAvailable
    {
        get
        {
            int a;
            Native.Check(Native.dt_cuda_is_available(&a));
            return a != 0;
        }
    }

    public static int CudaDeviceCount
    {
        get
        {
            int n;
            Native.Check(Native.dt_cuda_device_count(&n));
            return n;
        }
    }

    /// <summary>State of the global CPU generator (uint8 tensor), for checkpoints.</summary>
    public static Tensor GetRngState()
    {
        nint t;
        Native.Check(Native.dt_generator_get_state(0, &t));
        return new Tensor(t);
    }

    public static void SetRngState(Tensor state)
    {
        Native.Check(Native.dt_generator_set_state(0, state.Handle));
        GC.KeepAlive(state);
    }

    // ---- creation ----

    public static Tensor Empty(ReadOnlySpan<long> shape, DType dtype = DType.Float32, Device? device = null)
    {
        var d = device ?? Device.Cpu;
        nint h;
        fixed (long* s = shape) Native.Check(Native.dt_empty(s, shape.Length, (int)dtype, (int)d.Type, d.Index, &h));
        return new Tensor(h);
    }

    public static Tensor Full(ReadOnlySpan<long> shape, double value, DType dtype = DType.Float32, Device? device = null)
    {
        var d = device ?? Device.Cpu;
        nint h;
        fixed (long* s = shape) Native.Check(Native.dt_full(s, shape.Length, value, (int)dtype, (int)d.Type, d.Index, &h));
        return new Tensor(h);
    }

    public static Tensor Zeros(ReadOnlySpan<long> shape, DType dtype = DType.Float32, Device? device = null) => Full(shape, 0, dtype, device);

    public static Tensor Ones(ReadOnlySpan<long> shape, DType dtype = DType.Float32, Device? device = null) => Full(shape, 1, dtype, device);

    public static Tensor ZerosLike(Tensor t) => Aten.ZerosLike.Call(t);
    public static Tensor OnesLike(Tensor t) => Aten.OnesLike.Call(t);
    public static Tensor FullLike(Tensor t, double value) => Aten.FullLike.Call(t, value);
    public static Tensor RandLike(Tensor t) => Aten.RandLike.Call(t);
    public static Tensor RandnLike(Tensor t) => Aten.RandnLike.Call(t);

    /// <summary>[start, end) in steps (int64 unless a dtype is given).</summary>
    public static Tensor Arange(long start, long end, long step = 1, DType dtype = DType.Int64, Device? device = null) =>
        Aten.Arange.Call(start, end, step, dtype, Arg.None, device ?? Device.Cpu);

    public static Tensor Arange(long end, DType dtype = DType.Int64, Device? device = null) => Arange(0, end, 1, dtype, device);

    public static Tensor Arange(double start, double end, double step, DType dtype = DType.Float32, Device? device = null) =>
        Aten.Arange.Call(start, end, step, dtype, Arg.None, device ?? Device.Cpu);

    public static Tensor Linspace(double start, double end, long steps, DType dtype = DType.Float32, Device? device = null) =>
        Aten.Linspace.Call(start, end, steps, dtype, Arg.None, device ?? Device.Cpu);

    public static Tensor Eye(long n, DType dtype = DType.Float32, Device? device = null) =>
        Aten.Eye.Call(n, dtype, Arg.None, device ?? Device.Cpu);

    /// <summary>Uniform [0, 1).</summary>
    public static Tensor Rand(long[] shape, Generator? generator = null, DType dtype = DType.Float32, Device? device = null) =>
        Aten.Rand.Call(shape, generator, dtype, Arg.None, device ?? Device.Cpu);

    /// <summary>Standard normal.</summary>
    public static Tensor Randn(long[] shape, Generator? generator = null, DType dtype = DType.Float32, Device? device = null) =>
        Aten.Randn.Call(shape, generator, dtype, Arg.None, device ?? Device.Cpu);

    /// <summary>Uniform integers in [low, high).</summary>
    public static Tensor Randint(long low, long high, long[] shape, Generator? generator = null, DType dtype = DType.Int64, Device? device = null) =>
        Aten.Randint.Call(low, high, shape, generator, dtype, Arg.None, device ?? Device.Cpu);

    /// <summary>Normal draws with elementwise mean and std.</summary>
    public static Tensor Normal(Tensor mean, Tensor std, Generator? generator = null) => Aten.NormalTT.Call(mean, std, generator);

    public static Tensor Normal(Tensor mean, double std, Generator? generator = null) => Aten.NormalTF.Call(mean, std, generator);

    public static Tensor From<T>(T[] data, params long[] shape) where T : unmanaged =>
        Tensor.From<T>(data.AsSpan(), shape.Length == 0 ? [data.Length] : shape);

    // ---- free functions ----

    public static Tensor Cat(Tensor[] tensors, long dim = 0) => Aten.Cat.Call(tensors, dim);
    public static Tensor Stack(Tensor[] tensors, long dim = 0) => Aten.Stack.Call(tensors, dim);

    /// <summary>Einstein summation, e.g. Einsum("bhqd,bhkd->bhqk", q, k).</summary>
    public static Tensor Einsum(string equation, params Tensor[] operands) => Aten.Einsum.Call(equation, operands);

    /// <summary>Elementwise condition ? a : b.</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b) => Aten.Where.Call(condition, a, b);

    public static Tensor Where(Tensor condition, Tensor a, double b) => Aten.WhereScalarOther.Call(condition, a, b);

    public static Tensor MatMul(Tensor a, Tensor b) => a.MatMul(b);

    public static Tensor Bmm(Tensor a, Tensor b) => a.Bmm(b);

    /// <summary>Cross entropy of logits [N, C] (or [N, C, ...]) against int64 class targets; mean reduction.</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor target, double labelSmoothing = 0, long ignoreIndex = -100) =>
        Aten.CrossEntropy.Call(logits, target, Arg.None, 1L, ignoreIndex, labelSmoothing);

    /// <summary>Mean squared error (mean reduction).</summary>
    public static Tensor MseLoss(Tensor input, Tensor target) => Aten.MseLoss.Call(input, target, 1L);

    /// <summary>Finds any ATen operator for a boxed call, e.g. Torch.FindOp("aten::cumprod").</summary>
    public static Op FindOp(string name, string overload = "") => new(name, overload);
}
