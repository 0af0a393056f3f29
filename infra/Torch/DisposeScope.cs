namespace Dreamer.Torch;

/// <summary>
/// Owns every tensor created on this thread while it is the innermost scope and frees them
/// when disposed. A tensor leaves only on purpose: <see cref="Keep"/>, <see cref="Tensor.MoveToOuterScope"/>
/// or <see cref="Tensor.DetachFromScopes"/>. Scopes nest and are strictly per thread.
/// </summary>
public sealed class DisposeScope : IDisposable
{
    [ThreadStatic] private static DisposeScope? t_current;

    private Tensor?[] _items = new Tensor?[64];
    private int _count;
    private bool _disposed;
    private readonly int _threadId = Environment.CurrentManagedThreadId;

    internal DisposeScope()
    {
        Outer = t_current;
        t_current = this;
    }

    /// <summary>The scope this one is nested in, if any.</summary>
    public DisposeScope? Outer { get; }

    /// <summary>The nearest enclosing scope that is still open.</summary>
    internal DisposeScope? LiveOuter
    {
        get
        {
            var o = Outer;
            while (o is { _disposed: true }) o = o.Outer;
            return o;
        }
    }

    /// <summary>The innermost scope of the calling thread.</summary>
    public static DisposeScope? Current => t_current;

    /// <summary>Number of tensors currently owned (disposed or moved-out ones excluded).</summary>
    public int Count
    {
        get
        {
            var n = 0;
            for (var i = 0; i < _count; i++) if (_items[i] != null) n++;
            return n;
        }
    }

    internal static void Register(Tensor t)
    {
        var s = t_current;
        if (s == null) return;
        if (s._disposed) s = t_current = s.LiveOuter;
        s?.Add(t);
    }

    internal void Add(Tensor t)
    {
        if (_count == _items.Length) Compact();
        t.Scope = this;
        t.ScopeIndex = _count;
        _items[_count++] = t;
    }

    // Drops released slots before growing, so long loops that dispose eagerly stay bounded.
    private void Compact()
    {
        var w = 0;
        for (var r = 0; r < _count; r++)
        {
            var t = _items[r];
            if (t == null) continue;
            t.ScopeIndex = w;
            _items[w++] = t;
        }
        Array.Clear(_items, w, _count - w);
        _count = w;
        if (_count > _items.Length / 2) Array.Resize(ref _items, _items.Length * 2);
    }

    internal void Release(Tensor t)
    {
        var i = t.ScopeIndex;
        if (i < _count && ReferenceEquals(_items[i], t)) _items[i] = null;
        t.Scope = null;
    }

    /// <summary>Removes <paramref name="t"/> from this scope: the caller now owns it.</summary>
    public Tensor Keep(Tensor t)
    {
        if (t.Scope == this) Release(t);
        return t;
    }

    /// <summary>Keeps several tensors.</summary>
    public void Keep(params ReadOnlySpan<Tensor> tensors)
    {
        foreach (var t in tensors) Keep(t);
    }

    public void Dispose()
    {
        if (_disposed) return;
        if (Environment.CurrentManagedThreadId != _threadId)
            throw new InvalidOperationException("a DisposeScope must be disposed on the thread that created it");
        _disposed = true;
        for (var i = 0; i < _count; i++)
        {
            var t = _items[i];
            if (t == null) continue;
            _items[i] = null;
            t.Scope = null;
            t.Dispose();
        }
        _count = 0;
        // Out-of-order disposal: an inner scope still open keeps working; a disposed scope is
        // never made current again.
        if (t_current == this) t_current = LiveOuter;
    }
}
