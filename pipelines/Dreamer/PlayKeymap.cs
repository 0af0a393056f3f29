using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Dreamer.WorldModel;

namespace Dreamer.Cli;

/// <summary>
/// One key of the play page. Key is a KeyboardEvent.key value (letters lower-case, " " for Space);
/// while it is held, action column Column takes Value.
/// </summary>
public sealed record KeyBinding(string Key, string Display, string Label, int Component, int Column, double Value);

/// <summary>
/// Keyboard bindings derived from an action space's labels, so any world (the built-in game, a
/// keyboard+mouse dataset) is playable without a hand-written mapping:
/// labels naming a direction get the arrow key and W/A/S/D; "noop"/"none" is the categorical default
/// (what is sent while no key is held); other labels get Space, E, Q, R, F, ... in order; digits 1..9
/// select classes 1..9 of the first categorical component; a continuous component gets a pair of keys
/// that hold it at Low or High (otherwise it rests at 0, or mid-range when 0 is outside [Low, High]).
/// </summary>
public sealed partial class PlayKeymap
{
    private static readonly (string Word, string Arrow, string Letter)[] Directions =
    [
        ("left", "ArrowLeft", "a"), ("right", "ArrowRight", "d"), ("up", "ArrowUp", "w"), ("down", "ArrowDown", "s"),
    ];

    // W/A/S/D come last: they are the direction letters, handed out only when no label needed them.
    private static readonly string[] Letters =
        [" ", "e", "q", "r", "f", "z", "x", "c", "v", "t", "g", "y", "h", "u", "j", "i", "k", "o", "l", "p", "b", "n", "m", "w", "a", "s", "d"];

    private static readonly (string Down, string Up)[] ContinuousPairs = [("-", "="), ("[", "]"), (",", "."), (";", "'")];

    public IReadOnlyList<ActionComponentSpec> Actions { get; }
    public IReadOnlyList<KeyBinding> Bindings { get; }
    /// <summary>The action sent while no key is held.</summary>
    public IReadOnlyList<double> DefaultAction { get; }
    /// <summary>First action column of each component.</summary>
    public IReadOnlyList<int> Offsets { get; }

    private PlayKeymap(IReadOnlyList<ActionComponentSpec> actions, IReadOnlyList<KeyBinding> bindings, double[] defaults, int[] offsets)
    {
        Actions = actions;
        Bindings = bindings;
        DefaultAction = defaults;
        Offsets = offsets;
    }

    public static PlayKeymap Build(IReadOnlyList<ActionComponentSpec> actions)
    {
        var offsets = new int[actions.Count];
        var defaults = new double[ActionComponentSpec.TotalColumns(actions)];
        for (int i = 0, column = 0; i < actions.Count; column += actions[i].Columns, i++) offsets[i] = column;

        var bindings = new List<KeyBinding>();
        var taken = new HashSet<string>(StringComparer.Ordinal);
        // Labels already reachable by a key; digits do not count (they are extra, not a replacement).
        var bound = new HashSet<(int Component, int Label)>();

        void Bind(string key, int component, int label, int column, double value, string text)
        {
            taken.Add(key);
            bindings.Add(new KeyBinding(key, Display(key), text, component, column, value));
            bound.Add((component, label));
        }

        // Direction words first, so "move_left" gets the arrow even when listed after other labels.
        for (var c = 0; c < actions.Count; c++)
        {
            var spec = actions[c];
            if (spec.Kind == ActionKind.Continuous) continue;
            for (var l = 0; l < spec.Labels.Count; l++)
            {
                var words = Words(spec.Labels[l]);
                var matches = Directions.Where(d => words.Contains(d.Word)).ToArray();
                // "up_left" and the like name two directions: a letter key is less surprising than either arrow.
                if (matches.Length != 1 || taken.Contains(matches[0].Arrow)) continue;
                var (column, value) = Target(spec, offsets[c], l);
                Bind(matches[0].Arrow, c, l, column, value, spec.Labels[l]);
                if (!taken.Contains(matches[0].Letter)) Bind(matches[0].Letter, c, l, column, value, spec.Labels[l]);
            }
        }

        var letters = new Queue<string>(Letters);
        string? NextKey()
        {
            while (letters.Count > 0)
            {
                var key = letters.Dequeue();
                if (!taken.Contains(key)) return key;
            }
            return null;
        }

        for (var c = 0; c < actions.Count; c++)
        {
            var spec = actions[c];
            switch (spec.Kind)
            {
                case ActionKind.Categorical:
                {
                    var noop = -1;
                    for (var l = 0; l < spec.Labels.Count && noop < 0; l++)
                        if (IsNoop(spec.Labels[l])) noop = l;
                    defaults[offsets[c]] = Math.Max(noop, 0);
                    for (var l = 0; l < spec.Labels.Count; l++)
                    {
                        if (l == noop || bound.Contains((c, l))) continue;
                        if (NextKey() is { } key) Bind(key, c, l, offsets[c], l, spec.Labels[l]);
                    }
                    break;
                }
                case ActionKind.Binary:
                    for (var l = 0; l < spec.Labels.Count; l++)
                    {
                        if (bound.Contains((c, l))) continue;
                        if (NextKey() is { } key) Bind(key, c, l, offsets[c] + l, 1, spec.Labels[l]);
                    }
                    break;
                case ActionKind.Continuous:
                {
                    defaults[offsets[c]] = spec.Low <= 0 && 0 <= spec.High ? 0 : (spec.Low + spec.High) / 2;
                    string? down = null, up = null;
                    foreach (var pair in ContinuousPairs)
                        if (!taken.Contains(pair.Down) && !taken.Contains(pair.Up)) { (down, up) = pair; break; }
                    if (down == null) { down = NextKey(); up = NextKey(); }
                    if (down != null) Bind(down, c, 0, offsets[c], spec.Low, $"{spec.Name} -");
                    if (up != null) Bind(up, c, 0, offsets[c], spec.High, $"{spec.Name} +");
                    break;
                }
            }
        }

        // Digits always work, whatever letters the labels got: a predictable way to reach any of the first classes.
        var firstCategorical = actions.Select((a, i) => (a, i)).FirstOrDefault(x => x.a.Kind == ActionKind.Categorical);
        if (firstCategorical.a is { } cat)
            for (var l = 1; l <= 9 && l < cat.Labels.Count; l++)
                bindings.Add(new KeyBinding(l.ToString(System.Globalization.CultureInfo.InvariantCulture), l.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    cat.Labels[l], firstCategorical.i, offsets[firstCategorical.i], l));

        return new PlayKeymap(actions, bindings, defaults, offsets);
    }

    /// <summary>The action produced while exactly these keys are held (the last one wins within a categorical or continuous component).</summary>
    public double[] ActionFor(params string[] heldInPressOrder)
    {
        var action = DefaultAction.ToArray();
        foreach (var key in heldInPressOrder)
            foreach (var b in Bindings.Where(b => b.Key == key))
                action[b.Column] = b.Value;
        return action;
    }

    /// <summary>Checks an action against the space: one value per column, class indices in range, keys 0/1, values finite and in [Low, High].</summary>
    public string? Validate(IReadOnlyList<double> action)
    {
        if (action.Count != DefaultAction.Count)
            return $"action has {action.Count} values, the action space has {DefaultAction.Count} columns ({Describe()})";
        for (var c = 0; c < Actions.Count; c++)
        {
            var spec = Actions[c];
            for (var k = 0; k < spec.Columns; k++)
            {
                var v = action[Offsets[c] + k];
                var problem = spec.Kind switch
                {
                    ActionKind.Categorical when v != Math.Floor(v) || v < 0 || v >= spec.Labels.Count =>
                        $"must be a class index in 0..{spec.Labels.Count - 1}",
                    ActionKind.Binary when v is not (0 or 1) => "must be 0 or 1",
                    ActionKind.Continuous when !double.IsFinite(v) || v < spec.Low || v > spec.High =>
                        $"must be in [{spec.Low}, {spec.High}]",
                    _ => null,
                };
                if (problem != null)
                {
                    var name = spec.Kind == ActionKind.Binary ? $"{spec.Name}.{spec.Labels[k]}" : spec.Name;
                    return $"action[{Offsets[c] + k}] ({name}) is {v}: {problem}";
                }
            }
        }
        return null;
    }

    public JsonObject ToJson()
    {
        var components = new JsonArray();
        for (var c = 0; c < Actions.Count; c++)
        {
            var node = Actions[c].ToJson();
            node["offset"] = Offsets[c];
            node["columns"] = Actions[c].Columns;
            components.Add(node);
        }
        var keymap = new JsonArray(Bindings.Select(b => (JsonNode)new JsonObject
        {
            ["key"] = b.Key, ["display"] = b.Display, ["label"] = b.Label,
            ["component"] = b.Component, ["column"] = b.Column, ["value"] = b.Value,
        }).ToArray());
        return new JsonObject
        {
            ["actions"] = components,
            ["keymap"] = keymap,
            ["defaultAction"] = new JsonArray(DefaultAction.Select(v => (JsonNode)JsonValue.Create(v)).ToArray()),
        };
    }

    private string Describe() => string.Join(", ", Actions.Select(a => $"{a.Name}: {a.Kind.ToString().ToLowerInvariant()} x{a.Columns}"));

    private static (int Column, double Value) Target(ActionComponentSpec spec, int offset, int label) =>
        spec.Kind == ActionKind.Binary ? (offset + label, 1) : (offset, label);

    private static bool IsNoop(string label)
    {
        var words = Words(label);
        return words.Contains("noop") || words.Contains("none") || string.Concat(words) is "noop" or "none";
    }

    /// <summary>Lower-case words of a label: "move_left", "MoveLeft", "move-left" all give [move, left].</summary>
    private static List<string> Words(string label) =>
        WordPattern().Matches(label).Select(m => m.Value.ToLowerInvariant()).ToList();

    private static string Display(string key) => key switch
    {
        " " => "Space",
        "ArrowLeft" => "←",
        "ArrowRight" => "→",
        "ArrowUp" => "↑",
        "ArrowDown" => "↓",
        _ => key.ToUpperInvariant(),
    };

    [GeneratedRegex("[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")]
    private static partial Regex WordPattern();
}
