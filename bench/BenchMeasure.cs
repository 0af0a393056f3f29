using System.Diagnostics;

namespace Dreamer.Bench;

using Torch = Dreamer.Torch.Torch;

/// <summary>Measurements several benchmarks share.</summary>
public static class BenchMeasure
{
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>Median seconds of an n x n float32 matmul (the machine's measured peak for MFU).</summary>
    public static double Matmul(long n, int reps)
    {
        using var a = Torch.Randn([n, n]);
        using var b = Torch.Randn([n, n]);
        for (var i = 0; i < 2; i++) { using var warm = a.MatMul(b); }
        var times = new List<double>();
        for (var i = 0; i < reps; i++)
        {
            var clock = Stopwatch.StartNew();
            using var c = a.MatMul(b);
            times.Add(clock.Elapsed.TotalSeconds);
        }
        return Median(times);
    }
}
