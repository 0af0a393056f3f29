using System.Text.Json.Nodes;

namespace Dreamer.Artifacts;

/// <summary>One changed configuration value, by key path ("Tokenizer:Steps"); null: absent on that side.</summary>
public sealed record ConfigChange(string Key, string? Before, string? After)
{
    public override string ToString() => $"{Key}: {Before ?? "(unset)"} -> {After ?? "(unset)"}";
}

/// <summary>Differences between two configurations, compared value by value on their flattened key paths.</summary>
public static class ConfigDiff
{
    public static IReadOnlyList<ConfigChange> Compare(JsonObject? before, JsonObject? after)
    {
        var a = Flatten(before);
        var b = Flatten(after);
        return a.Keys.Union(b.Keys, StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .Select(k => new ConfigChange(k, a.GetValueOrDefault(k), b.GetValueOrDefault(k)))
            .Where(c => c.Before != c.After)
            .ToList();
    }

    public static Dictionary<string, string> Flatten(JsonNode? node)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        void Walk(JsonNode? n, string path)
        {
            switch (n)
            {
                case JsonObject obj:
                    foreach (var (k, v) in obj) Walk(v, path.Length == 0 ? k : $"{path}:{k}");
                    break;
                case JsonArray arr:
                    for (var i = 0; i < arr.Count; i++) Walk(arr[i], $"{path}:{i}");
                    break;
                case null:
                    result[path] = "null";
                    break;
                default:
                    result[path] = n.ToJsonString();
                    break;
            }
        }
        Walk(node, "");
        return result;
    }
}
