using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Dreamer.Schemas;

/// <summary>
/// A raw file (dataset.json or a log) does not follow the raw dataset format (RAW_DATASET.md).
/// The message names the file, the line where there is one, the field and what was expected.
/// </summary>
public sealed class RawFormatException(string file, string message) : Exception($"{file}: {message}")
{
    public string File { get; } = file;
}

public enum ActionComponentType { Categorical, Binary, Continuous }

/// <summary>The physical type of one flattened action column.</summary>
public enum ActionValueKind { Int32, Boolean, Float }

/// <summary>
/// One component of an action space: categorical (one of Classes), binary (one on/off value per key)
/// or continuous (a float in [Low, High]).
/// </summary>
public sealed record ActionComponent
{
    public required string Name { get; init; }
    public required ActionComponentType Type { get; init; }
    /// <summary>Categorical: class names; the value is an index into them.</summary>
    public IReadOnlyList<string> Classes { get; init; } = [];
    /// <summary>Binary: key names, one boolean each.</summary>
    public IReadOnlyList<string> Keys { get; init; } = [];
    public double Low { get; init; }
    public double High { get; init; }

    public static ActionComponent Categorical(string name, IEnumerable<string> classes) =>
        new() { Name = name, Type = ActionComponentType.Categorical, Classes = classes.ToList() };

    public static ActionComponent Binary(string name, IEnumerable<string> keys) =>
        new() { Name = name, Type = ActionComponentType.Binary, Keys = keys.ToList() };

    public static ActionComponent Continuous(string name, double low, double high) =>
        new() { Name = name, Type = ActionComponentType.Continuous, Low = low, High = high };
}

/// <summary>One column of the flattened action space: a categorical or continuous component, or one key of a binary one.</summary>
public sealed record ActionColumn(string ColumnName, int Component, string? Key, ActionValueKind Kind);

/// <summary>
/// An action space as components (DESIGN.md). The built-in game is one categorical component; a
/// keyboard-and-mouse recording is binary keys plus a categorical or continuous mouse.
/// <see cref="Columns"/> is the flattening every table uses: one column per categorical or continuous
/// component, one per key of a binary component, in component order.
/// </summary>
public sealed class ActionSpaceSpec
{
    public const string ColumnPrefix = "action_";

    public ActionSpaceSpec(IReadOnlyList<ActionComponent> components)
    {
        Components = components;
        var columns = new List<ActionColumn>();
        for (int c = 0; c < components.Count; c++)
        {
            var component = components[c];
            switch (component.Type)
            {
                case ActionComponentType.Categorical:
                    columns.Add(new ActionColumn(ColumnPrefix + component.Name, c, null, ActionValueKind.Int32));
                    break;
                case ActionComponentType.Continuous:
                    columns.Add(new ActionColumn(ColumnPrefix + component.Name, c, null, ActionValueKind.Float));
                    break;
                default:
                    foreach (var key in component.Keys)
                        columns.Add(new ActionColumn($"{ColumnPrefix}{component.Name}_{key}", c, key, ActionValueKind.Boolean));
                    break;
            }
        }
        Columns = columns;
    }

    public IReadOnlyList<ActionComponent> Components { get; }
    public IReadOnlyList<ActionColumn> Columns { get; }

    /// <summary>A log may write the action as a bare value when the space is one categorical or continuous component.</summary>
    public bool AllowsBareValue => Components is [{ Type: not ActionComponentType.Binary }];

    /// <summary>A space of one categorical component (the built-in game's shape).</summary>
    public static ActionSpaceSpec SingleCategorical(string name, IEnumerable<string> classes) =>
        new([ActionComponent.Categorical(name, classes)]);

    public JsonObject ToJson()
    {
        var components = new JsonArray();
        foreach (var c in Components)
        {
            var node = new JsonObject { ["name"] = c.Name, ["type"] = TypeName(c.Type) };
            switch (c.Type)
            {
                case ActionComponentType.Categorical:
                    node["classes"] = new JsonArray(c.Classes.Select(n => (JsonNode)JsonValue.Create(n)!).ToArray());
                    break;
                case ActionComponentType.Binary:
                    node["keys"] = new JsonArray(c.Keys.Select(n => (JsonNode)JsonValue.Create(n)!).ToArray());
                    break;
                default:
                    node["low"] = c.Low;
                    node["high"] = c.High;
                    break;
            }
            components.Add(node);
        }
        return new JsonObject { ["components"] = components };
    }

    public static string TypeName(ActionComponentType type) => type switch
    {
        ActionComponentType.Categorical => "categorical",
        ActionComponentType.Binary => "binary",
        _ => "continuous",
    };

    /// <summary>Parses and validates an "actionSpace" object; field names the JSON path for error messages.</summary>
    public static ActionSpaceSpec Parse(JsonNode? node, string file, string field)
    {
        if (node is not JsonObject obj) throw new RawFormatException(file, $"field '{field}': expected an object with \"components\"");
        if (obj["components"] is not JsonArray array)
            throw new RawFormatException(file, $"field '{field}.components': expected an array of action components");
        var components = new List<ActionComponent>();
        for (int i = 0; i < array.Count; i++)
        {
            var path = $"{field}.components[{i}]";
            if (array[i] is not JsonObject c) throw new RawFormatException(file, $"field '{path}': expected an object");
            var name = RequireString(c, "name", path, file);
            if (!IsName(name, leadingDigit: false))
                throw new RawFormatException(file, $"field '{path}.name': expected lowercase letters, digits and '_' starting with a letter, found '{name}'");
            var type = RequireString(c, "type", path, file);
            components.Add(type switch
            {
                "categorical" => ActionComponent.Categorical(name, NameList(c, "classes", path, file, requireIdentifier: false)),
                "binary" => ActionComponent.Binary(name, NameList(c, "keys", path, file, requireIdentifier: true)),
                "continuous" => ParseContinuous(c, name, path, file),
                _ => throw new RawFormatException(file, $"field '{path}.type': expected \"categorical\", \"binary\" or \"continuous\", found \"{type}\""),
            });
        }
        var spec = new ActionSpaceSpec(components);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in components)
            if (!seen.Add(c.Name)) throw new RawFormatException(file, $"field '{field}.components': component name '{c.Name}' appears twice");
        var columns = new HashSet<string>(StringComparer.Ordinal);
        foreach (var col in spec.Columns)
            if (!columns.Add(col.ColumnName))
                throw new RawFormatException(file, $"field '{field}.components': two components flatten to the column '{col.ColumnName}'; rename one");
        return spec;
    }

    static ActionComponent ParseContinuous(JsonObject c, string name, string path, string file)
    {
        double Bound(string key) => c[key] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && double.IsFinite(v.GetValue<double>())
            ? v.GetValue<double>()
            : throw new RawFormatException(file, $"field '{path}.{key}': expected a finite number");
        double low = Bound("low"), high = Bound("high");
        if (!(low < high)) throw new RawFormatException(file, $"field '{path}': expected low < high, found low={low} high={high}");
        return ActionComponent.Continuous(name, low, high);
    }

    static List<string> NameList(JsonObject c, string key, string path, string file, bool requireIdentifier)
    {
        if (c[key] is not JsonArray array || array.Count == 0)
            throw new RawFormatException(file, $"field '{path}.{key}': expected a non-empty array of names");
        var names = new List<string>();
        for (int i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonValue v || v.GetValueKind() != JsonValueKind.String || v.GetValue<string>().Length == 0)
                throw new RawFormatException(file, $"field '{path}.{key}[{i}]': expected a non-empty string");
            var name = v.GetValue<string>();
            if (requireIdentifier && !IsName(name, leadingDigit: true))
                throw new RawFormatException(file, $"field '{path}.{key}[{i}]': expected lowercase letters, digits and '_', found '{name}'");
            if (names.Contains(name)) throw new RawFormatException(file, $"field '{path}.{key}': '{name}' appears twice");
            names.Add(name);
        }
        return names;
    }

    static string RequireString(JsonObject obj, string key, string path, string file) =>
        obj[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String
            ? v.GetValue<string>()
            : throw new RawFormatException(file, $"field '{path}.{key}': expected a string");

    /// <summary>Names become column names: lowercase ASCII letters, digits and '_', at most 64 characters.</summary>
    static bool IsName(string s, bool leadingDigit) =>
        s.Length is > 0 and <= 64 && (leadingDigit ? char.IsAsciiLetterLower(s[0]) || char.IsAsciiDigit(s[0]) : char.IsAsciiLetterLower(s[0]))
        && s.All(ch => char.IsAsciiLetterLower(ch) || char.IsAsciiDigit(ch) || ch == '_');
}

/// <summary>
/// `dataset.json` at the root of a raw dataset prefix (RAW_DATASET.md): the frame rate and native frame
/// size of its videos and the action space of its logs. Producer is free-form and ignored by ingest.
/// </summary>
public sealed record RawDatasetInfo
{
    public const string FileName = "dataset.json";
    public const string LogExtension = ".jsonl";
    public const int CurrentSchemaVersion = 1;

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;
    public required double Fps { get; init; }
    public required int Width { get; init; }
    public required int Height { get; init; }
    public required ActionSpaceSpec ActionSpace { get; init; }
    public JsonObject? Producer { get; init; }

    public byte[] ToJsonBytes()
    {
        var root = new JsonObject
        {
            ["schemaVersion"] = SchemaVersion,
            ["fps"] = Fps,
            ["width"] = Width,
            ["height"] = Height,
            ["actionSpace"] = ActionSpace.ToJson(),
        };
        if (Producer != null) root["producer"] = Producer.DeepClone();
        return JsonSerializer.SerializeToUtf8Bytes(root, new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Parses and validates dataset.json; unknown top-level fields are ignored.</summary>
    public static RawDatasetInfo Parse(ReadOnlySpan<byte> json, string file)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false });
        }
        catch (JsonException e)
        {
            throw new RawFormatException(file, $"invalid JSON at line {e.LineNumber + 1}: {e.Message}");
        }
        if (root is not JsonObject obj) throw new RawFormatException(file, "expected a JSON object");
        int version = obj["schemaVersion"] is null ? CurrentSchemaVersion : Integer(obj, "schemaVersion", file, 1, int.MaxValue);
        if (version > CurrentSchemaVersion)
            throw new RawFormatException(file, $"field 'schemaVersion': this build reads version {CurrentSchemaVersion}, found {version}");
        double fps = obj["fps"] is JsonValue f && f.GetValueKind() == JsonValueKind.Number ? f.GetValue<double>() : double.NaN;
        if (!(fps > 0 && fps <= 1000)) throw new RawFormatException(file, "field 'fps': expected a number in (0, 1000]");
        return new RawDatasetInfo
        {
            SchemaVersion = version,
            Fps = fps,
            Width = Integer(obj, "width", file, 1, 16384),
            Height = Integer(obj, "height", file, 1, 16384),
            ActionSpace = ActionSpaceSpec.Parse(obj["actionSpace"], file, "actionSpace"),
            Producer = obj["producer"] as JsonObject,
        };
    }

    static int Integer(JsonObject obj, string key, string file, int min, int max)
    {
        if (obj[key] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out int i) && i >= min && i <= max) return i;
        if (obj[key] is JsonValue d && d.GetValueKind() == JsonValueKind.Number && d.TryGetValue(out double x) && x == Math.Floor(x) && x >= min && x <= max)
            return (int)x;
        throw new RawFormatException(file, $"field '{key}': expected an integer in [{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}]");
    }
}
