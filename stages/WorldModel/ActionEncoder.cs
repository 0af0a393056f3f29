using System.Text.Json.Nodes;
using Dreamer.Torch;
using Dreamer.Torch.NN;

namespace Dreamer.WorldModel;

using Torch = Dreamer.Torch.Torch;

public enum ActionKind
{
    /// <summary>One of Labels.Count classes; one action column holding the class index.</summary>
    Categorical,
    /// <summary>Labels.Count keys, each pressed or not; one column per key (0 or 1).</summary>
    Binary,
    /// <summary>One real value in [Low, High]; one column.</summary>
    Continuous,
}

/// <summary>
/// One component of an action space as the world model sees it (the model does not depend on the
/// dataset schema; stages convert). Labels: class names (categorical) or key names (binary).
/// </summary>
public sealed record ActionComponentSpec(string Name, ActionKind Kind, IReadOnlyList<string> Labels, double Low = -1, double High = 1)
{
    /// <summary>Action columns this component occupies.</summary>
    public int Columns => Kind == ActionKind.Binary ? Labels.Count : 1;

    public JsonObject ToJson()
    {
        var node = new JsonObject { ["name"] = Name, ["kind"] = Kind.ToString().ToLowerInvariant() };
        if (Kind == ActionKind.Continuous)
        {
            node["low"] = Low;
            node["high"] = High;
        }
        else node["labels"] = new JsonArray(Labels.Select(l => (JsonNode)JsonValue.Create(l)!).ToArray());
        return node;
    }

    public static ActionComponentSpec FromJson(JsonNode node)
    {
        var kind = Enum.Parse<ActionKind>(node["kind"]!.GetValue<string>(), ignoreCase: true);
        var labels = node["labels"]?.AsArray().Select(l => l!.GetValue<string>()).ToArray() ?? [];
        return new ActionComponentSpec(node["name"]!.GetValue<string>(), kind, labels,
            node["low"]?.GetValue<double>() ?? -1, node["high"]?.GetValue<double>() ?? 1);
    }

    public static JsonArray ToJson(IReadOnlyList<ActionComponentSpec> components) =>
        new(components.Select(c => (JsonNode)c.ToJson()).ToArray());

    public static IReadOnlyList<ActionComponentSpec> ListFromJson(JsonNode? node) =>
        node?.AsArray().Select(c => FromJson(c!)).ToArray() ?? [];

    public static int TotalColumns(IReadOnlyList<ActionComponentSpec> components) => components.Sum(c => c.Columns);

    /// <summary>The first categorical component and its action column, null when there is none.</summary>
    public static (ActionComponentSpec Spec, int Column)? FirstCategorical(IReadOnlyList<ActionComponentSpec> components)
    {
        var column = 0;
        foreach (var c in components)
        {
            if (c.Kind == ActionKind.Categorical) return (c, column);
            column += c.Columns;
        }
        return null;
    }

    /// <summary>
    /// Class indices (int64) of a categorical component's column values. Unlabeled frames hold arbitrary values: rounded and
    /// clamped so a lookup stays in range (callers mask those frames).
    /// </summary>
    public Tensor ClassIndices(Tensor values) => values.Round().Clamp(0, Labels.Count - 1).To(DType.Int64);
}

/// <summary>
/// The paper's action encoder: each component encoded on its own (categorical: embedding lookup;
/// binary: a learned vector per pressed key; continuous: linear in the value scaled to [-1, 1]), summed
/// with a learned base embedding. Unlabeled frames (and a frame with no preceding action) get the base alone.
/// </summary>
public sealed class ActionEncoder : Module
{
    private readonly IReadOnlyList<ActionComponentSpec> _components;
    private readonly Tensor _base;
    private readonly List<Module> _encoders = [];

    public ActionEncoder(IReadOnlyList<ActionComponentSpec> components, long dim, ParamOptions options = default)
    {
        _components = components;
        var dtype = options.DType ?? DType.Float32;
        using (Torch.NoGrad())
            _base = RegisterParameter("base", Torch.Empty([dim], dtype, options.Device).Normal_(0, 0.02, options.Generator));
        for (var i = 0; i < components.Count; i++)
        {
            var c = components[i];
            Module encoder = c.Kind switch
            {
                ActionKind.Categorical => new Embedding(c.Labels.Count, dim, options),
                ActionKind.Binary => new Linear(c.Labels.Count, dim, bias: false, options: options),
                _ => new Linear(1, dim, bias: false, options: options),
            };
            if (encoder is Embedding embedding)
                using (Torch.NoGrad()) embedding.Weight.Normal_(0, 0.02, options.Generator);
            _encoders.Add(RegisterModule($"component{i}", encoder));
        }
    }

    public IReadOnlyList<ActionComponentSpec> Components => _components;

    /// <summary>
    /// actions [B, T, columns] (column-aligned with the components), labeled [B, T] bool (null: every
    /// frame labeled; actions may then be null only when there are no components). Returns [B, T, dim].
    /// </summary>
    public Tensor Forward(Tensor? actions, Tensor? labeled, long batch, long frames)
    {
        using var scope = Torch.NewDisposeScope();
        var dim = _base.Size(0);
        var x = _base.View(1, 1, dim).Expand(batch, frames, dim);
        if (actions == null || _components.Count == 0) return x.Contiguous().MoveToOuterScope();
        Tensor? sum = null;
        var column = 0;
        for (var i = 0; i < _components.Count; i++)
        {
            var c = _components[i];
            var values = actions.Narrow(2, column, c.Columns);
            column += c.Columns;
            var encoded = c.Kind switch
            {
                // Unlabeled frames are masked below.
                ActionKind.Categorical => ((Embedding)_encoders[i]).Forward(c.ClassIndices(values.Squeeze(2))),
                ActionKind.Binary => ((Linear)_encoders[i]).Forward(values),
                _ => ((Linear)_encoders[i]).Forward((values - (c.Low + c.High) / 2) * (2 / Math.Max(c.High - c.Low, 1e-9))),
            };
            sum = sum is null ? encoded : sum + encoded;
        }
        if (labeled != null) sum = sum! * labeled.Unsqueeze(-1).To(sum!.DType);
        return (x + sum!).MoveToOuterScope();
    }
}
