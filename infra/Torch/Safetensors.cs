using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Dreamer.Torch;

/// <summary>Named tensors and string metadata read from a safetensors file.</summary>
public sealed class SafetensorsFile : IDisposable
{
    internal SafetensorsFile(Dictionary<string, Tensor> tensors, Dictionary<string, string> metadata)
    {
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>Tensors by name, owned by this object (not by any dispose scope).</summary>
    public Dictionary<string, Tensor> Tensors { get; }

    public Dictionary<string, string> Metadata { get; }

    public Tensor this[string name] => Tensors[name];

    public void Dispose()
    {
        foreach (var t in Tensors.Values) t.Dispose();
        Tensors.Clear();
    }
}

/// <summary>
/// The safetensors format: u64 little-endian header length, a JSON header (tensor name to dtype,
/// shape, data_offsets; optional "__metadata__" of strings) padded with spaces to 8 bytes, then the
/// raw little-endian tensor bytes. We write entries sorted by name with data in that order.
/// </summary>
public static class Safetensors
{
    private const long MaxHeader = 100L << 20;

    public static string DTypeName(DType t) => t switch
    {
        DType.Float32 => "F32",
        DType.Float16 => "F16",
        DType.BFloat16 => "BF16",
        DType.Float64 => "F64",
        DType.Int64 => "I64",
        DType.Int32 => "I32",
        DType.Int16 => "I16",
        DType.Int8 => "I8",
        DType.UInt8 => "U8",
        DType.Bool => "BOOL",
        _ => throw new NotSupportedException($"dtype {t} has no safetensors name"),
    };

    public static DType ParseDType(string s) => s switch
    {
        "F32" => DType.Float32,
        "F16" => DType.Float16,
        "BF16" => DType.BFloat16,
        "F64" => DType.Float64,
        "I64" => DType.Int64,
        "I32" => DType.Int32,
        "I16" => DType.Int16,
        "I8" => DType.Int8,
        "U8" => DType.UInt8,
        "BOOL" => DType.Bool,
        _ => throw new InvalidDataException($"unsupported safetensors dtype '{s}'"),
    };

    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        // Write-then-rename so a crash never leaves a truncated file under the final name.
        var tmp = path + ".tmp-" + Environment.ProcessId;
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            Save(fs, tensors, metadata);
            fs.Flush(true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    public static void Save(Stream stream, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var names = tensors.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
        var header = new MemoryStream();
        var offsets = new long[names.Length + 1];
        var sizes = new long[names.Length];
        using (var w = new Utf8JsonWriter(header))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(k, v);
                w.WriteEndObject();
            }
            for (var i = 0; i < names.Length; i++)
            {
                if (names[i] == "__metadata__") throw new ArgumentException("'__metadata__' is reserved");
                var t = tensors[names[i]];
                sizes[i] = t.NumEl * t.DType.ElementSize();
                offsets[i + 1] = offsets[i] + sizes[i];
                w.WriteStartObject(names[i]);
                w.WriteString("dtype", DTypeName(t.DType));
                w.WriteStartArray("shape");
                foreach (var d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offsets[i]);
                w.WriteNumberValue(offsets[i + 1]);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        var json = header.ToArray();
        var padded = (json.Length + 7) / 8 * 8;
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
        stream.Write(len);
        stream.Write(json);
        for (var i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
        foreach (var n in names) WriteData(stream, tensors[n]);
    }

    private static unsafe void WriteData(Stream stream, Tensor t)
    {
        var cpu = t.Device.Type == DeviceType.Cpu && t.IsContiguous ? t : t.To(Device.Cpu).Contiguous();
        try
        {
            var bytes = cpu.NumEl * cpu.DType.ElementSize();
            var p = (byte*)cpu.DataPointer;
            for (long o = 0; o < bytes; o += int.MaxValue / 2)
                stream.Write(new ReadOnlySpan<byte>(p + o, (int)Math.Min(int.MaxValue / 2, bytes - o)));
            GC.KeepAlive(cpu);
        }
        finally
        {
            if (!ReferenceEquals(cpu, t)) cpu.Dispose();
        }
    }

    public static SafetensorsFile Load(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Load(fs);
    }

    /// <summary>Reads a whole safetensors stream; tensors are CPU and read straight into their storage.</summary>
    public static unsafe SafetensorsFile Load(Stream stream)
    {
        var json = ReadHeaderBytes(stream);
        var entries = new List<(string Name, DType DType, long[] Shape, long Begin, long End)>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        using (var doc = JsonDocument.Parse(json))
        {
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    ReadMetadataInto(prop.Value, metadata);
                    continue;
                }
                var dtype = ParseDType(prop.Value.GetProperty("dtype").GetString()!);
                var shape = prop.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                var off = prop.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                if (off.Length != 2 || off[0] < 0 || off[1] < off[0]) throw new InvalidDataException($"bad data_offsets for '{prop.Name}'");
                var expected = shape.Aggregate(1L, (a, b) => checked(a * b)) * dtype.ElementSize();
                if (off[1] - off[0] != expected)
                    throw new InvalidDataException($"'{prop.Name}': {off[1] - off[0]} bytes for shape {Tensor.ShapeString(shape)} of {dtype}");
                entries.Add((prop.Name, dtype, shape, off[0], off[1]));
            }
        }
        // Read in file order so the stream is consumed sequentially (works for network streams too).
        entries.Sort((a, b) => a.Begin.CompareTo(b.Begin));
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        long pos = 0;
        try
        {
            foreach (var e in entries)
            {
                if (e.Begin < pos) throw new InvalidDataException($"'{e.Name}' overlaps the previous tensor");
                Skip(stream, e.Begin - pos);
                var t = Torch.Empty(e.Shape, e.DType).DetachFromScopes();
                tensors[e.Name] = t;
                var total = e.End - e.Begin;
                var p = (byte*)t.DataPointer;
                for (long o = 0; o < total; o += int.MaxValue / 2)
                    stream.ReadExactly(new Span<byte>(p + o, (int)Math.Min(int.MaxValue / 2, total - o)));
                pos = e.End;
            }
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
        return new SafetensorsFile(tensors, metadata);
    }

    private static void Skip(Stream s, long n)
    {
        if (n == 0) return;
        if (s.CanSeek)
        {
            s.Seek(n, SeekOrigin.Current);
            return;
        }
        var buf = new byte[Math.Min(n, 1 << 16)];
        while (n > 0)
        {
            var r = s.Read(buf, 0, (int)Math.Min(buf.Length, n));
            if (r <= 0) throw new EndOfStreamException();
            n -= r;
        }
    }

    /// <summary>Header text of a safetensors file (for inspection and tests).</summary>
    public static string ReadHeader(string path)
    {
        using var fs = File.OpenRead(path);
        return Encoding.UTF8.GetString(ReadHeaderBytes(fs));
    }

    /// <summary>The "__metadata__" entries alone, read from the header without the tensors (empty when there are none).</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(Stream stream)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        using var doc = JsonDocument.Parse(ReadHeaderBytes(stream));
        if (doc.RootElement.TryGetProperty("__metadata__", out var entries)) ReadMetadataInto(entries, metadata);
        return metadata;
    }

    /// <summary>The JSON header after its 8-byte little-endian length.</summary>
    private static byte[] ReadHeaderBytes(Stream stream)
    {
        Span<byte> len = stackalloc byte[8];
        stream.ReadExactly(len);
        var headerLen = BinaryPrimitives.ReadUInt64LittleEndian(len);
        if (headerLen > MaxHeader) throw new InvalidDataException($"safetensors header length {headerLen} is implausible");
        var json = new byte[headerLen];
        stream.ReadExactly(json);
        return json;
    }

    private static void ReadMetadataInto(JsonElement entries, Dictionary<string, string> metadata)
    {
        foreach (var m in entries.EnumerateObject())
            metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String
                ? m.Value.GetString()!
                : throw new InvalidDataException($"metadata value '{m.Name}' is not a string");
    }
}
