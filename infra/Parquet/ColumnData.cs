using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Dreamer.Parquet;

/// <summary>One level of list nesting: list i spans child slots Offsets[i]..Offsets[i+1].</summary>
public sealed class ListLevel
{
    public ListLevel(int[] offsets, bool[]? validity = null)
    {
        if (offsets.Length == 0 || offsets[0] != 0) throw new ArgumentException("list offsets start with 0 and have Count+1 entries", nameof(offsets));
        for (int i = 1; i < offsets.Length; i++)
            if (offsets[i] < offsets[i - 1]) throw new ArgumentException("list offsets must not decrease", nameof(offsets));
        if (validity != null && validity.Length != offsets.Length - 1) throw new ArgumentException("one validity entry per list", nameof(validity));
        Offsets = offsets;
        Validity = validity;
    }

    public int[] Offsets { get; }
    /// <summary>False marks a null list (as opposed to an empty one); null = every list present.</summary>
    public bool[]? Validity { get; }
    public int Count => Offsets.Length - 1;
    public bool IsNull(int i) => Validity != null && !Validity[i];
}

/// <summary>
/// A batch of one leaf column in columnar form, the unit the writer takes and the reader returns.
/// Values occupy one slot per row (or per list element, for list columns); a null slot holds a
/// default value and is marked false in <see cref="Validity"/>.
/// <list type="bullet">
/// <item>BOOLEAN, INT32, INT64, FLOAT, DOUBLE: <see cref="Values"/> is a bool[], int[] (or uint[]), long[] (or ulong[]), float[], double[].</item>
/// <item>BYTE_ARRAY: <see cref="Bytes"/> holds the concatenated values, slot i is Bytes[Offsets[i]..Offsets[i+1]].</item>
/// <item>FIXED_LEN_BYTE_ARRAY and INT96: the first Count * width bytes of <see cref="Bytes"/> (the writer also takes a Half[] in Values for FLOAT16).</item>
/// </list>
/// </summary>
public sealed class ColumnData
{
    private ColumnData(int count, Array? values, byte[]? bytes, int[]? offsets, int fixedWidth, bool[]? validity, ListLevel[] lists)
    {
        if (validity != null && validity.Length != count) throw new ArgumentException($"validity has {validity.Length} entries for {count} values");
        if (offsets != null && offsets.Length != count + 1) throw new ArgumentException("binary offsets need Count+1 entries");
        if (lists.Length > 0 && lists[^1].Offsets[^1] != count)
            throw new ArgumentException($"the innermost list offsets end at {lists[^1].Offsets[^1]}, but there are {count} values");
        for (int i = 1; i < lists.Length; i++)
            if (lists[i - 1].Offsets[^1] != lists[i].Count) throw new ArgumentException("nested list offsets do not line up");
        Count = count;
        Values = values;
        Bytes = bytes;
        Offsets = offsets;
        FixedWidth = fixedWidth;
        Validity = validity;
        Lists = lists;
    }

    /// <summary>Number of value slots (rows for flat columns, innermost elements for lists).</summary>
    public int Count { get; }
    public Array? Values { get; }
    public byte[]? Bytes { get; }
    public int[]? Offsets { get; }
    /// <summary>Width of each value in <see cref="Bytes"/> when the values are fixed-size (0 for variable-length).</summary>
    public int FixedWidth { get; }
    public bool[]? Validity { get; }
    /// <summary>List nesting, outermost first; empty for flat columns.</summary>
    public IReadOnlyList<ListLevel> Lists { get; }
    public int RowCount => Lists.Count == 0 ? Count : Lists[0].Count;

    public bool IsNull(int slot) => Validity != null && !Validity[slot];

    public static ColumnData Primitive<T>(T[] values, bool[]? validity = null) where T : unmanaged =>
        new(values.Length, values, null, null, 0, validity, []);

    /// <summary>Copies a span into a new batch (for callers whose data lives outside an array).</summary>
    public static ColumnData FromSpan<T>(ReadOnlySpan<T> values, ReadOnlySpan<bool> validity = default) where T : unmanaged =>
        Primitive(values.ToArray(), validity.IsEmpty ? null : validity.ToArray());

    /// <summary>Variable-length values: slot i is data[offsets[i]..offsets[i+1]].</summary>
    public static ColumnData Binary(byte[] data, int[] offsets, bool[]? validity = null)
    {
        if (offsets.Length == 0 || offsets[0] < 0 || offsets[^1] > data.Length) throw new ArgumentException("offsets out of the data's range");
        for (int i = 1; i < offsets.Length; i++)
            if (offsets[i] < offsets[i - 1]) throw new ArgumentException("binary offsets must not decrease", nameof(offsets));
        return new(offsets.Length - 1, null, data, offsets, 0, validity, []);
    }

    public static ColumnData Binary(IReadOnlyList<byte[]?> values)
    {
        var offsets = new int[values.Count + 1];
        bool[]? validity = null;
        long total = 0;
        for (int i = 0; i < values.Count; i++) total += values[i]?.Length ?? 0;
        var data = new byte[checked((int)total)];
        int pos = 0;
        for (int i = 0; i < values.Count; i++)
        {
            if (values[i] is { } v) { v.CopyTo(data, pos); pos += v.Length; }
            else (validity ??= NewAllValid(values.Count))[i] = false;
            offsets[i + 1] = pos;
        }
        return new(values.Count, null, data, offsets, 0, validity, []);
    }

    public static ColumnData Strings(IReadOnlyList<string?> values)
    {
        var offsets = new int[values.Count + 1];
        bool[]? validity = null;
        long total = 0;
        for (int i = 0; i < values.Count; i++) total += values[i] is { } s ? Encoding.UTF8.GetByteCount(s) : 0;
        var data = new byte[checked((int)total)];
        int pos = 0;
        for (int i = 0; i < values.Count; i++)
        {
            if (values[i] is { } s) pos += Encoding.UTF8.GetBytes(s, data.AsSpan(pos));
            else (validity ??= NewAllValid(values.Count))[i] = false;
            offsets[i + 1] = pos;
        }
        return new(values.Count, null, data, offsets, 0, validity, []);
    }

    /// <summary>Fixed-size values packed back to back (data.Length = count * width).</summary>
    public static ColumnData Fixed(byte[] data, int width, bool[]? validity = null)
    {
        if (width <= 0 || data.Length % width != 0) throw new ArgumentException($"data length {data.Length} is not a multiple of width {width}");
        return new(data.Length / width, null, data, null, width, validity, []);
    }

    /// <summary>The first count fixed-size values of data (data may be longer, e.g. a reused buffer).</summary>
    public static ColumnData Fixed(byte[] data, int width, int count, bool[]? validity = null)
    {
        if (width <= 0 || count < 0 || (long)count * width > data.Length) throw new ArgumentException($"{count} values of width {width} do not fit {data.Length} bytes");
        return new(count, null, data, null, width, validity, []);
    }

    /// <summary>Wraps element values into lists: list i holds elements offsets[i]..offsets[i+1].</summary>
    public static ColumnData List(ColumnData elements, int[] offsets, bool[]? validity = null) =>
        new(elements.Count, elements.Values, elements.Bytes, elements.Offsets, elements.FixedWidth, elements.Validity,
            [new ListLevel(offsets, validity), .. elements.Lists]);

    internal static ColumnData Create(int count, Array? values, byte[]? bytes, int[]? offsets, int fixedWidth, bool[]? validity, ListLevel[] lists) =>
        new(count, values, bytes, offsets, fixedWidth, validity, lists);

    internal static bool[] NewAllValid(int n)
    {
        var v = new bool[n];
        v.AsSpan().Fill(true);
        return v;
    }

    /// <summary>The fixed-size values reinterpreted as T (e.g. uint over INT32, Half over FLOAT16 bytes).</summary>
    public ReadOnlySpan<T> GetValues<T>() where T : unmanaged
    {
        ReadOnlySpan<byte> raw;
        if (Values != null) raw = RawBytes(Values);
        else if (Bytes != null && Offsets == null) raw = Bytes.AsSpan(0, Count * FixedWidth);
        else throw new InvalidOperationException("variable-length values: use GetBytes or GetString");
        if (raw.Length != Count * Unsafe.SizeOf<T>())
            throw new InvalidOperationException($"values are {raw.Length / Math.Max(1, Count)} bytes wide, {typeof(T).Name} is {Unsafe.SizeOf<T>()}");
        return MemoryMarshal.Cast<byte, T>(raw);
    }

    public ReadOnlySpan<byte> GetBytes(int slot)
    {
        if (Bytes == null) throw new InvalidOperationException("not a byte-array column");
        if (Offsets != null) return Bytes.AsSpan(Offsets[slot], Offsets[slot + 1] - Offsets[slot]);
        return Bytes.AsSpan(slot * FixedWidth, FixedWidth);
    }

    public string? GetString(int slot) => IsNull(slot) ? null : Encoding.UTF8.GetString(GetBytes(slot));

    /// <summary>The bytes of any unmanaged-element array, without copying.</summary>
    internal static ReadOnlySpan<byte> RawBytes(Array array)
    {
        int size = array switch
        {
            bool[] or byte[] or sbyte[] => 1,
            short[] or ushort[] or Half[] => 2,
            int[] or uint[] or float[] => 4,
            long[] or ulong[] or double[] => 8,
            _ => throw new ArgumentException($"unsupported value array type {array.GetType().Name}"),
        };
        return MemoryMarshal.CreateReadOnlySpan(ref MemoryMarshal.GetArrayDataReference(array), array.Length * size);
    }

    /// <summary>Joins batches of the same column (e.g. one per row group) into one.</summary>
    public static ColumnData Concat(IReadOnlyList<ColumnData> parts)
    {
        if (parts.Count == 1) return parts[0];
        if (parts.Count == 0) throw new ArgumentException("nothing to concatenate");
        var first = parts[0];
        int count = parts.Sum(p => p.Count);
        bool[]? validity = parts.Any(p => p.Validity != null) ? new bool[count] : null;
        Array? values = null;
        byte[]? bytes = null;
        int[]? offsets = null;
        int pos = 0, bytePos = 0;
        if (first.Values != null) values = Array.CreateInstance(first.Values.GetType().GetElementType()!, count);
        else
        {
            bytes = new byte[parts.Sum(p => p.Offsets != null ? p.Offsets[^1] - p.Offsets[0] : p.Count * p.FixedWidth)];
            if (first.Offsets != null) offsets = new int[count + 1];
        }
        foreach (var p in parts)
        {
            if (values != null) Array.Copy(p.Values!, 0, values, pos, p.Count);
            else if (offsets != null)
            {
                int start = p.Offsets![0], len = p.Offsets[^1] - start;
                p.Bytes.AsSpan(start, len).CopyTo(bytes.AsSpan(bytePos));
                for (int i = 0; i < p.Count; i++) offsets[pos + i + 1] = p.Offsets[i + 1] - start + bytePos;
                bytePos += len;
            }
            else
            {
                p.Bytes.AsSpan(0, p.Count * p.FixedWidth).CopyTo(bytes.AsSpan(bytePos));
                bytePos += p.Count * p.FixedWidth;
            }
            if (validity != null)
            {
                if (p.Validity != null) p.Validity.CopyTo(validity, pos);
                else validity.AsSpan(pos, p.Count).Fill(true);
            }
            pos += p.Count;
        }
        var lists = new ListLevel[first.Lists.Count];
        for (int l = 0; l < lists.Length; l++)
        {
            int n = parts.Sum(p => p.Lists[l].Count);
            var off = new int[n + 1];
            bool[]? lv = parts.Any(p => p.Lists[l].Validity != null) ? new bool[n] : null;
            int at = 0, basis = 0;
            foreach (var p in parts)
            {
                var level = p.Lists[l];
                for (int i = 0; i < level.Count; i++) off[at + i + 1] = level.Offsets[i + 1] + basis;
                if (lv != null)
                {
                    if (level.Validity != null) level.Validity.CopyTo(lv, at);
                    else lv.AsSpan(at, level.Count).Fill(true);
                }
                at += level.Count;
                basis += level.Offsets[^1];
            }
            lists[l] = new ListLevel(off, lv);
        }
        return new(count, values, bytes, offsets, first.FixedWidth, validity, lists);
    }
}
