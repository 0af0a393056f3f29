using System.Text.Json;
using Dreamer.Torch;

namespace Dreamer.WorldModel;

/// <summary>
/// A trained dynamics model as one safetensors file: the weights, with the model configuration and the
/// action space as JSON metadata, so play and imagination rebuild it without the training settings.
/// </summary>
public static class DynamicsFile
{
    public const string ConfigKey = "dynamics_config";
    public const string ActionsKey = "action_space";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false, Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    public static string ConfigJson(DynamicsConfig config) => JsonSerializer.Serialize(config, Json);

    public static DynamicsConfig ParseConfig(string json) =>
        JsonSerializer.Deserialize<DynamicsConfig>(json, Json) ?? throw new InvalidDataException("dynamics config JSON is empty");

    public static void Save(Stream stream, DynamicsModel model, IReadOnlyDictionary<string, string>? extra = null) =>
        ModelFile.Save(stream, model, extra, new Dictionary<string, string>
        {
            [ConfigKey] = ConfigJson(model.Config),
            [ActionsKey] = ActionComponentSpec.ToJson(model.ActionSpace).ToJsonString(),
        });

    /// <summary>Rebuilds the model from a file written by <see cref="Save"/>, in eval mode, on <paramref name="device"/>.</summary>
    public static DynamicsModel Load(Stream stream, Device? device = null) =>
        ModelFile.Load(stream, device, "dynamics", [ConfigKey, ActionsKey], metadata =>
            new DynamicsModel(ParseConfig(metadata[ConfigKey]), ActionComponentSpec.ListFromJson(System.Text.Json.Nodes.JsonNode.Parse(metadata[ActionsKey]))));
}
