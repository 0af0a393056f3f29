namespace Dreamer.Torch;

/// <summary>A libtorch failure, carrying libtorch's message (plus operand shapes for tensor ops).</summary>
public sealed class TorchException : Exception
{
    public TorchException(string message) : base(message) { }
    public TorchException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>Element types; values are c10::ScalarType codes.</summary>
public enum DType
{
    UInt8 = 0,
    Int8 = 1,
    Int16 = 2,
    Int32 = 3,
    Int64 = 4,
    Float16 = 5,
    Float32 = 6,
    Float64 = 7,
    Bool = 11,
    BFloat16 = 15,
}

public static class DTypeExtensions
{
    public static int ElementSize(this DType t) => t switch
    {
        DType.UInt8 or DType.Int8 or DType.Bool => 1,
        DType.Int16 or DType.Float16 or DType.BFloat16 => 2,
        DType.Int32 or DType.Float32 => 4,
        DType.Int64 or DType.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    public static bool IsFloatingPoint(this DType t) =>
        t is DType.Float16 or DType.BFloat16 or DType.Float32 or DType.Float64;

    /// <summary>The dtype whose elements are stored as managed type T (ushort maps to BFloat16).</summary>
    internal static DType Of<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return DType.Float32;
        if (typeof(T) == typeof(double)) return DType.Float64;
        if (typeof(T) == typeof(long)) return DType.Int64;
        if (typeof(T) == typeof(int)) return DType.Int32;
        if (typeof(T) == typeof(short)) return DType.Int16;
        if (typeof(T) == typeof(byte)) return DType.UInt8;
        if (typeof(T) == typeof(sbyte)) return DType.Int8;
        if (typeof(T) == typeof(bool)) return DType.Bool;
        if (typeof(T) == typeof(Half)) return DType.Float16;
        if (typeof(T) == typeof(ushort)) return DType.BFloat16;
        throw new NotSupportedException($"no tensor dtype for element type {typeof(T).Name}");
    }

    /// <summary>Whether managed type T has the in-memory layout of dtype t.</summary>
    internal static bool Matches<T>(this DType t) where T : unmanaged => Of<T>() == t;
}

public enum DeviceType
{
    Cpu = 0,
    Cuda = 1,
}

/// <summary>A device: cpu, or cuda with an index.</summary>
public readonly record struct Device(DeviceType Type, int Index = -1)
{
    public static readonly Device Cpu = new(DeviceType.Cpu);
    public static Device Cuda(int index = 0) => new(DeviceType.Cuda, index);

    /// <summary>Parses "cpu", "cuda" or "cuda:1".</summary>
    public static Device Parse(string s)
    {
        var t = s.Trim().ToLowerInvariant();
        if (t == "cpu") return Cpu;
        if (t == "cuda") return Cuda(0);
        if (t.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(t.AsSpan(5), out var i) && i >= 0) return Cuda(i);
        throw new ArgumentException($"unknown device '{s}' (expected cpu, cuda or cuda:N)", nameof(s));
    }

    public override string ToString() => Type == DeviceType.Cpu ? "cpu" : $"cuda:{Math.Max(Index, 0)}";
}

/// <summary>A seeded random number generator for sampling ops (per device).</summary>
public sealed unsafe class Generator : IDisposable
{
    private nint _h;

    public Generator(ulong seed, Device? device = null)
    {
        var d = device ?? Device.Cpu;
        nint h;
        Native.Check(Native.dt_generator_new((int)d.Type, d.Index, seed, &h));
        _h = h;
        Device = d;
    }

    public Device Device { get; }

    internal nint Handle => _h != 0 ? _h : throw new ObjectDisposedException(nameof(Generator));

    /// <summary>The seed this generator was last seeded with.</summary>
    public ulong Seed
    {
        get { ulong s; Native.Check(Native.dt_generator_seed(Handle, &s)); GC.KeepAlive(this); return s; }
        set { Native.Check(Native.dt_generator_set_seed(Handle, value)); GC.KeepAlive(this); }
    }

    /// <summary>Full RNG state as a uint8 tensor (for checkpoints).</summary>
    public Tensor GetState()
    {
        nint t;
        Native.Check(Native.dt_generator_get_state(Handle, &t));
        GC.KeepAlive(this);
        return new Tensor(t);
    }

    public void SetState(Tensor state)
    {
        Native.Check(Native.dt_generator_set_state(Handle, state.Handle));
        GC.KeepAlive(this);
        GC.KeepAlive(state);
    }

    public void Dispose()
    {
        var h = _h;
        if (h == 0) return;
        _h = 0;
        Native.dt_generator_free(h);
        GC.SuppressFinalize(this);
    }

    ~Generator()
    {
        if (_h != 0) Native.dt_generator_free(_h);
    }
}
