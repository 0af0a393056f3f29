namespace Dreamer.Parquet.Encodings;

/// <summary>A growable int list without List&lt;T&gt;'s per-call overhead (levels, dictionary indices).</summary>
internal sealed class IntBuffer
{
    private int[] _data = new int[256];

    public int Length { get; private set; }
    public ReadOnlySpan<int> Span => _data.AsSpan(0, Length);
    public int this[int i] => _data[i];

    public void Clear() => Length = 0;

    private void Ensure(int extra)
    {
        if (Length + extra > _data.Length) Array.Resize(ref _data, Math.Max(_data.Length * 2, Length + extra));
    }

    public void Add(int v)
    {
        if (Length == _data.Length) Ensure(1);
        _data[Length++] = v;
    }

    public void AddRepeated(int v, int count)
    {
        Ensure(count);
        _data.AsSpan(Length, count).Fill(v);
        Length += count;
    }

    /// <summary>Reserves count entries and returns them for the caller to fill.</summary>
    public Span<int> Append(int count)
    {
        Ensure(count);
        var s = _data.AsSpan(Length, count);
        Length += count;
        return s;
    }

    public void Truncate(int length) => Length = length;

    public int[] ToArray() => _data.AsSpan(0, Length).ToArray();
}
