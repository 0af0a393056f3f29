using Dreamer.Torch;

namespace Dreamer.WorldModel;

using Torch = Dreamer.Torch.Torch;

/// <summary>
/// The perceptual term of the tokenizer loss. Images are [N, C, H, W] in [0, 1]; the result is a scalar
/// where lower is better and identical images give 0. Implementations own their weights (if any).
/// </summary>
public interface IPerceptualLoss : IDisposable
{
    string Name { get; }

    Tensor Forward(Tensor prediction, Tensor target);
}

/// <summary>The perceptual terms by name: none, ssim, gradient, lpips (weights from a safetensors file).</summary>
public static class PerceptualLosses
{
    public static readonly IReadOnlyList<string> Names = ["none", "ssim", "gradient", "lpips"];

    /// <summary>Null for "none".</summary>
    public static IPerceptualLoss? Create(string name, string? lpipsWeights = null, Device? device = null) => name switch
    {
        "none" => null,
        "ssim" => new SsimLoss(),
        "gradient" => new GradientLoss(),
        "lpips" => LpipsLoss.Load(lpipsWeights ?? throw new ArgumentException("the lpips perceptual term needs a weights file (LpipsWeights)"), device),
        _ => throw new ArgumentException($"unknown perceptual term '{name}' (known: {string.Join(", ", Names)})"),
    };
}

/// <summary>Image quality measures shared by the losses and the evaluation.</summary>
public static class ImageMetrics
{
    /// <summary>Smallest mean squared error PSNR counts: exact copies read 100 dB.</summary>
    public const double MinMse = 1e-10;

    /// <summary>Per-image PSNR in dB of [N, ...] images in [0, 1] (capped at 100 dB for exact copies).</summary>
    public static Tensor Psnr(Tensor prediction, Tensor target)
    {
        using var scope = Torch.NewDisposeScope();
        var n = prediction.Size(0);
        var mse = (prediction - target).Square().Reshape(n, -1).Mean(1).Clamp(MinMse, null);
        return (mse.Log() * (-10 / Math.Log(10))).MoveToOuterScope();
    }

    /// <summary>PSNR in dB (peak 1) of a mean squared error, capped as the per-image one.</summary>
    public static double PsnrOfMse(double mse) => -10 * Math.Log10(Math.Max(mse, MinMse));

    /// <summary>1-D Gaussian window (sums to 1).</summary>
    public static float[] Gaussian(int size, double sigma)
    {
        var w = new double[size];
        for (var i = 0; i < size; i++)
        {
            var d = i - (size - 1) / 2.0;
            w[i] = Math.Exp(-d * d / (2 * sigma * sigma));
        }
        var sum = w.Sum();
        return w.Select(v => (float)(v / sum)).ToArray();
    }

    /// <summary>
    /// Per-image SSIM of [N, C, H, W] images in [0, 1]: 11x11 Gaussian window (sigma 1.5), valid
    /// positions only, C1 = 0.01^2, C2 = 0.03^2, averaged over channels and positions (Wang et al. 2004).
    /// </summary>
    public static Tensor Ssim(Tensor x, Tensor y, int window = 11, double sigma = 1.5)
    {
        using var scope = Torch.NewDisposeScope();
        var s = x.Shape;
        long n = s[0], c = s[1], h = s[2], w = s[3];
        if (h < window || w < window) window = (int)Math.Min(h, w) | 1;
        // The separable Gaussian blur as two matrix products with banded [L, L-window+1] matrices:
        // much faster on CPU than a depthwise convolution, forward and backward.
        var blurW = Banded(w, window, sigma, x);
        var blurH = Banded(h, window, sigma, x);
        var stacked = Torch.Cat([x, y, x * x, y * y, x * y], 1);
        var blurred = blurH.MT.MatMul(stacked.MatMul(blurW));
        var parts = blurred.Chunk(5, 1);
        var (mx, my) = (parts[0], parts[1]);
        var mxx = mx * mx;
        var myy = my * my;
        var mxy = mx * my;
        var vx = parts[2] - mxx;
        var vy = parts[3] - myy;
        var cxy = parts[4] - mxy;
        const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
        var num = (mxy * 2 + c1) * (cxy * 2 + c2);
        var den = (mxx + myy + c1) * (vx + vy + c2);
        return (num / den).Reshape(n, -1).Mean(1).MoveToOuterScope();
    }

    /// <summary>[length, length - window + 1]: column j holds the Gaussian window at rows j..j+window-1.</summary>
    private static Tensor Banded(long length, int window, double sigma, Tensor like)
    {
        var g = Gaussian(window, sigma);
        var outputs = length - window + 1;
        var m = new float[length * outputs];
        for (var j = 0; j < outputs; j++)
            for (var k = 0; k < window; k++) m[(j + k) * outputs + j] = g[k];
        using var cpu = Tensor.From<float>(m, length, outputs);
        return cpu.To(like.DType, like.Device);
    }
}

/// <summary>1 - SSIM: local structure and contrast, which plain MSE under-weights on flat game tiles.</summary>
public sealed class SsimLoss(int window = 11, double sigma = 1.5) : IPerceptualLoss
{
    public string Name => "ssim";

    public Tensor Forward(Tensor prediction, Tensor target)
    {
        using var scope = Torch.NewDisposeScope();
        var ssim = ImageMetrics.Ssim(prediction, target, window, sigma).Mean();
        return (1 - ssim).MoveToOuterScope();
    }

    public void Dispose() { }
}

/// <summary>
/// Multi-scale gradient loss: L1 between horizontal and vertical finite differences of prediction and
/// target at 1x, 1/2 and 1/4 resolution (average pooling). Rewards sharp edges that MSE blurs.
/// </summary>
public sealed class GradientLoss(int scales = 3) : IPerceptualLoss
{
    private static readonly Op AvgPool2d = Torch.FindOp("aten::avg_pool2d");

    public string Name => "gradient";

    public Tensor Forward(Tensor prediction, Tensor target)
    {
        using var scope = Torch.NewDisposeScope();
        var total = Torch.Zeros([], prediction.DType, prediction.Device);
        Tensor p = prediction, t = target;
        for (var s = 0; s < scales; s++)
        {
            if (s > 0)
            {
                if (p.Size(2) < 4 || p.Size(3) < 4) break;
                p = AvgPool2d.Call(p, new long[] { 2, 2 });
                t = AvgPool2d.Call(t, new long[] { 2, 2 });
            }
            var h = p.Size(2);
            var w = p.Size(3);
            var dxp = p.Narrow(3, 1, w - 1) - p.Narrow(3, 0, w - 1);
            var dxt = t.Narrow(3, 1, w - 1) - t.Narrow(3, 0, w - 1);
            var dyp = p.Narrow(2, 1, h - 1) - p.Narrow(2, 0, h - 1);
            var dyt = t.Narrow(2, 1, h - 1) - t.Narrow(2, 0, h - 1);
            total = total + (dxp - dxt).Abs().Mean() + (dyp - dyt).Abs().Mean();
        }
        return (total * (1.0 / scales)).MoveToOuterScope();
    }

    public void Dispose() { }
}

/// <summary>
/// LPIPS (Zhang et al. 2018) with the AlexNet backbone, from a user-supplied safetensors file (see
/// stages/WorldModel/README.md for the export): tensors features.{0,3,6,8,10}.{weight,bias} (torchvision
/// AlexNet convolutions) and lin{0..4}.weight (the 1x1 LPIPS heads, [1, C, 1, 1]). The network is frozen.
/// </summary>
public sealed class LpipsLoss : IPerceptualLoss
{
    private static readonly Op Conv2d = Torch.FindOp("aten::conv2d");
    private static readonly Op MaxPool2d = Torch.FindOp("aten::max_pool2d");
    private static readonly int[] ConvIndex = [0, 3, 6, 8, 10];
    private static readonly long[] Strides = [4, 1, 1, 1, 1];
    private static readonly long[] Paddings = [2, 2, 1, 1, 1];
    // The LPIPS scaling layer: inputs in [-1, 1] shifted and scaled per channel.
    private static readonly float[] Shift = [-0.030f, -0.088f, -0.188f];
    private static readonly float[] Scale = [0.458f, 0.448f, 0.450f];

    private readonly Tensor[] _weights = new Tensor[5];
    private readonly Tensor[] _biases = new Tensor[5];
    private readonly Tensor[] _lins = new Tensor[5];
    private readonly Tensor _shift;
    private readonly Tensor _scale;

    private LpipsLoss(SafetensorsFile file, Device device)
    {
        Tensor Take(string name)
        {
            if (!file.Tensors.TryGetValue(name, out var t)) throw new InvalidDataException($"LPIPS weights: tensor '{name}' is missing (see stages/WorldModel/README.md)");
            return t.To(DType.Float32, device).Detach().DetachFromScopes();
        }
        for (var i = 0; i < 5; i++)
        {
            _weights[i] = Take($"features.{ConvIndex[i]}.weight");
            _biases[i] = Take($"features.{ConvIndex[i]}.bias");
            _lins[i] = Take($"lin{i}.weight");
            var channels = _weights[i].Size(0);
            if (_lins[i].NumEl != channels) throw new InvalidDataException($"LPIPS weights: lin{i}.weight has {_lins[i].NumEl} values, expected {channels}");
            using var lin = _lins[i];
            _lins[i] = lin.Reshape(1, channels, 1, 1).Contiguous().DetachFromScopes();
        }
        using var shift = Tensor.From<float>(Shift, 1, 3, 1, 1);
        using var scale = Tensor.From<float>(Scale, 1, 3, 1, 1);
        _shift = shift.To(device).DetachFromScopes();
        _scale = scale.To(device).DetachFromScopes();
    }

    public static LpipsLoss Load(string path, Device? device = null)
    {
        using var file = Safetensors.Load(path);
        return new LpipsLoss(file, device ?? Device.Cpu);
    }

    public string Name => "lpips";

    public Tensor Forward(Tensor prediction, Tensor target)
    {
        using var scope = Torch.NewDisposeScope();
        var a = Features(prediction);
        var b = Features(target);
        var total = Torch.Zeros([], prediction.DType, prediction.Device);
        for (var i = 0; i < 5; i++)
        {
            var d = (Normalize(a[i]) - Normalize(b[i])).Square();
            var weighted = Conv2d.Call(d, _lins[i]);
            total = total + weighted.Mean(new long[] { 1, 2, 3 }).Mean();
        }
        return total.MoveToOuterScope();
    }

    private static Tensor Normalize(Tensor x)
    {
        var norm = x.Square().Sum(1, keepDim: true).Sqrt();
        return x / (norm + 1e-10);
    }

    /// <summary>The five ReLU outputs of AlexNet's feature stack for [0, 1] images.</summary>
    private Tensor[] Features(Tensor images)
    {
        if (images.Size(1) != 3) throw new ArgumentException("LPIPS expects RGB images [N, 3, H, W]");
        var x = (images * 2 - 1 - _shift) / _scale;
        var outs = new Tensor[5];
        for (var i = 0; i < 5; i++)
        {
            if (i is 1 or 2) x = MaxPool2d.Call(x, new long[] { 3, 3 }, new long[] { 2, 2 });
            x = Conv2d.Call(x, _weights[i], _biases[i], new long[] { Strides[i], Strides[i] }, new long[] { Paddings[i], Paddings[i] }).Relu();
            outs[i] = x;
        }
        return outs;
    }

    public void Dispose()
    {
        foreach (var t in _weights.Concat(_biases).Concat(_lins)) t.Dispose();
        _shift.Dispose();
        _scale.Dispose();
    }
}
