using Dreamer.Torch;

namespace Dreamer.WorldModel;

using Torch = Dreamer.Torch.Torch;

/// <summary>
/// What the configuration sections of the training stages (Tokenizer, TrainDynamics) share: the preset, how a
/// run uses the machine (device, threads, determinism, seed, checkpoints kept, lease) and the optimisation
/// overrides, where null keeps the preset's value. Keys live under the stage's own section (e.g. Tokenizer:Threads).
/// </summary>
public abstract class TrainingSection(string section)
{
    public string Preset { get; set; } = "small";
    /// <summary>cpu, cuda or cuda:N.</summary>
    public string Device { get; set; } = "cpu";
    /// <summary>libtorch intra-op threads; 0: one per core. On a busy shared machine 1 is often fastest.</summary>
    public int Threads { get; set; }
    /// <summary>OpenBLAS's own pool; 0: 1 when Threads is above 1, else one per core (see Torch.UseThreads).</summary>
    public int BlasThreads { get; set; }
    /// <summary>Deterministic algorithms only, so a resumed run reaches the same weights as an uninterrupted one.</summary>
    public bool Deterministic { get; set; } = true;
    /// <summary>Initialisation, data order, the training noise (MAE masks, flow noise) and evaluation sampling; --seed overrides it.</summary>
    public long Seed { get; set; } = 1;
    public int KeepCheckpoints { get; set; } = 3;
    /// <summary>Seconds a training (or shard) lease lasts without renewal (a dead worker's work is taken over after it).</summary>
    public int LeaseSeconds { get; set; } = 60;

    public int? Steps { get; set; }
    public int? BatchSize { get; set; }
    public int? SequenceLength { get; set; }
    public double? LearningRate { get; set; }
    public double? MinLearningRateRatio { get; set; }
    public int? WarmupSteps { get; set; }
    public double? WeightDecay { get; set; }
    public double? Beta1 { get; set; }
    public double? Beta2 { get; set; }
    public double? GradClip { get; set; }
    public double? WeightAverage { get; set; }
    public int? EvalEvery { get; set; }
    public int? EvalWindows { get; set; }
    public int? CheckpointEvery { get; set; }

    /// <summary>Why <see cref="Preset"/> is not one of <paramref name="presets"/>, or null.</summary>
    protected string? PresetProblem(IReadOnlyList<string> presets) =>
        presets.Contains(Preset) ? null : $"{section}:Preset must be one of {string.Join(", ", presets)} (got '{Preset}')";

    /// <summary>Problems with the run settings (device, threads, checkpoints kept, lease), each naming its key.</summary>
    protected IEnumerable<string> RunProblems()
    {
        string? deviceProblem = null;
        try
        {
            Dreamer.Torch.Device.Parse(Device);
        }
        catch (ArgumentException e)
        {
            deviceProblem = $"{section}:Device: {e.Message}";
        }
        if (deviceProblem != null) yield return deviceProblem;
        if (Threads < 0) yield return $"{section}:Threads must not be negative (got {Threads})";
        if (BlasThreads < 0) yield return $"{section}:BlasThreads must not be negative (got {BlasThreads})";
        if (KeepCheckpoints < 1) yield return $"{section}:KeepCheckpoints must be at least 1 (got {KeepCheckpoints})";
        if (LeaseSeconds is < 15 or > 60) yield return $"{section}:LeaseSeconds must lie in 15..60, the blob lease range (got {LeaseSeconds})";
    }

    /// <summary>
    /// Why the configured device cannot train on this machine, or null: a CUDA device needs a CUDA build of
    /// libtorch, and deterministic cuBLAS a fixed workspace, read from the process environment at start-up.
    /// </summary>
    public string? DeviceProblem()
    {
        var device = Dreamer.Torch.Device.Parse(Device);
        if (device.Type == DeviceType.Cuda && !Torch.CudaIsAvailable)
            return $"{section}:Device = {Device}, but this libtorch has no CUDA device";
        if (device.Type == DeviceType.Cuda && Deterministic && Environment.GetEnvironmentVariable("CUBLAS_WORKSPACE_CONFIG") == null)
            return $"{section}:Deterministic on CUDA needs CUBLAS_WORKSPACE_CONFIG=:4096:8 in the environment (or set {section}:Deterministic=false)";
        return null;
    }

    /// <summary>Sets libtorch's and the BLAS's threads (0: automatic) and determinism for this run; returns the device to train on.</summary>
    public Device UseDevice()
    {
        Torch.UseThreads(Threads > 0 ? Threads : Environment.ProcessorCount, BlasThreads > 0 ? BlasThreads : null);
        Torch.DeterministicAlgorithms = Deterministic;
        return Dreamer.Torch.Device.Parse(Device);
    }
}
