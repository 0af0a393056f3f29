using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Dreamer.Torch.Tests;

public class SafetensorsTests
{
    private static string TempFile() => Path.Combine(Path.GetTempPath(), $"st-{Guid.NewGuid():N}.safetensors");

    private static Dictionary<string, Tensor> Sample()
    {
        var g = new Generator(11);
        return new Dictionary<string, Tensor>
        {
            ["w.f32"] = Torch.Randn([3, 5], g),
            ["b.f16"] = Torch.Randn([7], g).To(DType.Float16),
            ["c.bf16"] = Torch.Randn([2, 2], g).To(DType.BFloat16),
            ["d.i64"] = Torch.Randint(-100, 100, [4], g),
            ["e.i32"] = Torch.Randint(-100, 100, [2, 3], g, DType.Int32),
            ["f.u8"] = Torch.Randint(0, 256, [5], g, DType.UInt8),
            ["g.bool"] = Torch.Randn([6], g) > 0.0,
            ["h.f64"] = Torch.Randn([2], g, DType.Float64),
            ["scalar"] = Tensor.Scalar(3.25),
            ["empty"] = Torch.Zeros([0, 3]),
            ["strided"] = Torch.Randn([4, 3], g).Transpose(0, 1),
        };
    }

    [Fact]
    public void RoundTripKeepsValuesDtypesShapesAndMetadata()
    {
        using var scope = Torch.NewDisposeScope();
        var tensors = Sample();
        var meta = new Dictionary<string, string> { ["step"] = "12", ["config"] = "{\"a\": 1}" };
        var path = TempFile();
        try
        {
            Safetensors.Save(path, tensors, meta);
            using var f = Safetensors.Load(path);
            Assert.Equal(meta, f.Metadata);
            Assert.Equal(tensors.Keys.Order(), f.Tensors.Keys.Order());
            foreach (var (name, t) in tensors)
            {
                var r = f[name];
                Assert.Equal(t.DType, r.DType);
                Assert.Equal(t.Shape, r.Shape);
                Assert.Equal(t.ToBytes(), r.ToBytes());
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void HeaderFollowsThePublishedLayout()
    {
        using var scope = Torch.NewDisposeScope();
        var path = TempFile();
        try
        {
            Safetensors.Save(path, new Dictionary<string, Tensor>
            {
                ["zeta"] = Torch.From(new float[] { 1, 2 }),
                ["alpha"] = Torch.From(new long[] { 7 }),
            }, new Dictionary<string, string> { ["k"] = "v" });
            var bytes = File.ReadAllBytes(path);
            var n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            Assert.Equal(0, n % 8);
            Assert.Equal(8 + n + 8 + 8, bytes.Length);
            var header = Encoding.UTF8.GetString(bytes, 8, (int)n);
            Assert.Equal(header.TrimEnd(' ').Length + (header.Length - header.TrimEnd(' ').Length), header.Length);
            using var doc = JsonDocument.Parse(header);
            var names = doc.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
            Assert.Equal(new[] { "__metadata__", "alpha", "zeta" }, names);
            var alpha = doc.RootElement.GetProperty("alpha");
            Assert.Equal("I64", alpha.GetProperty("dtype").GetString());
            Assert.Equal(new long[] { 0, 8 }, alpha.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
            Assert.Equal(new long[] { 8, 16 }, doc.RootElement.GetProperty("zeta").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
            Assert.Equal(7, BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan((int)(8 + n))));
            Assert.Equal(2f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan((int)(8 + n + 12))));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void RejectsCorruptFiles()
    {
        var bad = new MemoryStream();
        var json = Encoding.UTF8.GetBytes("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}");
        var len = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)json.Length);
        bad.Write(len);
        bad.Write(json);
        bad.Write(new byte[4]);
        bad.Position = 0;
        Assert.Throws<InvalidDataException>(() => Safetensors.Load(bad));
        var huge = new MemoryStream(new byte[] { 255, 255, 255, 255, 255, 255, 255, 255 });
        Assert.Throws<InvalidDataException>(() => Safetensors.Load(huge));
    }

    [PythonTorchFact]
    public void PythonReadsWhatWeWrite()
    {
        using var scope = Torch.NewDisposeScope();
        var tensors = Sample();
        var path = TempFile();
        try
        {
            Safetensors.Save(path, tensors, new Dictionary<string, string> { ["who"] = "dotnet" });
            // Parse with json+struct and torch.frombuffer (no safetensors package): print each tensor's
            // dtype, shape and float64 sum; compare with ours.
            const string script = """
                import json, struct, sys, torch
                names = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
                         "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8, "BOOL": torch.bool}
                data = open(sys.argv[1], "rb").read()
                n = struct.unpack("<Q", data[:8])[0]
                assert n % 8 == 0
                header = json.loads(data[8:8 + n])
                base = 8 + n
                print("meta", header.pop("__metadata__")["who"])
                end = 0
                for name in sorted(header):
                    e = header[name]
                    b, f = e["data_offsets"]
                    assert b == end, name
                    end = f
                    raw = bytearray(data[base + b:base + f])
                    t = torch.frombuffer(raw, dtype=names[e["dtype"]]) if raw else torch.empty(0, dtype=names[e["dtype"]])
                    t = t.reshape(e["shape"])
                    print(name, e["dtype"], list(t.shape), repr(t.double().sum().item()))
                assert base + end == len(data)
                """;
            var output = PythonTorch.Run(script, path);
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("meta dotnet", lines[0]);
            foreach (var line in lines.Skip(1))
            {
                var parts = line.Split(' ', 3);
                var t = tensors[parts[0]];
                Assert.Equal(Safetensors.DTypeName(t.DType), parts[1]);
                Assert.Equal("[" + string.Join(", ", t.Shape) + "]", parts[2][..(parts[2].LastIndexOf(']') + 1)]);
                var pySum = double.Parse(parts[2][(parts[2].LastIndexOf(']') + 2)..], System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal(t.To(DType.Float64).Sum().ToDouble(), pySum, 9);
            }
            Assert.Equal(tensors.Count, lines.Length - 1);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

/// <summary>A fact that is skipped, saying why, when /usr/bin/python3 cannot import torch.</summary>
public sealed class PythonTorchFactAttribute : FactAttribute
{
    public PythonTorchFactAttribute()
    {
        if (!PythonTorch.Available) Skip = "/usr/bin/python3 with torch is not installed (apt install python3-torch); cross-check with Python skipped";
    }
}

internal static class PythonTorch
{
    public const string Python = "/usr/bin/python3";
    private static readonly Lazy<bool> s_available = new(() =>
    {
        try
        {
            return File.Exists(Python) && Run("import torch; print(torch.__version__)").Length > 0;
        }
        catch (Exception)
        {
            return false;
        }
    });

    public static bool Available => s_available.Value;

    public static string Run(string script, params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"python failed ({p.ExitCode}): {stderr.Result}");
        return stdout;
    }
}
