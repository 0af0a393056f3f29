using System.Text.Json;
using Dreamer.Torch;

namespace Dreamer.WorldModel;

/// <summary>
/// A trained tokenizer as one safetensors file: the weights, with the model configuration as JSON in
/// the "tokenizer_config" metadata entry, so downstream stages (dynamics, imagination) can rebuild it
/// to decode latents without the tokenize stage's settings.
/// </summary>
public static class TokenizerFile
{
    public const string ConfigKey = "tokenizer_config";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public static string ConfigJson(TokenizerConfig config) => JsonSerializer.Serialize(config, Json);

    public static TokenizerConfig ParseConfig(string json) =>
        JsonSerializer.Deserialize<TokenizerConfig>(json, Json) ?? throw new InvalidDataException("tokenizer config JSON is empty");

    public static void Save(Stream stream, CausalTokenizer model, IReadOnlyDictionary<string, string>? extra = null) =>
        ModelFile.Save(stream, model, extra, new Dictionary<string, string> { [ConfigKey] = ConfigJson(model.Config) });

    /// <summary>The configuration alone, from the file's header (no weights are read or built).</summary>
    public static TokenizerConfig ReadConfig(Stream stream) =>
        Safetensors.ReadMetadata(stream).TryGetValue(ConfigKey, out var json)
            ? ParseConfig(json)
            : throw new InvalidDataException($"not a tokenizer file: safetensors metadata '{ConfigKey}' is missing");

    /// <summary>Rebuilds the tokenizer from a file written by <see cref="Save"/>, in eval mode, on <paramref name="device"/>.</summary>
    public static CausalTokenizer Load(Stream stream, Device? device = null) =>
        ModelFile.Load(stream, device, "tokenizer", [ConfigKey], metadata => new CausalTokenizer(ParseConfig(metadata[ConfigKey])));
}
