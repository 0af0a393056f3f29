namespace Dreamer.Parquet.Encodings;

/// <summary>
/// Decoded non-null values of a column chunk in one physical form: fixed-size values packed
/// back to back (booleans one byte each), or variable-length values as bytes plus offsets.
/// It grows with the data actually decoded, never with a count read from the file.
/// </summary>
internal sealed class ValueBuffer
{
    public ValueBuffer(int width)
    {
        Width = width;
        Offsets = width == 0 ? new int[64] : [];
    }

    public int Width { get; }
    public byte[] Data = new byte[256];
    public int DataLength;
    public int[] Offsets; // variable-length only: Offsets[0..Count]
    public int Count;

    private void EnsureData(int extra)
    {
        if ((long)DataLength + extra > Array.MaxLength) throw new InvalidDataException("column chunk values exceed 2 GB");
        if (DataLength + extra > Data.Length) Reserve((int)Math.Min(Array.MaxLength, Math.Max((long)Data.Length * 2, DataLength + extra)));
    }

    /// <summary>Grows the data capacity to at least capacity bytes (contents kept, new space not zeroed).</summary>
    public void Reserve(int capacity)
    {
        if (capacity <= Data.Length) return;
        var bigger = GC.AllocateUninitializedArray<byte>(capacity);
        Data.AsSpan(0, DataLength).CopyTo(bigger);
        Data = bigger;
    }

    /// <summary>Grows the offsets of a variable-length buffer to hold at least count values.</summary>
    public void ReserveCount(int count)
    {
        if (Width == 0 && count + 1 > Offsets.Length) Array.Resize(ref Offsets, count + 1);
    }

    /// <summary>Reserves count fixed-size values and returns their bytes for the caller to fill.</summary>
    public Span<byte> AppendFixed(int count)
    {
        int bytes = checked(count * Width);
        EnsureData(bytes);
        var s = Data.AsSpan(DataLength, bytes);
        DataLength += bytes;
        Count += count;
        return s;
    }

    public void AppendVar(ReadOnlySpan<byte> value)
    {
        EnsureData(value.Length);
        value.CopyTo(Data.AsSpan(DataLength));
        DataLength += value.Length;
        if (Count + 1 >= Offsets.Length) Array.Resize(ref Offsets, Offsets.Length * 2);
        Offsets[++Count] = DataLength;
    }

    public ReadOnlySpan<byte> Get(int i) => Width > 0
        ? Data.AsSpan(i * Width, Width)
        : Data.AsSpan(Offsets[i], Offsets[i + 1] - Offsets[i]);
}
