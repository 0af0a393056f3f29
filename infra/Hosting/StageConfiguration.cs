using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using YamlDotNet.RepresentationModel;

namespace Dreamer.Hosting;

/// <summary>Marks a configuration value that must never be logged or written into a manifest.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class SecretAttribute : Attribute;

/// <summary>Configuration types validate their values and return one message per problem, naming the key.</summary>
public interface IValidatedConfig
{
    IEnumerable<string> Validate();
}

/// <summary>Bad configuration or input: exit code 2, with a message naming the key and what was expected.</summary>
public sealed class StageInputException(string message, Exception? inner = null) : Exception(message, inner);

/// <param name="File">A json or yaml file, or null.</param>
/// <param name="Sets">`Key:Sub=Value` overrides from the command line.</param>
public sealed record ConfigSources(string? File, IReadOnlyList<string> Sets);

/// <summary>
/// Layers: built-in defaults (the config type's initial values) &lt; file (json/yaml) &lt; environment
/// (DREAMER__Section__Key) &lt; --set Key=Value. Validated up front: unknown keys and bad values are errors.
/// </summary>
public static class StageConfiguration
{
    public const string EnvironmentPrefix = "DREAMER__";

    public static T Load<T>(ConfigSources sources, IReadOnlyDictionary<string, string?>? environment = null) where T : class, new()
    {
        var known = KnownKeys(typeof(T));
        var fileLayer = sources.File == null ? new Dictionary<string, string?>() : ReadFile(sources.File);
        CheckUnknown(fileLayer.Keys, known, $"config file {sources.File}");

        var env = environment ?? System.Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value);
        // Environment variables for sections this stage does not have belong to other stages: ignore them.
        var envLayer = env.Where(e => e.Key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
            .Select(e => (Key: e.Key[EnvironmentPrefix.Length..].Replace("__", ":"), e.Value))
            .Where(e => known.Contains(e.Key) || known.Any(k => k.StartsWith(e.Key.Split(':')[0] + ":", StringComparison.OrdinalIgnoreCase)))
            .ToDictionary(e => e.Key, e => e.Value, StringComparer.OrdinalIgnoreCase);
        CheckUnknown(envLayer.Keys, known, "environment (" + EnvironmentPrefix + "...)");

        var setLayer = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var set in sources.Sets)
        {
            var eq = set.IndexOf('=');
            if (eq <= 0) throw new StageInputException($"--set '{set}': expected Key=Value, e.g. --set Tokenizer:Steps=20000");
            setLayer[set[..eq].Trim().Replace('.', ':')] = set[(eq + 1)..];
        }
        CheckUnknown(setLayer.Keys, known, "--set");

        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(fileLayer)
            .AddInMemoryCollection(envLayer)
            .AddInMemoryCollection(setLayer)
            .Build();
        var result = new T();
        try
        {
            configuration.Bind(result);
        }
        catch (InvalidOperationException e)
        {
            throw new StageInputException($"configuration: {e.Message}{(e.InnerException != null ? " " + e.InnerException.Message : "")}", e);
        }
        if (result is IValidatedConfig validated)
        {
            var problems = validated.Validate().ToList();
            if (problems.Count > 0) throw new StageInputException("configuration: " + string.Join("; ", problems));
        }
        return result;
    }

    /// <summary>The effective configuration as JSON for manifests and ids, with [Secret] values removed.</summary>
    public static JsonObject ToJson<T>(T config) where T : class
    {
        var node = JsonSerializer.SerializeToNode(config, config.GetType(), new JsonSerializerOptions
        {
            NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        })!.AsObject();
        RemoveSecrets(config.GetType(), node);
        return node;
    }

    private static void RemoveSecrets(Type type, JsonObject node)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<SecretAttribute>() != null) node.Remove(property.Name);
            else if (IsSection(property.PropertyType) && node[property.Name] is JsonObject child) RemoveSecrets(property.PropertyType, child);
        }
    }

    private static bool IsSection(Type t) =>
        t.IsClass && t != typeof(string) && !typeof(System.Collections.IEnumerable).IsAssignableFrom(t);

    /// <summary>Every settable key path of a config type ("Section:Key"), case-insensitive. Collections accept any sub-key.</summary>
    internal static HashSet<string> KnownKeys(Type type)
    {
        var keys = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        void Walk(Type t, string prefix, int depth)
        {
            if (depth > 8) return;
            foreach (var p in t.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                var path = prefix + p.Name;
                keys.Add(path);
                if (IsSection(p.PropertyType)) Walk(p.PropertyType, path + ":", depth + 1);
                else if (p.PropertyType != typeof(string) && typeof(System.Collections.IEnumerable).IsAssignableFrom(p.PropertyType))
                    keys.Add(path + ":*");
            }
        }
        Walk(type, "", 0);
        return keys;
    }

    private static void CheckUnknown(IEnumerable<string> keys, HashSet<string> known, string where)
    {
        foreach (var key in keys)
        {
            if (known.Contains(key)) continue;
            var parts = key.Split(':');
            var wildcard = Enumerable.Range(1, parts.Length - 1)
                .Any(n => known.Contains(string.Join(':', parts.Take(n)) + ":*"));
            if (wildcard) continue;
            var section = parts.Length > 1 ? string.Join(':', parts[..^1]) + ":" : "";
            var siblings = known.Where(k => k.StartsWith(section, StringComparison.OrdinalIgnoreCase) &&
                                            k.Split(':').Length == parts.Length && !k.EndsWith('*')).Order().ToList();
            throw new StageInputException($"unknown configuration key '{key}' in {where}" +
                (siblings.Count > 0 ? $"; expected one of: {string.Join(", ", siblings)}" : ""));
        }
    }

    private static Dictionary<string, string?> ReadFile(string path)
    {
        if (!File.Exists(path)) throw new StageInputException($"config file not found: {path}");
        var ext = Path.GetExtension(path).ToLowerInvariant();
        try
        {
            return ext switch
            {
                ".json" => FlattenJson(JsonNode.Parse(File.ReadAllText(path))),
                ".yaml" or ".yml" => FlattenYaml(path),
                _ => throw new StageInputException($"config file {path}: expected a .json, .yaml or .yml file"),
            };
        }
        catch (JsonException e)
        {
            throw new StageInputException($"config file {path}: invalid JSON: {e.Message}", e);
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new StageInputException($"config file {path}: invalid YAML at line {e.Start.Line}: {e.Message}", e);
        }
    }

    private static Dictionary<string, string?> FlattenJson(JsonNode? root)
    {
        var result = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        void Walk(JsonNode? node, string path)
        {
            switch (node)
            {
                case JsonObject obj:
                    foreach (var (k, v) in obj) Walk(v, path.Length == 0 ? k : path + ":" + k);
                    break;
                case JsonArray arr:
                    for (var i = 0; i < arr.Count; i++) Walk(arr[i], path + ":" + i);
                    break;
                case null:
                    result[path] = null;
                    break;
                default:
                    result[path] = node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node.ToJsonString();
                    break;
            }
        }
        Walk(root, "");
        return result;
    }

    private static Dictionary<string, string?> FlattenYaml(string path)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(path)) stream.Load(reader);
        var result = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        void Walk(YamlNode node, string p)
        {
            switch (node)
            {
                case YamlMappingNode map:
                    foreach (var (k, v) in map.Children) Walk(v, p.Length == 0 ? ((YamlScalarNode)k).Value! : p + ":" + ((YamlScalarNode)k).Value);
                    break;
                case YamlSequenceNode seq:
                    for (var i = 0; i < seq.Children.Count; i++) Walk(seq.Children[i], p + ":" + i);
                    break;
                case YamlScalarNode scalar:
                    result[p] = scalar.Value;
                    break;
            }
        }
        if (stream.Documents.Count > 0) Walk(stream.Documents[0].RootNode, "");
        return result;
    }
}
