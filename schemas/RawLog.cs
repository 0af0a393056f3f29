using System.Text;
using System.Text.Json;

namespace Dreamer.Schemas;

/// <summary>
/// A parsed and validated `&lt;name&gt;.jsonl` step log (RAW_DATASET.md): line t holds the action taken after
/// seeing frame t and the reward it earned. Values are kept column-wise, aligned with
/// <see cref="ActionSpaceSpec.Columns"/>, so joining them to frames is an array copy per column.
/// </summary>
public sealed class RawLog
{
    RawLog(ActionSpaceSpec space, int capacity)
    {
        Space = space;
        Actions = space.Columns.Select(c => c.Kind switch
        {
            ActionValueKind.Int32 => (Array)new int[capacity],
            ActionValueKind.Boolean => new bool[capacity],
            _ => new float[capacity],
        }).ToArray();
        HasAction = new bool[capacity];
        Reward = new float[capacity];
        HasReward = new bool[capacity];
        Done = new bool[capacity];
    }

    public ActionSpaceSpec Space { get; }
    /// <summary>Number of steps (lines); step t is at index t of every array.</summary>
    public int Count { get; private set; }
    /// <summary>One array per action column: int[] (categorical), bool[] (binary key) or float[] (continuous).</summary>
    public Array[] Actions { get; private set; }
    /// <summary>False where the line's action is null (not recorded).</summary>
    public bool[] HasAction { get; private set; }
    public float[] Reward { get; private set; }
    /// <summary>False where the line has no reward (absent or null).</summary>
    public bool[] HasReward { get; private set; }
    public bool[] Done { get; private set; }

    // Arrays are sized by the line count up front; blank lines (a trailing newline) leave a few spare.
    void Trim()
    {
        if (HasAction.Length == Count) return;
        for (int c = 0; c < Actions.Length; c++)
        {
            var trimmed = Array.CreateInstance(Actions[c].GetType().GetElementType()!, Count);
            Array.Copy(Actions[c], trimmed, Count);
            Actions[c] = trimmed;
        }
        HasAction = HasAction[..Count];
        Reward = Reward[..Count];
        HasReward = HasReward[..Count];
        Done = Done[..Count];
    }

    /// <summary>Whether the log fits a video of frameCount frames: one line per frame, or per frame but the last.</summary>
    public string? CheckFits(int frameCount, string file) =>
        Count == frameCount || Count == frameCount - 1 ? null
            : $"log {file} has {Count} lines for {frameCount} frames (expected {frameCount} or {frameCount - 1})";

    public static RawLog Parse(ReadOnlySpan<byte> content, ActionSpaceSpec space, string file)
    {
        if (content.StartsWith("\uFEFF"u8)) content = content[3..];
        var log = new RawLog(space, content.Count((byte)'\n') + 1);
        var parser = new LineParser(log, file);
        int lineNumber = 0;
        while (!content.IsEmpty)
        {
            int newline = content.IndexOf((byte)'\n');
            var line = newline < 0 ? content : content[..newline];
            content = newline < 0 ? default : content[(newline + 1)..];
            lineNumber++;
            if (line.Trim(" \t\r"u8).IsEmpty) continue;
            parser.Parse(line, lineNumber);
        }
        log.Trim();
        for (int t = 0; t < log.Count - 1; t++)
            if (log.Done[t])
                throw new RawFormatException(file, $"field 'done': done=true at t={t} but the log continues to t={log.Count - 1}; expected done only on the last line");
        return log;
    }

    /// <summary>Reads one line with Utf8JsonReader: no per-line document allocation for logs of 10,000s of lines.</summary>
    sealed class LineParser
    {
        readonly RawLog _log;
        readonly string _file;
        readonly ActionSpaceSpec _space;
        readonly byte[][] _componentNames;
        readonly int[] _firstColumn;
        readonly bool[] _seen;
        int _line;

        public LineParser(RawLog log, string file)
        {
            _log = log;
            _file = file;
            _space = log.Space;
            _componentNames = _space.Components.Select(c => Encoding.UTF8.GetBytes(c.Name)).ToArray();
            _firstColumn = new int[_space.Components.Count];
            for (int col = _space.Columns.Count - 1; col >= 0; col--) _firstColumn[_space.Columns[col].Component] = col;
            _seen = new bool[_space.Components.Count];
        }

        RawFormatException Error(string field, string expected) =>
            new(_file, $"line {_line}: field '{field}': {expected}");

        public void Parse(ReadOnlySpan<byte> line, int lineNumber)
        {
            _line = lineNumber;
            int row = _log.Count;
            var reader = new Utf8JsonReader(line, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            try
            {
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                    throw new RawFormatException(_file, $"line {_line}: expected a JSON object {{\"t\", \"action\", \"reward\", \"done\"}}");
                int? t = null;
                bool sawAction = false;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("t"u8))
                    {
                        reader.Read();
                        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int value) || value < 0)
                            throw Error("t", $"expected a non-negative integer, found {Describe(ref reader)}");
                        t = value;
                    }
                    else if (reader.ValueTextEquals("action"u8))
                    {
                        reader.Read();
                        ParseAction(ref reader, row);
                        sawAction = true;
                    }
                    else if (reader.ValueTextEquals("reward"u8))
                    {
                        reader.Read();
                        if (reader.TokenType == JsonTokenType.Null) continue;
                        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out double reward) || !double.IsFinite(reward))
                            throw Error("reward", $"expected a number or null, found {Describe(ref reader)}");
                        _log.Reward[row] = (float)reward;
                        _log.HasReward[row] = true;
                    }
                    else if (reader.ValueTextEquals("done"u8))
                    {
                        reader.Read();
                        _log.Done[row] = reader.TokenType switch
                        {
                            JsonTokenType.True => true,
                            JsonTokenType.False or JsonTokenType.Null => false,
                            _ => throw Error("done", $"expected true or false, found {Describe(ref reader)}"),
                        };
                    }
                    else reader.Skip(); // extra fields are allowed and ignored
                }
                while (reader.Read()) { } // anything after the object is a JSON error
                if (t is not { } step) throw Error("t", "missing; expected the step number");
                if (row > 0 && step <= row - 1)
                    throw Error("t", $"expected strictly increasing t, found t={step} after t={row - 1}");
                if (step != row) throw Error("t", $"expected t={row} (one line per frame from t=0), found t={step}");
                if (!sawAction) throw Error("action", "missing; expected the action (null when not recorded)");
            }
            catch (JsonException e)
            {
                throw new RawFormatException(_file, $"line {_line}: invalid JSON: {e.Message}");
            }
            _log.Count = row + 1;
        }

        void ParseAction(ref Utf8JsonReader reader, int row)
        {
            if (reader.TokenType == JsonTokenType.Null) return;
            _log.HasAction[row] = true;
            if (_space.AllowsBareValue && reader.TokenType == JsonTokenType.Number)
            {
                SetComponent(ref reader, 0, row, "action");
                return;
            }
            if (reader.TokenType != JsonTokenType.StartObject)
                throw Error("action", $"expected {(_space.AllowsBareValue ? "a number or " : "")}an object of components ({ComponentList()}), found {Describe(ref reader)}");
            Array.Clear(_seen);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                int c = FindComponent(ref reader);
                if (c < 0) throw Error("action", $"unknown component '{reader.GetString()}'; expected {ComponentList()}");
                if (_seen[c]) throw Error("action." + _space.Components[c].Name, "appears twice");
                _seen[c] = true;
                reader.Read();
                SetComponent(ref reader, c, row, "action." + _space.Components[c].Name);
            }
            for (int c = 0; c < _seen.Length; c++)
                if (!_seen[c]) throw Error("action." + _space.Components[c].Name, "missing; every component needs a value");
        }

        int FindComponent(ref Utf8JsonReader reader)
        {
            for (int c = 0; c < _componentNames.Length; c++)
                if (reader.ValueTextEquals(_componentNames[c])) return c;
            return -1;
        }

        void SetComponent(ref Utf8JsonReader reader, int c, int row, string field)
        {
            var component = _space.Components[c];
            int column = _firstColumn[c];
            switch (component.Type)
            {
                case ActionComponentType.Categorical:
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int index) || index < 0 || index >= component.Classes.Count)
                        throw Error(field, $"expected a class index in [0, {component.Classes.Count}), found {Describe(ref reader)}");
                    ((int[])_log.Actions[column])[row] = index;
                    break;
                case ActionComponentType.Continuous:
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out double value) || !double.IsFinite(value)
                        || value < component.Low || value > component.High)
                        throw Error(field, $"expected a number in [{component.Low}, {component.High}], found {Describe(ref reader)}");
                    ((float[])_log.Actions[column])[row] = (float)value;
                    break;
                default:
                    if (reader.TokenType != JsonTokenType.StartObject)
                        throw Error(field, $"expected an object of keys to true/false ({string.Join(", ", component.Keys)}), found {Describe(ref reader)}");
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var key = reader.GetString()!;
                        int k = IndexOf(component.Keys, key);
                        if (k < 0) throw Error(field, $"unknown key '{key}'; expected {string.Join(", ", component.Keys)}");
                        reader.Read();
                        if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False))
                            throw Error($"{field}.{key}", $"expected true or false, found {Describe(ref reader)}");
                        ((bool[])_log.Actions[column + k])[row] = reader.TokenType == JsonTokenType.True;
                    }
                    break;
            }
        }

        static int IndexOf(IReadOnlyList<string> names, string name)
        {
            for (int i = 0; i < names.Count; i++)
                if (names[i] == name) return i;
            return -1;
        }

        string ComponentList() => _space.Components.Count == 0
            ? "no components: the dataset's action space is empty"
            : string.Join(", ", _space.Components.Select(c => c.Name));

        static string Describe(ref Utf8JsonReader reader) => reader.TokenType switch
        {
            JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
            JsonTokenType.String => $"\"{reader.GetString()}\"",
            JsonTokenType.True => "true",
            JsonTokenType.False => "false",
            JsonTokenType.Null => "null",
            JsonTokenType.StartObject => "an object",
            JsonTokenType.StartArray => "an array",
            _ => reader.TokenType.ToString(),
        };
    }
}
