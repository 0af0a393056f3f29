using System.Text.Json.Nodes;
using Dreamer.Torch;
using Dreamer.Torch.NN;

namespace Dreamer.WorldModel;

using Torch = Dreamer.Torch.Torch;

/// <summary>A training loop whose whole state a checkpoint carries (<see cref="TokenizerTrainer"/>, <see cref="DynamicsTrainer"/>).</summary>
public interface ICheckpointedTrainer
{
    long Step { get; }

    /// <summary>Throws <see cref="NonFiniteLossException"/> when any weight is NaN or infinite (never checkpoint those).</summary>
    void EnsureFiniteWeights();

    /// <summary>Weights, optimizer moments (copies the caller disposes) and a JSON state with "step", "rng", "cursor" and any other entries.</summary>
    (Dictionary<string, Tensor> Model, Dictionary<string, Tensor> Optimizer, JsonObject State) CaptureState();

    /// <summary>Restores a state written by <see cref="CaptureState"/> (same configuration and data).</summary>
    void RestoreState(IReadOnlyDictionary<string, Tensor> model, IReadOnlyDictionary<string, Tensor> optimizer, JsonObject state);
}

/// <summary>
/// A trainer's state in the form a checkpoint stores it: weights and optimizer moments as safetensors bytes
/// (the files <see cref="ModelFile"/> and <see cref="OptimizerFile"/>), the generator state (<see cref="Rng"/>),
/// the data cursor, and the trainer's other state (<see cref="Extra"/>, e.g. loss normalisers), beside which a
/// stage keeps its own entries (an evaluation curve): <see cref="RestoreInto"/> hands the trainer what it reads.
/// </summary>
public sealed record TrainerCheckpoint(long Step, ArraySegment<byte> Model, ArraySegment<byte> Optimizer, JsonObject Rng, JsonObject Cursor,
    JsonObject Extra)
{
    public const string ModelFile = "model.safetensors";
    public const string OptimizerFile = "optimizer.safetensors";

    /// <summary>
    /// The trainer's state now, with the stage's own entries (<paramref name="stageExtra"/>) after the trainer's in
    /// <see cref="Extra"/>; throws <see cref="NonFiniteLossException"/> first when a weight is not finite.
    /// </summary>
    public static TrainerCheckpoint Capture(ICheckpointedTrainer trainer, JsonObject? stageExtra = null)
    {
        trainer.EnsureFiniteWeights();
        var (model, optimizer, state) = trainer.CaptureState();
        var modelBytes = new MemoryStream();
        var optimizerBytes = new MemoryStream();
        try
        {
            Safetensors.Save(modelBytes, model, new Dictionary<string, string> { ["step"] = trainer.Step.ToString() });
            Safetensors.Save(optimizerBytes, optimizer);
        }
        finally
        {
            foreach (var t in optimizer.Values) t.Dispose();
        }
        var extra = new JsonObject();
        foreach (var (key, value) in state)
            if (key is not ("step" or "rng" or "cursor")) extra[key] = value?.DeepClone();
        foreach (var (key, value) in stageExtra ?? [])
            extra[key] = value?.DeepClone();
        return new TrainerCheckpoint(trainer.Step, Written(modelBytes), Written(optimizerBytes),
            state["rng"]!.DeepClone().AsObject(), state["cursor"]!.DeepClone().AsObject(), extra);
    }

    private static ArraySegment<byte> Written(MemoryStream stream) => stream.TryGetBuffer(out var buffer) ? buffer : stream.ToArray();

    /// <summary>The two safetensors files, by name, as the checkpoint store takes them.</summary>
    public IReadOnlyDictionary<string, Stream> Files() => new Dictionary<string, Stream>
    {
        [ModelFile] = Open(Model),
        [OptimizerFile] = Open(Optimizer),
    };

    private static MemoryStream Open(ArraySegment<byte> bytes) => new(bytes.Array!, bytes.Offset, bytes.Count, writable: false);

    /// <summary>Puts the trainer back into this state (entries of <see cref="Extra"/> it does not know are ignored).</summary>
    public void RestoreInto(ICheckpointedTrainer trainer)
    {
        using var weights = Safetensors.Load(Open(Model));
        using var moments = Safetensors.Load(Open(Optimizer));
        var state = new JsonObject
        {
            ["step"] = Step,
            ["rng"] = Rng.DeepClone(),
            ["cursor"] = Cursor.DeepClone(),
        };
        foreach (var (key, value) in Extra)
            if (!state.ContainsKey(key)) state[key] = value?.DeepClone();
        trainer.RestoreState(weights.Tensors, moments.Tensors, state);
    }
}

/// <summary>Pieces of a trainer's state both trainers keep the same way.</summary>
internal static class TrainerState
{
    /// <summary>A generator's state as base64 text (for the "rng" entry).</summary>
    public static string Capture(Generator generator)
    {
        using (Torch.NewDisposeScope()) return Convert.ToBase64String(generator.GetState().To(Device.Cpu).ToBytes());
    }

    public static void Restore(Generator generator, string state)
    {
        var bytes = Convert.FromBase64String(state);
        using var rng = Tensor.FromBytes(bytes, DType.UInt8, bytes.Length);
        generator.SetState(rng);
    }

    /// <summary>
    /// Throws <see cref="NonFiniteLossException"/> when any weight is NaN or infinite: an update can blow the
    /// weights up while its own loss was still finite, and such weights must never reach a checkpoint.
    /// </summary>
    public static void EnsureFiniteWeights(Module model, long step)
    {
        using var scope = Torch.NewDisposeScope();
        using var noGrad = Torch.NoGrad();
        foreach (var (name, p) in model.NamedParameters())
            if (p.IsFinite().LogicalNot().Any().ToBoolean())
                throw new NonFiniteLossException(step, $"parameter {name} is not finite after the update");
    }
}
