using System.Globalization;
using System.Text.Json.Nodes;
using Dreamer.Parquet;

namespace Dreamer.Schemas;

/// <summary>
/// The latents table: one row per frame, written by tokenize and read by the dynamics stages. The
/// latent is the tokenizer's bottleneck for that frame, float16 little-endian, tokens x dim row-major.
/// Actions, reward, done and split are carried through from the frames table unchanged; is_first marks
/// the first frame of each episode (an episode's rows are consecutive and in frame order within a part).
/// </summary>
public static class LatentsTable
{
    public const int SchemaVersion = 1;
    public const string TableName = "latents";

    public const string EpisodeId = "episode_id";
    public const string FrameIndex = "frame_index";
    public const string Latent = "latent";
    public const string Reward = "reward";
    public const string Done = "done";
    public const string IsFirst = "is_first";
    public const string Split = "split";

    /// <summary>File-level key-value metadata of every latents part.</summary>
    public static class Keys
    {
        public const string Table = "dreamer.table";
        public const string SchemaVersion = "dreamer.schema_version";
        public const string ArtifactId = "dreamer.artifact_id";
        public const string ActionSpace = "dreamer.action_space";
        public const string LatentTokens = "dreamer.latent_tokens";
        public const string LatentDim = "dreamer.latent_dim";
        public const string LatentDType = "dreamer.latent_dtype";
        public const string FrameWidth = "dreamer.frame_width";
        public const string FrameHeight = "dreamer.frame_height";
        public const string Fps = "dreamer.fps";
        public const string FramesArtifact = "dreamer.frames_artifact";
        public const string Shard = "dreamer.shard";
    }
}

/// <summary>The shape of one latents table: latent tokens x dim, the frames it came from, the action space.</summary>
public sealed class LatentsLayout
{
    private const int FirstActionColumn = 3;

    public LatentsLayout(int tokens, int dim, int frameWidth, int frameHeight, double fps, ActionSpaceSpec actionSpace)
    {
        if (tokens <= 0 || dim <= 0) throw new ArgumentException($"latent shape {tokens}x{dim}: expected positive tokens and dim");
        Tokens = tokens;
        Dim = dim;
        FrameWidth = frameWidth;
        FrameHeight = frameHeight;
        Fps = fps;
        ActionSpace = actionSpace;
        var fields = new List<ParquetField>
        {
            ParquetField.String(LatentsTable.EpisodeId),
            ParquetField.Int32(LatentsTable.FrameIndex),
            ParquetField.FixedBinary(LatentsTable.Latent, LatentBytes),
        };
        foreach (var column in actionSpace.Columns)
            fields.Add(column.Kind switch
            {
                ActionValueKind.Int32 => ParquetField.Int32(column.ColumnName, nullable: true),
                ActionValueKind.Boolean => ParquetField.Boolean(column.ColumnName, nullable: true),
                _ => ParquetField.Float(column.ColumnName, nullable: true),
            });
        fields.Add(ParquetField.Float(LatentsTable.Reward, nullable: true));
        fields.Add(ParquetField.Boolean(LatentsTable.Done));
        fields.Add(ParquetField.Boolean(LatentsTable.IsFirst));
        fields.Add(ParquetField.String(LatentsTable.Split));
        Schema = new ParquetSchema(fields);
    }

    public int Tokens { get; }
    public int Dim { get; }
    public int FrameWidth { get; }
    public int FrameHeight { get; }
    public double Fps { get; }
    public ActionSpaceSpec ActionSpace { get; }
    /// <summary>Bytes of one latent: tokens x dim float16 values.</summary>
    public int LatentBytes => checked(Tokens * Dim * 2);
    public ParquetSchema Schema { get; }

    public IReadOnlyDictionary<string, string> Metadata(string artifactId, string framesArtifactId, string shard) => new Dictionary<string, string>
    {
        [LatentsTable.Keys.Table] = LatentsTable.TableName,
        [LatentsTable.Keys.SchemaVersion] = LatentsTable.SchemaVersion.ToString(CultureInfo.InvariantCulture),
        [LatentsTable.Keys.ArtifactId] = artifactId,
        [LatentsTable.Keys.ActionSpace] = ActionSpace.ToJson().ToJsonString(),
        [LatentsTable.Keys.LatentTokens] = Tokens.ToString(CultureInfo.InvariantCulture),
        [LatentsTable.Keys.LatentDim] = Dim.ToString(CultureInfo.InvariantCulture),
        [LatentsTable.Keys.LatentDType] = "float16",
        [LatentsTable.Keys.FrameWidth] = FrameWidth.ToString(CultureInfo.InvariantCulture),
        [LatentsTable.Keys.FrameHeight] = FrameHeight.ToString(CultureInfo.InvariantCulture),
        [LatentsTable.Keys.Fps] = Fps.ToString("R", CultureInfo.InvariantCulture),
        [LatentsTable.Keys.FramesArtifact] = framesArtifactId,
        [LatentsTable.Keys.Shard] = shard,
    };

    /// <summary>Rebuilds the layout from a part's metadata; throws InvalidDataException naming the file and key.</summary>
    public static LatentsLayout FromMetadata(IReadOnlyDictionary<string, string?> metadata, string file)
    {
        string Get(string key) => metadata.TryGetValue(key, out var v) && v != null
            ? v : throw new InvalidDataException($"{file}: metadata key '{key}' is missing; expected a latents table part");
        if (Get(LatentsTable.Keys.Table) != LatentsTable.TableName)
            throw new InvalidDataException($"{file}: metadata '{LatentsTable.Keys.Table}' is '{Get(LatentsTable.Keys.Table)}', expected '{LatentsTable.TableName}'");
        if (!int.TryParse(Get(LatentsTable.Keys.SchemaVersion), CultureInfo.InvariantCulture, out var version) || version < 1 || version > LatentsTable.SchemaVersion)
            throw new InvalidDataException($"{file}: latents schema version '{Get(LatentsTable.Keys.SchemaVersion)}', expected 1..{LatentsTable.SchemaVersion}");
        if (Get(LatentsTable.Keys.LatentDType) != "float16")
            throw new InvalidDataException($"{file}: latent dtype '{Get(LatentsTable.Keys.LatentDType)}', expected float16");
        int Int(string key) => int.TryParse(Get(key), CultureInfo.InvariantCulture, out var i) && i > 0
            ? i : throw new InvalidDataException($"{file}: metadata '{key}' = '{Get(key)}', expected a positive integer");
        var fps = double.TryParse(Get(LatentsTable.Keys.Fps), CultureInfo.InvariantCulture, out var f) && f > 0
            ? f : throw new InvalidDataException($"{file}: metadata '{LatentsTable.Keys.Fps}' = '{Get(LatentsTable.Keys.Fps)}', expected a positive number");
        ActionSpaceSpec space;
        try
        {
            space = ActionSpaceSpec.Parse(JsonNode.Parse(Get(LatentsTable.Keys.ActionSpace)), file, LatentsTable.Keys.ActionSpace);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{file}: metadata '{LatentsTable.Keys.ActionSpace}' is not JSON: {e.Message}", e);
        }
        catch (RawFormatException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
        return new LatentsLayout(Int(LatentsTable.Keys.LatentTokens), Int(LatentsTable.Keys.LatentDim),
            Int(LatentsTable.Keys.FrameWidth), Int(LatentsTable.Keys.FrameHeight), fps, space);
    }

    /// <summary>Index of the first action column in <see cref="Schema"/>'s columns.</summary>
    public static int ActionColumnIndex => FirstActionColumn;
}

/// <summary>
/// Rows of a latents table in column form (Count rows). Action columns are aligned with
/// <see cref="ActionSpaceSpec.Columns"/>: int[] (categorical), bool[] (binary key) or float[] (continuous),
/// null where <see cref="HasAction"/> is false (an unlabeled frame).
/// </summary>
public sealed class LatentsBatch
{
    public LatentsBatch(LatentsLayout layout, string[] episodeId, int[] frameIndex, byte[] latents, Array[] actions,
        bool[] hasAction, float[] reward, bool[] hasReward, bool[] done, bool[] isFirst, string[] split)
    {
        var n = episodeId.Length;
        if (frameIndex.Length != n || latents.Length != (long)n * layout.LatentBytes || actions.Length != layout.ActionSpace.Columns.Count
            || actions.Any(a => a.Length != n) || hasAction.Length != n || reward.Length != n || hasReward.Length != n || done.Length != n
            || isFirst.Length != n || split.Length != n)
            throw new ArgumentException($"latents batch columns must all hold {n} rows (latents {n} x {layout.LatentBytes} bytes)");
        Layout = layout;
        Count = n;
        EpisodeId = episodeId;
        FrameIndex = frameIndex;
        Latents = latents;
        Actions = actions;
        HasAction = hasAction;
        Reward = reward;
        HasReward = hasReward;
        Done = done;
        IsFirst = isFirst;
        Split = split;
    }

    public LatentsLayout Layout { get; }
    public int Count { get; }
    public string[] EpisodeId { get; }
    public int[] FrameIndex { get; }
    /// <summary>Count latents of <see cref="LatentsLayout.LatentBytes"/> bytes, back to back.</summary>
    public byte[] Latents { get; }
    public Array[] Actions { get; }
    public bool[] HasAction { get; }
    public float[] Reward { get; }
    public bool[] HasReward { get; }
    public bool[] Done { get; }
    public bool[] IsFirst { get; }
    public string[] Split { get; }

    public ReadOnlySpan<byte> Latent(int row) => Latents.AsSpan(row * Layout.LatentBytes, Layout.LatentBytes);

    /// <summary>One ColumnData per schema column, in schema order.</summary>
    public IReadOnlyList<ColumnData> ToColumns()
    {
        var columns = new List<ColumnData>
        {
            ColumnData.Strings(EpisodeId),
            ColumnData.Primitive(FrameIndex),
            ColumnData.Fixed(Latents, Layout.LatentBytes, Count),
        };
        foreach (var action in Actions)
            columns.Add(action switch
            {
                int[] ints => ColumnData.Primitive(ints, HasAction),
                bool[] bools => ColumnData.Primitive(bools, HasAction),
                float[] floats => ColumnData.Primitive(floats, HasAction),
                _ => throw new InvalidOperationException($"unexpected action array {action.GetType().Name}"),
            });
        columns.Add(ColumnData.Primitive(Reward, HasReward));
        columns.Add(ColumnData.Primitive(Done));
        columns.Add(ColumnData.Primitive(IsFirst));
        columns.Add(ColumnData.Strings(Split));
        return columns;
    }

    /// <summary>Wraps columns read from a latents part (schema order).</summary>
    public static LatentsBatch FromColumns(LatentsLayout layout, IReadOnlyList<ColumnData> columns)
    {
        var schema = layout.Schema.Columns;
        if (columns.Count != schema.Count) throw new ArgumentException($"expected {schema.Count} latents columns, got {columns.Count}");
        var count = columns[0].Count;
        int first = LatentsLayout.ActionColumnIndex, n = layout.ActionSpace.Columns.Count;
        var actions = new Array[n];
        for (var c = 0; c < n; c++)
            actions[c] = columns[first + c].Values ?? throw new InvalidDataException($"column {schema[first + c]} has no values");
        var hasAction = n > 0 ? Validity(columns[first]) : new bool[count];
        var reward = columns[first + n];
        return new LatentsBatch(layout, Strings(columns[0]), (int[])columns[1].Values!, columns[2].Bytes!, actions, hasAction,
            (float[])reward.Values!, Validity(reward), (bool[])columns[first + n + 1].Values!, (bool[])columns[first + n + 2].Values!,
            Strings(columns[first + n + 3]));
    }

    private static bool[] Validity(ColumnData column)
    {
        if (column.Validity != null) return column.Validity;
        var all = new bool[column.Count];
        all.AsSpan().Fill(true);
        return all;
    }

    private static string[] Strings(ColumnData column)
    {
        var values = new string[column.Count];
        for (var i = 0; i < values.Length; i++)
            values[i] = i > 0 && column.GetBytes(i).SequenceEqual(column.GetBytes(i - 1)) ? values[i - 1] : column.GetString(i)!;
        return values;
    }
}
