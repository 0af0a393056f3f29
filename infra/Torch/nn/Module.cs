namespace Dreamer.Torch.NN;

/// <summary>
/// Base of all layers: named parameters, buffers and submodules in registration order (names
/// like "blocks.0.attn.wq.weight", as in PyTorch). Parameters and buffers are owned by the
/// module, never by a dispose scope; Dispose frees them.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<KeyValuePair<string, Tensor>> _parameters = [];
    private readonly List<KeyValuePair<string, Tensor>> _buffers = [];
    private readonly List<KeyValuePair<string, Module>> _modules = [];
    private bool _disposed;

    public bool Training { get; private set; } = true;

    protected Tensor RegisterParameter(string name, Tensor value)
    {
        CheckName(name);
        value.DetachFromScopes();
        value.RequiresGrad = true;
        _parameters.Add(new(name, value));
        return value;
    }

    protected Tensor RegisterBuffer(string name, Tensor value)
    {
        CheckName(name);
        value.DetachFromScopes();
        _buffers.Add(new(name, value));
        return value;
    }

    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        _modules.Add(new(name, module));
        return module;
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"invalid member name '{name}' (non-empty, no dots)", nameof(name));
        if (_parameters.Exists(p => p.Key == name) || _buffers.Exists(p => p.Key == name) || _modules.Exists(p => p.Key == name))
            throw new ArgumentException($"'{name}' is already registered on {GetType().Name}", nameof(name));
    }

    /// <summary>All parameters, recursively, with dotted names.</summary>
    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters(string prefix = "")
    {
        foreach (var (n, p) in _parameters) yield return (prefix + n, p);
        foreach (var (n, m) in _modules)
            foreach (var x in m.NamedParameters(prefix + n + ".")) yield return x;
    }

    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Parameter);

    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers(string prefix = "")
    {
        foreach (var (n, b) in _buffers) yield return (prefix + n, b);
        foreach (var (n, m) in _modules)
            foreach (var x in m.NamedBuffers(prefix + n + ".")) yield return x;
    }

    public IEnumerable<(string Name, Module Module)> NamedChildren() => _modules.Select(kv => (kv.Key, kv.Value));

    /// <summary>This module and all descendants with dotted names ("" for this one).</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules(string prefix = "")
    {
        yield return (prefix.TrimEnd('.'), this);
        foreach (var (n, m) in _modules)
            foreach (var x in m.NamedModules(prefix + n + ".")) yield return x;
    }

    public long ParameterCount() => Parameters().Sum(p => p.NumEl);

    public Module Train(bool training = true)
    {
        Training = training;
        foreach (var (_, m) in _modules) m.Train(training);
        return this;
    }

    public Module Eval() => Train(false);

    /// <summary>Moves parameters and buffers to a device (identity of the Tensor objects is kept).</summary>
    public Module To(Device device) => Convert(null, device);

    /// <summary>Casts floating-point parameters and buffers to dtype.</summary>
    public Module To(DType dtype) => Convert(dtype, null);

    public Module To(DType dtype, Device device) => Convert(dtype, device);

    private Module Convert(DType? dtype, Device? device)
    {
        using var noGrad = Torch.NoGrad();
        for (var i = 0; i < _parameters.Count; i++) ConvertInPlace(_parameters[i].Value, dtype, device, isParameter: true);
        for (var i = 0; i < _buffers.Count; i++) ConvertInPlace(_buffers[i].Value, dtype, device, isParameter: false);
        foreach (var (_, m) in _modules) m.Convert(dtype, device);
        return this;
    }

    private static void ConvertInPlace(Tensor t, DType? dtype, Device? device, bool isParameter)
    {
        var cur = t.DType;
        var target = dtype is { } d && cur.IsFloatingPoint() ? d : cur;
        var dev = device ?? t.Device;
        if (target == cur && dev == t.Device) return;
        var requires = t.RequiresGrad;
        using var converted = t.To(target, dev);
        var fresh = converted.Detach();
        t.ReplaceWith(fresh);
        if (isParameter) t.RequiresGrad = requires;
    }

    /// <summary>Parameters then buffers by dotted name. The tensors are the module's own: do not dispose them.</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (n, p) in NamedParameters()) d[n] = p;
        foreach (var (n, b) in NamedBuffers()) d[n] = b;
        return d;
    }

    /// <summary>
    /// Copies values into this module's parameters and buffers (converting dtype/device). With
    /// strict, missing and unexpected keys are errors; shapes must always match.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        var own = StateDict();
        if (strict)
        {
            var missing = own.Keys.Where(k => !state.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
            var unexpected = state.Keys.Where(k => !own.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
            if (missing.Count > 0 || unexpected.Count > 0)
                throw new ArgumentException(
                    $"state dict does not match {GetType().Name}: missing [{string.Join(", ", missing)}], unexpected [{string.Join(", ", unexpected)}]");
        }
        using var noGrad = Torch.NoGrad();
        foreach (var (name, target) in own)
        {
            if (!state.TryGetValue(name, out var src)) continue;
            var ts = target.Shape;
            var ss = src.Shape;
            if (!ts.AsSpan().SequenceEqual(ss))
                throw new ArgumentException($"shape mismatch for '{name}': module has {Tensor.ShapeString(ts)}, state dict has {Tensor.ShapeString(ss)}");
            target.CopyFrom_(src);
        }
    }

    /// <summary>Clears the gradients of all parameters.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.Grad = null;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var (_, p) in _parameters) p.Dispose();
        foreach (var (_, b) in _buffers) b.Dispose();
        foreach (var (_, m) in _modules) m.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>An indexable list of submodules registered as "0", "1", ...</summary>
public sealed class ModuleList<T> : Module, IReadOnlyList<T> where T : Module
{
    private readonly List<T> _items = [];

    public ModuleList(IEnumerable<T>? items = null)
    {
        if (items != null)
            foreach (var m in items) Add(m);
    }

    public void Add(T module)
    {
        RegisterModule(_items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module);
        _items.Add(module);
    }

    public T this[int index] => _items[index];
    public int Count => _items.Count;
    public IEnumerator<T> GetEnumerator() => _items.GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
