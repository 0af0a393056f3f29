using Dreamer.Torch;

namespace Dreamer.WorldModel.Tests;

using Torch = Dreamer.Torch.Torch;

public sealed class PerceptualTests
{
    [Fact]
    public void PsnrOfAConstantOffset()
    {
        using var scope = Torch.NewDisposeScope();
        var x = Torch.Full([2, 3, 8, 8], 0.5);
        var psnr = ImageMetrics.Psnr(x + 0.1, x).ToArray<float>();
        Assert.All(psnr, v => Assert.Equal(20.0, v, 3));
    }

    // Direct per-pixel SSIM with the same valid 11x11 Gaussian window, for one channel.
    private static double NaiveSsim(float[] a, float[] b, int h, int w)
    {
        var g = ImageMetrics.Gaussian(11, 1.5);
        double total = 0;
        var count = 0;
        for (var y = 0; y + 11 <= h; y++)
            for (var x = 0; x + 11 <= w; x++)
            {
                double ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
                for (var i = 0; i < 11; i++)
                    for (var j = 0; j < 11; j++)
                    {
                        double wt = g[i] * g[j], va = a[(y + i) * w + x + j], vb = b[(y + i) * w + x + j];
                        ma += wt * va; mb += wt * vb; saa += wt * va * va; sbb += wt * vb * vb; sab += wt * va * vb;
                    }
                double c1 = 1e-4, c2 = 9e-4, va2 = saa - ma * ma, vb2 = sbb - mb * mb, cov = sab - ma * mb;
                total += (2 * ma * mb + c1) * (2 * cov + c2) / ((ma * ma + mb * mb + c1) * (va2 + vb2 + c2));
                count++;
            }
        return total / count;
    }

    [Fact]
    public void SsimMatchesADirectComputation()
    {
        using var scope = Torch.NewDisposeScope();
        using var g = new Generator(1);
        var a = Torch.Rand([1, 1, 20, 24], g);
        var b = (a * 0.7 + Torch.Rand([1, 1, 20, 24], g) * 0.3).Contiguous();
        var ours = ImageMetrics.Ssim(a, b).ToArray<float>()[0];
        Assert.Equal(NaiveSsim(a.ToArray<float>(), b.ToArray<float>(), 20, 24), ours, 4);
        Assert.Equal(1.0, ImageMetrics.Ssim(a, a).ToArray<float>()[0], 5);
    }

    [Theory]
    [InlineData("ssim")]
    [InlineData("gradient")]
    public void BuiltInTermsAreZeroForCopiesAndDifferentiable(string name)
    {
        using var scope = Torch.NewDisposeScope();
        using var loss = PerceptualLosses.Create(name)!;
        using var g = new Generator(2);
        var target = Torch.Rand([2, 3, 32, 32], g);
        Assert.True(loss.Forward(target, target).ToDouble() < 1e-6);
        var prediction = Torch.Rand([2, 3, 32, 32], g).RequiresGrad_();
        var value = loss.Forward(prediction, target);
        Assert.True(value.ToDouble() > 0.01);
        value.Backward();
        Assert.True(prediction.Grad!.Abs().Sum().ToDouble() > 0);
    }

    [Fact]
    public void LpipsLoadsUserWeightsFromSafetensors()
    {
        using var scope = Torch.NewDisposeScope();
        var path = Path.Combine(Path.GetTempPath(), $"lpips-{Guid.NewGuid():N}.safetensors");
        using var g = new Generator(3);
        // AlexNet-LPIPS shapes with random values: the export format, not the trained network.
        (string Name, long[] Shape)[] shapes =
        [
            ("features.0", [64, 3, 11, 11]), ("features.3", [192, 64, 5, 5]), ("features.6", [384, 192, 3, 3]),
            ("features.8", [256, 384, 3, 3]), ("features.10", [256, 256, 3, 3]),
        ];
        var tensors = new Dictionary<string, Tensor>();
        for (var i = 0; i < shapes.Length; i++)
        {
            var (name, shape) = shapes[i];
            tensors[name + ".weight"] = Torch.Randn(shape, g) * 0.05;
            tensors[name + ".bias"] = Torch.Zeros([shape[0]]);
            tensors[$"lin{i}.weight"] = Torch.Rand([1, shape[0], 1, 1], g);
        }
        try
        {
            Safetensors.Save(path, tensors);
            using var lpips = PerceptualLosses.Create("lpips", path)!;
            Assert.Equal("lpips", lpips.Name);
            var target = Torch.Rand([2, 3, 64, 64], g);
            Assert.True(lpips.Forward(target, target).ToDouble() < 1e-6);
            var prediction = Torch.Rand([2, 3, 64, 64], g).RequiresGrad_();
            var value = lpips.Forward(prediction, target);
            Assert.True(value.ToDouble() > 0);
            value.Backward();
            Assert.True(prediction.Grad!.Abs().Sum().ToDouble() > 0);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void LpipsNamesTheMissingTensor()
    {
        var path = Path.Combine(Path.GetTempPath(), $"lpips-{Guid.NewGuid():N}.safetensors");
        using (var one = Torch.Zeros([1]))
            Safetensors.Save(path, new Dictionary<string, Tensor> { ["unrelated"] = one });
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => LpipsLoss.Load(path));
            Assert.Contains("features.0.weight", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
