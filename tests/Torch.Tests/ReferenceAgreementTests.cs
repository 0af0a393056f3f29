using Dreamer.Torch.Optim;

namespace Dreamer.Torch.Tests;

/// <summary>Agreement with python3-torch on data/reference.safetensors (made by data/make_reference.py).</summary>
public class ReferenceAgreementTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly string RefPath = Path.Combine(AppContext.BaseDirectory, "data", "reference.safetensors");

    private static Dictionary<string, Tensor> WithPrefix(SafetensorsFile f, string prefix) =>
        f.Tensors.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);

    private static double MaxAbsDiff(Tensor a, Tensor b)
    {
        Assert.Equal(a.Shape, b.Shape);
        using var d = (a.To(DType.Float64) - b.To(DType.Float64)).Abs().Max();
        return d.ToDouble();
    }

    [Fact]
    public void OutputsGradientsAndAdamWMatchPython()
    {
        using var file = Safetensors.Load(RefPath);
        using var scope = Torch.NewDisposeScope();
        using var model = new ReferenceModel();
        model.LoadStateDict(WithPrefix(file, "param/"), strict: true);
        var tokens = file["input/tokens"];
        var targets = file["input/targets"];

        var logits = model.Forward(tokens);
        Assert.True(MaxAbsDiff(logits, file["expected/logits"]) < 1e-5, $"logits differ by {MaxAbsDiff(logits, file["expected/logits"])}");
        var loss = Torch.CrossEntropy(logits.Reshape(-1, ReferenceModel.V), targets.Reshape(-1));
        Assert.Equal(file["expected/loss"].ToDouble(), loss.ToDouble(), 1e-5);

        output.WriteLine($"max |logits - python| = {MaxAbsDiff(logits, file["expected/logits"]):E2}");
        loss.Backward();
        var grads = WithPrefix(file, "grad/");
        Assert.Equal(grads.Count, model.NamedParameters().Count());
        foreach (var (name, p) in model.NamedParameters())
        {
            var g = p.Grad ?? throw new Xunit.Sdk.XunitException($"no gradient for {name}");
            var diff = MaxAbsDiff(g, grads[name]);
            Assert.True(diff < 1e-5, $"gradient of {name} differs by {diff}");
        }

        output.WriteLine($"max |grad - python| = {model.NamedParameters().Max(p => MaxAbsDiff(p.Parameter.Grad!, grads[p.Name])):E2}");
        model.ZeroGrad();
        model.LoadStateDict(WithPrefix(file, "param/"));
        using var opt = new AdamW(model, lr: 1e-2, weightDecay: 0.1);
        for (var i = 0; i < 3; i++)
        {
            using var stepScope = Torch.NewDisposeScope();
            opt.ZeroGrad();
            model.Loss(tokens, targets).Backward();
            opt.Step();
        }
        var after = WithPrefix(file, "adamw/");
        foreach (var (name, p) in model.NamedParameters())
        {
            var diff = MaxAbsDiff(p, after[name]);
            Assert.True(diff < 1e-5, $"parameter {name} after 3 AdamW steps differs by {diff}");
        }
        output.WriteLine($"max |param after 3 AdamW steps - python| = {model.NamedParameters().Max(p => MaxAbsDiff(p.Parameter, after[p.Name])):E2}");
        var state = opt.StateDict();
        var pyState = WithPrefix(file, "adamw_state/");
        foreach (var (key, t) in pyState)
            Assert.True(MaxAbsDiff(state[key], t) < 1e-6, $"optimizer state {key} differs");
        Assert.Equal(3, state["head.bias.step"].ToInt64());
        foreach (var t in state.Values) t.Dispose();
    }

    [Fact]
    public void ReadsPythonWrittenDtypesAndMetadata()
    {
        using var file = Safetensors.Load(RefPath);
        Assert.Equal("make_reference.py", file.Metadata["creator"]);
        Assert.StartsWith("1.", file.Metadata["torch"]);
        Assert.Equal(new[] { (Half)1.5, (Half)(-2.25), (Half)65504 }, file["misc/f16"].ToArray<Half>());
        Assert.Equal(new float[] { 1.5f, -2.25f }, file["misc/bf16"].To(DType.Float32).ToArray<float>()[..2]);
        Assert.Equal(DType.BFloat16, file["misc/bf16"].DType);
        Assert.Equal(new[] { Math.PI, -Math.E }, file["misc/f64"].ToArray<double>());
        Assert.Equal(new long[] { 1, 2 }, file["misc/f64"].Shape);
        Assert.Equal(new[] { -7, int.MaxValue }, file["misc/i32"].ToArray<int>());
        Assert.Equal(new byte[] { 0, 255, 7 }, file["misc/u8"].ToArray<byte>());
        Assert.Equal(new[] { true, false, true }, file["misc/bool"].ToArray<bool>());
        Assert.Empty(file["misc/scalar"].Shape);
        Assert.Equal(2.5, file["misc/scalar"].ToDouble());
        Assert.Equal(DType.Int64, file["input/tokens"].DType);
    }
}
