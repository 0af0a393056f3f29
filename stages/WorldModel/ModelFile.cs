using Dreamer.Torch;
using Dreamer.Torch.NN;

namespace Dreamer.WorldModel;

/// <summary>
/// What <see cref="TokenizerFile"/> and <see cref="DynamicsFile"/> share: a module's weights as one safetensors
/// file whose metadata carries what rebuilds the module (its configuration as JSON), so a downstream stage
/// loads it without the training settings.
/// </summary>
internal static class ModelFile
{
    /// <summary>Writes the weights; metadata: <paramref name="extra"/>, then the entries that rebuild the module (which win).</summary>
    public static void Save(Stream stream, Module model, IReadOnlyDictionary<string, string>? extra,
        IEnumerable<KeyValuePair<string, string>> rebuild)
    {
        var metadata = new Dictionary<string, string>(extra ?? new Dictionary<string, string>());
        foreach (var (key, value) in rebuild) metadata[key] = value;
        Safetensors.Save(stream, model.StateDict(), metadata);
    }

    /// <summary>
    /// Rebuilds a module from a file written by <see cref="Save"/>: <paramref name="build"/> makes it from the metadata
    /// (every key of <paramref name="required"/> present), then the weights are loaded and it is put on
    /// <paramref name="device"/> in eval mode; disposed again when that fails.
    /// </summary>
    public static T Load<T>(Stream stream, Device? device, string kind, IReadOnlyList<string> required,
        Func<IReadOnlyDictionary<string, string>, T> build) where T : Module
    {
        using var file = Safetensors.Load(stream);
        if (required.Any(key => !file.Metadata.ContainsKey(key)))
            throw new InvalidDataException($"not a {kind} file: safetensors metadata {string.Join(" or ", required.Select(k => $"'{k}'"))} is missing");
        var model = build(file.Metadata);
        try
        {
            model.LoadStateDict(file.Tensors);
            if (device is { } d && d != Device.Cpu) model.To(d);
            model.Eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
