using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Dreamer.Torch;

/// <summary>
/// A libtorch tensor. Owns one native handle; dispose it, or create it inside a
/// <see cref="DisposeScope"/>. Any use after Dispose throws ObjectDisposedException.
/// </summary>
public sealed unsafe partial class Tensor : IDisposable
{
    private nint _h;
    internal DisposeScope? Scope;
    internal int ScopeIndex;

    /// <summary>Takes ownership of a native handle and registers with the innermost scope.</summary>
    internal Tensor(nint handle)
    {
        _h = handle;
        DisposeScope.Register(this);
    }

    /// <summary>The native handle; throws if disposed.</summary>
    public nint Handle
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            var h = _h;
            if (h == 0) ThrowDisposed();
            return h;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowDisposed() => throw new ObjectDisposedException(nameof(Tensor), "tensor used after Dispose");

    public bool IsDisposed => _h == 0;

    /// <summary>The dispose scope that will free this tensor, if any.</summary>
    public DisposeScope? OwningScope => Scope;

    public void Dispose()
    {
        var h = _h;
        if (h == 0) return;
        _h = 0;
        Scope?.Release(this);
        Native.dt_free(h);
        GC.SuppressFinalize(this);
    }

    // Safety net for tensors that escaped every scope and were never disposed.
    ~Tensor()
    {
        if (_h != 0) Native.dt_free(_h);
    }

    /// <summary>Moves this tensor from its scope to the next enclosing scope (or to no scope).</summary>
    public Tensor MoveToOuterScope()
    {
        var s = Scope;
        if (s == null) return this;
        s.Release(this);
        s.LiveOuter?.Add(this);
        return this;
    }

    /// <summary>Removes this tensor from any scope: the caller disposes it.</summary>
    public Tensor DetachFromScopes()
    {
        Scope?.Release(this);
        return this;
    }

    /// <summary>Replaces the native tensor behind this object (Module.To keeps parameter identity).</summary>
    internal void ReplaceWith(Tensor other)
    {
        var nh = other._h;
        if (nh == 0) ThrowDisposed();
        other._h = 0;
        other.Scope?.Release(other);
        GC.SuppressFinalize(other);
        var old = Handle;
        _h = nh;
        Native.dt_free(old);
    }

    // ---- metadata ----

    public int Dim
    {
        get
        {
            long d;
            Native.Check(Native.dt_dim(Handle, &d));
            GC.KeepAlive(this);
            return (int)d;
        }
    }

    public long[] Shape
    {
        get
        {
            long* buf = stackalloc long[64];
            Native.Check(Native.dt_dim(Handle, buf));
            var n = (int)buf[0];
            if (n > 64) throw new TorchException("tensor has more than 64 dimensions");
            Native.Check(Native.dt_sizes(Handle, buf, 64));
            GC.KeepAlive(this);
            return new ReadOnlySpan<long>(buf, n).ToArray();
        }
    }

    public long[] Strides
    {
        get
        {
            var n = Dim;
            var r = new long[n];
            fixed (long* p = r) Native.Check(Native.dt_strides(Handle, p, n));
            GC.KeepAlive(this);
            return r;
        }
    }

    /// <summary>Size of dimension <paramref name="dim"/> (negative counts from the end).</summary>
    public long Size(int dim)
    {
        var s = Shape;
        var d = dim < 0 ? dim + s.Length : dim;
        if (d < 0 || d >= s.Length) throw new ArgumentOutOfRangeException(nameof(dim), $"dim {dim} out of range for shape {ShapeString(s)}");
        return s[d];
    }

    public long NumEl
    {
        get
        {
            long n;
            Native.Check(Native.dt_numel(Handle, &n));
            GC.KeepAlive(this);
            return n;
        }
    }

    public DType DType
    {
        get
        {
            int t;
            Native.Check(Native.dt_dtype(Handle, &t));
            GC.KeepAlive(this);
            return (DType)t;
        }
    }

    public Device Device
    {
        get
        {
            int t, i;
            Native.Check(Native.dt_device(Handle, &t, &i));
            GC.KeepAlive(this);
            return new Device((DeviceType)t, i);
        }
    }

    public bool IsContiguous
    {
        get
        {
            int c;
            Native.Check(Native.dt_is_contiguous(Handle, &c));
            GC.KeepAlive(this);
            return c != 0;
        }
    }

    internal static string ShapeString(ReadOnlySpan<long> s)
    {
        var b = new StringBuilder("[");
        for (var i = 0; i < s.Length; i++)
        {
            if (i > 0) b.Append(", ");
            b.Append(s[i]);
        }
        return b.Append(']').ToString();
    }

    public override string ToString() =>
        _h == 0 ? "Tensor(disposed)" : $"Tensor({ShapeString(Shape)}, {DType}, {Device})";

    // ---- data access ----

    /// <summary>Pointer to the first element (CPU or device memory).</summary>
    public nint DataPointer
    {
        get
        {
            nint p;
            Native.Check(Native.dt_data_ptr(Handle, &p));
            GC.KeepAlive(this);
            return p;
        }
    }

    /// <summary>
    /// Zero-copy view of a contiguous CPU tensor's elements. Valid only while this tensor is alive
    /// and not resized; T must match the dtype (ushort for bfloat16, Half for float16).
    /// </summary>
    public Span<T> AsSpan<T>() where T : unmanaged
    {
        var dt = DType;
        if (!dt.Matches<T>()) throw new InvalidOperationException($"AsSpan<{typeof(T).Name}> on a {dt} tensor");
        if (Device.Type != DeviceType.Cpu) throw new InvalidOperationException("AsSpan needs a CPU tensor");
        if (!IsContiguous) throw new InvalidOperationException("AsSpan needs a contiguous tensor (call Contiguous())");
        var n = NumEl;
        if (n > int.MaxValue) throw new InvalidOperationException("tensor too large for a Span");
        return new Span<T>((void*)DataPointer, (int)n);
    }

    /// <summary>Copies all elements (row-major) into <paramref name="dest"/>, converting device and layout as needed.</summary>
    public void CopyTo<T>(Span<T> dest) where T : unmanaged
    {
        var dt = DType;
        if (!dt.Matches<T>()) throw new InvalidOperationException($"CopyTo<{typeof(T).Name}> from a {dt} tensor");
        if (Device.Type == DeviceType.Cpu && IsContiguous)
        {
            AsSpan<T>().CopyTo(dest);
            return;
        }
        using var cpu = To(Device.Cpu).Contiguous();
        cpu.AsSpan<T>().CopyTo(dest);
    }

    /// <summary>Copies all elements (row-major) into a new array.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        var r = new T[checked((int)NumEl)];
        CopyTo<T>(r);
        return r;
    }

    /// <summary>Raw bytes of the elements (row-major, little-endian).</summary>
    public byte[] ToBytes()
    {
        var cpu = Device.Type == DeviceType.Cpu && IsContiguous ? this : To(Device.Cpu).Contiguous();
        try
        {
            var bytes = new byte[checked(cpu.NumEl * cpu.DType.ElementSize())];
            new ReadOnlySpan<byte>((void*)cpu.DataPointer, bytes.Length).CopyTo(bytes);
            GC.KeepAlive(cpu);
            return bytes;
        }
        finally
        {
            if (!ReferenceEquals(cpu, this)) cpu.Dispose();
        }
    }

    /// <summary>The value of a one-element tensor.</summary>
    public double ToDouble()
    {
        double d;
        Native.Check(Native.dt_item_double(Handle, &d));
        GC.KeepAlive(this);
        return d;
    }

    public float ToSingle() => (float)ToDouble();

    public long ToInt64()
    {
        long v;
        Native.Check(Native.dt_item_int(Handle, &v));
        GC.KeepAlive(this);
        return v;
    }

    public bool ToBoolean() => ToInt64() != 0;

    // ---- creation from managed data ----

    /// <summary>A new CPU tensor holding a copy of <paramref name="data"/> with the given shape.</summary>
    public static Tensor From<T>(ReadOnlySpan<T> data, params ReadOnlySpan<long> shape) where T : unmanaged
    {
        var dt = DTypeExtensions.Of<T>();
        nint h;
        fixed (T* p = data)
        fixed (long* s = shape)
            Native.Check(Native.dt_from_data(p, (long)data.Length * sizeof(T), s, shape.Length, (int)dt, &h));
        return new Tensor(h);
    }

    /// <summary>A 1-D CPU tensor holding a copy of <paramref name="data"/>.</summary>
    public static Tensor From<T>(T[] data) where T : unmanaged => From<T>(data.AsSpan(), data.Length);

    /// <summary>A CPU tensor of <paramref name="dtype"/> from raw little-endian bytes.</summary>
    public static Tensor FromBytes(ReadOnlySpan<byte> bytes, DType dtype, params ReadOnlySpan<long> shape)
    {
        nint h;
        fixed (byte* p = bytes)
        fixed (long* s = shape)
            Native.Check(Native.dt_from_data(p, bytes.Length, s, shape.Length, (int)dtype, &h));
        return new Tensor(h);
    }

    /// <summary>A 0-dim tensor.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.Float32, Device? device = null) =>
        Torch.Full([], value, dtype, device);

    // ---- conversion ----

    public Tensor To(Device device) => To(DType, device);

    public Tensor To(DType dtype) => To(dtype, Device);

    /// <summary>Converts dtype and device (a new handle; shares storage when nothing changes).</summary>
    public Tensor To(DType dtype, Device device, bool copy = false)
    {
        nint h;
        Native.Check(Native.dt_to(Handle, (int)dtype, (int)device.Type, device.Index, copy ? 1 : 0, &h));
        GC.KeepAlive(this);
        return new Tensor(h);
    }

    /// <summary>Another handle to the same tensor (same storage, same autograd identity).</summary>
    public Tensor Alias()
    {
        nint h;
        Native.Check(Native.dt_alias(Handle, &h));
        GC.KeepAlive(this);
        return new Tensor(h);
    }

    // ---- autograd ----

    public bool RequiresGrad
    {
        get
        {
            int r;
            Native.Check(Native.dt_requires_grad(Handle, &r));
            GC.KeepAlive(this);
            return r != 0;
        }
        set
        {
            Native.Check(Native.dt_set_requires_grad(Handle, value ? 1 : 0));
            GC.KeepAlive(this);
        }
    }

    /// <summary>Sets RequiresGrad and returns this (fluent).</summary>
    public Tensor RequiresGrad_(bool value = true)
    {
        RequiresGrad = value;
        return this;
    }

    /// <summary>
    /// The accumulated gradient as a new handle (null when none). Each read makes a new handle:
    /// dispose it or read inside a scope.
    /// </summary>
    public Tensor? Grad
    {
        get
        {
            nint g;
            Native.Check(Native.dt_grad(Handle, &g));
            GC.KeepAlive(this);
            return g == 0 ? null : new Tensor(g);
        }
        set
        {
            Native.Check(Native.dt_set_grad(Handle, value?.Handle ?? 0));
            GC.KeepAlive(this);
            GC.KeepAlive(value);
        }
    }

    /// <summary>Backpropagates from this tensor (a scalar unless <paramref name="gradient"/> is given).</summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false, bool createGraph = false)
    {
        Native.Check(Native.dt_backward(Handle, gradient?.Handle ?? 0, retainGraph ? 1 : 0, createGraph ? 1 : 0));
        GC.KeepAlive(this);
        GC.KeepAlive(gradient);
    }

    /// <summary>A view sharing storage but cut from the autograd graph.</summary>
    public Tensor Detach()
    {
        nint h;
        Native.Check(Native.dt_detach(Handle, &h));
        GC.KeepAlive(this);
        return new Tensor(h);
    }
}
