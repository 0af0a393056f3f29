using System.Runtime.InteropServices;
using System.Text;

namespace Dreamer.Torch;

/// <summary>
/// One argument of a boxed operator call. Implicit conversions make calls read like Python:
/// <c>Ops.Sum.Call(x, new long[] { 1 }, true)</c>. Holds managed references so tensors and arrays
/// stay alive until the native call returns.
/// </summary>
public readonly struct Arg
{
    internal readonly object? Obj;
    internal readonly long I;
    internal readonly double D;
    internal readonly int Tag;

    private Arg(int tag, object? obj = null, long i = 0, double d = 0)
    {
        Tag = tag;
        Obj = obj;
        I = i;
        D = d;
    }

    /// <summary>Explicit None.</summary>
    public static readonly Arg None = new(DtValue.None);

    /// <summary>The schema's default value for this position.</summary>
    public static readonly Arg Default = new(DtValue.Default);

    public static implicit operator Arg(Tensor? t) => t is null ? None : new(DtValue.Tensor, t);
    public static implicit operator Arg(long v) => new(DtValue.Int, null, v);
    public static implicit operator Arg(int v) => new(DtValue.Int, null, v);
    public static implicit operator Arg(double v) => new(DtValue.Double, null, 0, v);
    public static implicit operator Arg(bool v) => new(DtValue.Bool, null, v ? 1 : 0);
    public static implicit operator Arg(long[]? v) => v is null ? None : new(DtValue.IntList, v);
    public static implicit operator Arg(double[]? v) => v is null ? None : new(DtValue.DoubleList, v);
    public static implicit operator Arg(bool[]? v) => v is null ? None : new(DtValue.BoolList, v);
    public static implicit operator Arg(Tensor?[]? v) => v is null ? None : new(DtValue.TensorList, v);
    public static implicit operator Arg(DType v) => new(DtValue.ScalarType, null, (long)v);
    public static implicit operator Arg(DType? v) => v is null ? None : new(DtValue.ScalarType, null, (long)v.Value);
    public static implicit operator Arg(string? v) => v is null ? None : new(DtValue.String, v);
    public static implicit operator Arg(Generator? g) => g is null ? None : new(DtValue.Generator, g);
    public static implicit operator Arg(Device v) => new(DtValue.Device, null, (long)v.Type, v.Index);
    public static implicit operator Arg(Device? v) => v is null ? None : (Arg)v.Value;

    /// <summary>An optional int (None when null).</summary>
    public static Arg Of(long? v) => v is null ? None : new(DtValue.Int, null, v.Value);

    /// <summary>An optional double (None when null).</summary>
    public static Arg Of(double? v) => v is null ? None : new(DtValue.Double, null, 0, v.Value);
}

/// <summary>
/// A cached handle to an ATen operator schema, called through the full dispatcher (autograd
/// included). Missing trailing arguments take the schema defaults.
/// </summary>
public sealed unsafe class Op
{
    private readonly nint _h;

    /// <summary>Looks up <c>aten::name.overload</c>; throws TorchException if there is no such schema.</summary>
    public Op(string name, string overload = "")
    {
        Name = overload.Length == 0 ? name : name + "." + overload;
        var n = Encoding.UTF8.GetBytes(name + "\0");
        var o = Encoding.UTF8.GetBytes(overload + "\0");
        nint h;
        fixed (byte* pn = n, po = o) Native.Check(Native.dt_op_find(pn, po, &h));
        _h = h;
        long na;
        Native.Check(Native.dt_op_num_args(h, &na));
        NumArgs = (int)na;
    }

    public string Name { get; }
    public int NumArgs { get; }

    /// <summary>Calls the op and returns its single tensor result.</summary>
    public Tensor Call(params ReadOnlySpan<Arg> args)
    {
        DtValue* r = stackalloc DtValue[1];
        var n = Invoke(args, r, 1);
        if (n != 1 || r[0].Tag != DtValue.Tensor || r[0].P == 0)
        {
            FreeResults(r, n);
            throw new TorchException($"{Name}: expected one tensor result, got {n} results");
        }
        return new Tensor(r[0].P);
    }

    /// <summary>Calls an op returning two tensors (e.g. max.dim).</summary>
    public (Tensor, Tensor) Call2(params ReadOnlySpan<Arg> args)
    {
        DtValue* r = stackalloc DtValue[2];
        var n = Invoke(args, r, 2);
        if (n != 2 || r[0].Tag != DtValue.Tensor || r[1].Tag != DtValue.Tensor)
        {
            FreeResults(r, n);
            throw new TorchException($"{Name}: expected two tensor results, got {n} results");
        }
        return (new Tensor(r[0].P), new Tensor(r[1].P));
    }

    /// <summary>Calls an op returning a list of tensors (split, chunk, unbind...).</summary>
    public Tensor[] CallList(int capacity, params ReadOnlySpan<Arg> args)
    {
        var buf = new DtValue[capacity];
        long n;
        fixed (DtValue* r = buf) n = Invoke(args, r, capacity);
        var res = new Tensor[n];
        for (var i = 0; i < n; i++) res[i] = new Tensor(buf[i].P);
        return res;
    }

    /// <summary>Calls an in-place or out op for its side effect; result handles are released.</summary>
    public void CallVoid(params ReadOnlySpan<Arg> args)
    {
        DtValue* r = stackalloc DtValue[4];
        var n = Invoke(args, r, 4);
        FreeResults(r, n);
    }

    /// <summary>Calls an op returning a number.</summary>
    public double CallScalar(params ReadOnlySpan<Arg> args)
    {
        DtValue* r = stackalloc DtValue[1];
        var n = Invoke(args, r, 1);
        if (n != 1) throw new TorchException($"{Name}: expected one scalar result, got {n}");
        return r[0].Tag switch
        {
            DtValue.Double => r[0].D,
            DtValue.Int or DtValue.Bool => r[0].I,
            _ => throw new TorchException($"{Name}: expected a scalar result"),
        };
    }

    private static void FreeResults(DtValue* r, long n)
    {
        for (var i = 0; i < n; i++)
            if (r[i].Tag == DtValue.Tensor && r[i].P != 0) Native.dt_free(r[i].P);
    }

    private long Invoke(ReadOnlySpan<Arg> args, DtValue* results, int capacity)
    {
        if (args.Length > 16) throw new ArgumentException($"{Name}: too many arguments ({args.Length})");
        DtValue* v = stackalloc DtValue[args.Length];
        // Pins for list arguments; at most one per argument.
        GCHandle[]? pinArray = null;
        try
        {
            for (var i = 0; i < args.Length; i++)
            {
                ref readonly var a = ref args[i];
                ref var d = ref v[i];
                d = default;
                d.Tag = a.Tag;
                switch (a.Tag)
                {
                    case DtValue.Tensor:
                        d.P = ((Tensor)a.Obj!).Handle;
                        break;
                    case DtValue.Int:
                    case DtValue.Bool:
                    case DtValue.ScalarType:
                        d.I = a.I;
                        break;
                    case DtValue.Double:
                        d.D = a.D;
                        break;
                    case DtValue.Device:
                        d.I = a.I;
                        d.Len = (long)a.D;
                        break;
                    case DtValue.Generator:
                        d.P = ((Generator)a.Obj!).Handle;
                        break;
                    case DtValue.IntList:
                    case DtValue.DoubleList:
                    case DtValue.BoolList:
                    {
                        var arr = (Array)a.Obj!;
                        pinArray ??= new GCHandle[args.Length];
                        pinArray[i] = GCHandle.Alloc(arr, GCHandleType.Pinned);
                        d.P = pinArray[i].AddrOfPinnedObject();
                        d.Len = arr.Length;
                        break;
                    }
                    case DtValue.TensorList:
                    {
                        var ts = (Tensor?[])a.Obj!;
                        var tensorLists = new nint[ts.Length];
                        for (var j = 0; j < ts.Length; j++) tensorLists[j] = ts[j]?.Handle ?? 0;
                        pinArray ??= new GCHandle[args.Length];
                        pinArray[i] = GCHandle.Alloc(tensorLists, GCHandleType.Pinned);
                        d.P = pinArray[i].AddrOfPinnedObject();
                        d.Len = ts.Length;
                        break;
                    }
                    case DtValue.String:
                    {
                        var bytes = Encoding.UTF8.GetBytes((string)a.Obj!);
                        pinArray ??= new GCHandle[args.Length];
                        pinArray[i] = GCHandle.Alloc(bytes, GCHandleType.Pinned);
                        d.P = pinArray[i].AddrOfPinnedObject();
                        d.Len = bytes.Length;
                        break;
                    }
                }
            }
            long n;
            var status = Native.dt_op_call(_h, v, args.Length, results, capacity, &n);
            Native.Check(status);
            return n;
        }
        finally
        {
            if (pinArray != null)
                foreach (var p in pinArray)
                    if (p.IsAllocated) p.Free();
            // The tensors behind the handles must outlive the native call.
            for (var i = 0; i < args.Length; i++) GC.KeepAlive(args[i].Obj);
        }
    }

    public override string ToString() => Name;
}
