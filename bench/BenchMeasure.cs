using System.Diagnostics;
using Dreamer.Hosting;
using Dreamer.Stages.TrainDynamics;

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

    /// <summary>Median seconds of <paramref name="action"/> over <paramref name="reps"/> timed runs after <paramref name="warmup"/> untimed ones.</summary>
    public static double MedianSeconds(Action action, int warmup, int reps)
    {
        for (var i = 0; i < warmup; i++) action();
        var times = new List<double>();
        for (var i = 0; i < reps; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            times.Add(clock.Elapsed.TotalSeconds);
        }
        return Median(times);
    }

    /// <summary>
    /// FLOP/s of a 1024 x 1024 float32 matmul measured now, with the BLAS on every core whatever the run uses:
    /// the machine's peak that model FLOP utilisation divides by. The fastest of the repetitions, not the median: a peak is
    /// what the machine can do, and on a shared 2-core VM the median of 7 read 86 and 174 GFLOP/s in two runs a minute apart.
    /// </summary>
    public static double MatmulPeak(bool quick)
    {
        const long n = 1024;
        var blas = Torch.BlasThreads;
        if (blas != null) Torch.BlasThreads = Environment.ProcessorCount;
        try { return 2.0 * n * n * n / Matmul(n, quick ? 5 : 15, fastest: true); }
        finally { if (blas != null) Torch.BlasThreads = blas; }
    }

    /// <summary>Median (or fastest) seconds of an n x n float32 matmul.</summary>
    public static double Matmul(long n, int reps, bool fastest = false)
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
        return fastest ? times.Min() : Median(times);
    }
}

/// <summary>
/// The options the model benchmarks (tokenize, dynamics) share: --quick, --preset tiny|small|base, --threads N
/// (libtorch's pool), --blas-threads N (OpenBLAS's own pool, default: Torch.UseThreads's rule).
/// </summary>
public sealed record ModelBenchOptions(bool Quick, string Preset, int Threads, int BlasThreads)
{
    /// <summary>Parses the options and sets libtorch's threads; null, after saying why on stderr, for an unknown preset or an option without its value.</summary>
    /// <param name="defaultThreads">threads when --threads is not given (null: one per core)</param>
    public static ModelBenchOptions? Parse(string bench, string[] args, IReadOnlyList<string> presets, int? defaultThreads = null)
    {
        var quick = args.Contains("--quick");
        string? Option(string name) => Value(args, name);
        string preset;
        try
        {
            preset = Option("--preset") ?? "small";
            Option("--threads");
            Option("--blas-threads");
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"bench {bench}: {e.Message}");
            return null;
        }
        if (!presets.Contains(preset))
        {
            Console.Error.WriteLine($"bench {bench}: unknown preset '{preset}' (known: {string.Join(", ", presets)})");
            return null;
        }
        var threads = int.TryParse(Option("--threads"), out var t) && t > 0 ? t : defaultThreads ?? Environment.ProcessorCount;
        Torch.UseThreads(threads, int.TryParse(Option("--blas-threads"), out var b) && b > 0 ? b : null);
        return new ModelBenchOptions(quick, preset, threads, Torch.BlasThreads ?? 0);
    }

    /// <summary>
    /// The train-dynamics settings a model bench runs: the bench's preset, then <paramref name="defaults"/>, then each
    /// `--set TrainDynamics:Key=Value` of the command line. No DREAMER__ environment layer: a bench run is what its command line says.
    /// </summary>
    /// <exception cref="StageInputException">an unknown key or a value that does not parse</exception>
    /// <exception cref="ArgumentException">a --set without its value</exception>
    public TrainDynamicsSection DynamicsSection(string[] args, params string[] defaults) =>
        StageConfiguration.Load<TrainDynamicsConfig>(
            new ConfigSources(null, [$"TrainDynamics:Preset={Preset}", .. defaults, .. Values(args, "--set")]), new Dictionary<string, string?>()).TrainDynamics;

    /// <summary>The value after the first `name` in args, or null when the option is absent.</summary>
    /// <exception cref="ArgumentException">the option ends the line, with no value after it</exception>
    public static string? Value(string[] args, string name) => Values(args, name).FirstOrDefault();

    /// <summary>The value after every `name` in args (e.g. each --set), in order.</summary>
    /// <exception cref="ArgumentException">the option ends the line, with no value after it</exception>
    public static IEnumerable<string> Values(string[] args, string name)
    {
        for (var i = 0; i < args.Length; i++)
            if (args[i] == name)
                yield return i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{name} needs a value after it");
    }
}
