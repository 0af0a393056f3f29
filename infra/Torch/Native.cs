using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Dreamer.Torch;

/// <summary>Tagged value passed to and returned from the boxed dispatcher call (mirrors dt_value).</summary>
[StructLayout(LayoutKind.Explicit, Size = 24)]
internal struct DtValue
{
    public const int None = 0, Default = 1, Tensor = 2, Int = 3, Double = 4, Bool = 5, IntList = 6, DoubleList = 7,
        TensorList = 8, ScalarType = 9, String = 10, Generator = 11, Device = 12, BoolList = 13;

    [FieldOffset(0)] public int Tag;
    [FieldOffset(8)] public long Len;
    [FieldOffset(16)] public nint P;
    [FieldOffset(16)] public long I;
    [FieldOffset(16)] public double D;
}

/// <summary>P/Invoke surface of libdreamer_torch.so. Signatures are blittable: no marshalling stubs.</summary>
internal static unsafe class Native
{
    private const string Lib = "dreamer_torch";

    // A library module initializer is deliberate: the resolver must be in place before the first P/Invoke.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void RegisterResolver()
    {
        NativeLibrary.SetDllImportResolver(typeof(Native).Assembly, Resolve);
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Lib) return 0;
        // Next to Dreamer.Torch.dll first (copied there by the build), then the usual search.
        var dir = Path.GetDirectoryName(assembly.Location);
        if (!string.IsNullOrEmpty(dir))
        {
            var candidate = Path.Combine(dir, "libdreamer_torch.so");
            if (File.Exists(candidate)) return NativeLibrary.Load(candidate);
        }
        return NativeLibrary.TryLoad("libdreamer_torch.so", assembly, path, out var h) ? h : 0;
    }

    /// <summary>Throws TorchException with libtorch's message when status is non-zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Check(int status)
    {
        if (status != 0) Throw();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Throw() => throw new TorchException(LastError());

    public static string LastError() => Marshal.PtrToStringUTF8(dt_last_error()) ?? "unknown libtorch error";

    [DllImport(Lib)] public static extern nint dt_last_error();
    [DllImport(Lib)] public static extern nint dt_version();
    [DllImport(Lib), SuppressGCTransition] public static extern long dt_live_tensor_count();
    [DllImport(Lib)] public static extern int dt_engine_add_loop(nint a, nint b, long n, double* seconds);

    [DllImport(Lib)] public static extern int dt_free(nint t);
    [DllImport(Lib)] public static extern int dt_alias(nint t, nint* o);
    [DllImport(Lib), SuppressGCTransition] public static extern int dt_dim(nint t, long* o);
    [DllImport(Lib), SuppressGCTransition] public static extern int dt_sizes(nint t, long* o, long cap);
    [DllImport(Lib), SuppressGCTransition] public static extern int dt_strides(nint t, long* o, long cap);
    [DllImport(Lib), SuppressGCTransition] public static extern int dt_numel(nint t, long* o);
    [DllImport(Lib), SuppressGCTransition] public static extern int dt_dtype(nint t, int* o);
    [DllImport(Lib), SuppressGCTransition] public static extern int dt_device(nint t, int* type, int* index);
    [DllImport(Lib), SuppressGCTransition] public static extern int dt_is_contiguous(nint t, int* o);
    [DllImport(Lib)] public static extern int dt_data_ptr(nint t, nint* o);
    [DllImport(Lib)] public static extern int dt_item_double(nint t, double* o);
    [DllImport(Lib)] public static extern int dt_item_int(nint t, long* o);

    [DllImport(Lib)] public static extern int dt_empty(long* shape, long ndim, int dtype, int devType, int devIndex, nint* o);
    [DllImport(Lib)] public static extern int dt_full(long* shape, long ndim, double value, int dtype, int devType, int devIndex, nint* o);
    [DllImport(Lib)] public static extern int dt_from_data(void* data, long nbytes, long* shape, long ndim, int dtype, nint* o);
    [DllImport(Lib)] public static extern int dt_to(nint t, int dtype, int devType, int devIndex, int copy, nint* o);

    [DllImport(Lib)] public static extern int dt_binary(int op, nint a, nint b, nint* o);
    [DllImport(Lib)] public static extern int dt_binary_scalar(int op, nint a, double s, nint* o);
    [DllImport(Lib)] public static extern int dt_binary_scalar_i(int op, nint a, long s, nint* o);
    [DllImport(Lib)] public static extern int dt_rsub_scalar(double s, nint a, nint* o);
    [DllImport(Lib)] public static extern int dt_rdiv_scalar(double s, nint a, nint* o);
    [DllImport(Lib)] public static extern int dt_neg(nint a, nint* o);
    [DllImport(Lib)] public static extern int dt_binary_(int op, nint a, nint b, double alpha);
    [DllImport(Lib)] public static extern int dt_binary_scalar_(int op, nint a, double s);
    [DllImport(Lib)] public static extern int dt_copy_(nint dst, nint src);
    [DllImport(Lib)] public static extern int dt_zero_(nint t);
    [DllImport(Lib)] public static extern int dt_matmul(nint a, nint b, nint* o);
    [DllImport(Lib)] public static extern int dt_linear(nint x, nint w, nint b, nint* o);

    [DllImport(Lib)] public static extern int dt_requires_grad(nint t, int* o);
    [DllImport(Lib)] public static extern int dt_set_requires_grad(nint t, int value);
    [DllImport(Lib)] public static extern int dt_grad(nint t, nint* o);
    [DllImport(Lib)] public static extern int dt_set_grad(nint t, nint grad);
    [DllImport(Lib)] public static extern int dt_backward(nint t, nint grad, int retainGraph, int createGraph);
    [DllImport(Lib)] public static extern int dt_detach(nint t, nint* o);
    [DllImport(Lib), SuppressGCTransition] public static extern int dt_grad_enabled(int* o);
    [DllImport(Lib), SuppressGCTransition] public static extern int dt_set_grad_enabled(int enabled);

    [DllImport(Lib)] public static extern int dt_adamw_step(nint p, nint g, nint m, nint v, double lr, double beta1, double beta2, double eps, double weightDecay, long step);
    [DllImport(Lib)] public static extern int dt_clip_grad_norm(nint* parameters, long n, double maxNorm, double* total);

    [DllImport(Lib)] public static extern int dt_manual_seed(ulong seed);
    [DllImport(Lib)] public static extern int dt_generator_new(int devType, int devIndex, ulong seed, nint* o);
    [DllImport(Lib)] public static extern int dt_generator_free(nint g);
    [DllImport(Lib)] public static extern int dt_generator_seed(nint g, ulong* o);
    [DllImport(Lib)] public static extern int dt_generator_set_seed(nint g, ulong seed);
    [DllImport(Lib)] public static extern int dt_generator_get_state(nint g, nint* o);
    [DllImport(Lib)] public static extern int dt_generator_set_state(nint g, nint state);
    [DllImport(Lib)] public static extern int dt_set_deterministic(int enabled);
    [DllImport(Lib)] public static extern int dt_get_deterministic(int* o);
    [DllImport(Lib)] public static extern int dt_get_num_threads(int* o);
    [DllImport(Lib)] public static extern int dt_set_num_threads(int n);
    [DllImport(Lib)] public static extern int dt_get_blas_threads(int* o);
    [DllImport(Lib)] public static extern int dt_set_blas_threads(int n);
    [DllImport(Lib)] public static extern int dt_cuda_is_available(int* o);
    [DllImport(Lib)] public static extern int dt_cuda_device_count(int* o);

    [DllImport(Lib)] public static extern int dt_op_find(byte* name, byte* overload, nint* o);
    [DllImport(Lib)] public static extern int dt_op_num_args(nint op, long* o);
    [DllImport(Lib)] public static extern int dt_op_call(nint op, DtValue* args, long nargs, DtValue* results, long capacity, long* nresults);
}
