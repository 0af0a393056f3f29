using System.Globalization;
using System.Text.Json.Nodes;
using Dreamer.Parquet;

namespace Dreamer.Schemas;

/// <summary>
/// The frames table (FRAMES_TABLE.md): one row per video frame, written by ingest and read by tokenize.
/// Column names, file metadata keys and the version live here and nowhere else.
/// </summary>
public static class FramesTable
{
    public const int SchemaVersion = 1;
    public const string TableName = "frames";

    public const string EpisodeId = "episode_id";
    public const string FrameIndex = "frame_index";
    public const string Image = "image";
    public const string Reward = "reward";
    public const string Done = "done";
    public const string SourceFile = "source_file";
    public const string SourceOffset = "source_offset";
    public const string Split = "split";

    public const string TrainSplit = "train";
    public const string ValidationSplit = "validation";

    /// <summary>File-level key-value metadata of every frames part.</summary>
    public static class Keys
    {
        public const string Table = "dreamer.table";
        public const string SchemaVersion = "dreamer.schema_version";
        public const string ArtifactId = "dreamer.artifact_id";
        public const string ActionSpace = "dreamer.action_space";
        public const string FrameWidth = "dreamer.frame_width";
        public const string FrameHeight = "dreamer.frame_height";
        public const string Fps = "dreamer.fps";
        /// <summary>Per part: the source video (store path) and its SHA-256, the episode and its labeled frame count.</summary>
        public const string Source = "dreamer.source";
        public const string SourceSha256 = "dreamer.source_sha256";
        public const string Episode = "dreamer.episode_id";
        public const string LabeledFrames = "dreamer.labeled_frames";
    }

    /// <summary>
    /// Stable split of an episode: the first 8 bytes of SHA-256(episode id) as a fraction of 2^64, below the
    /// validation fraction goes to validation. Independent of the order, machine and the other episodes.
    /// </summary>
    public static string SplitOf(string episodeId, double validationFraction)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(episodeId));
        double u = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(hash) / 18446744073709551616.0;
        return u < validationFraction ? ValidationSplit : TrainSplit;
    }
}

/// <summary>
/// The shape of one frames table: frame size, frame rate and action space. Builds the Parquet schema
/// (fixed columns, then one nullable column per flattened action column) and the file metadata.
/// </summary>
public sealed class FramesLayout
{
    public FramesLayout(int width, int height, double fps, ActionSpaceSpec actionSpace)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"frame size {width}x{height}: expected positive width and height");
        Width = width;
        Height = height;
        Fps = fps;
        ActionSpace = actionSpace;
        var fields = new List<ParquetField>
        {
            ParquetField.String(FramesTable.EpisodeId),
            ParquetField.Int32(FramesTable.FrameIndex),
            ParquetField.FixedBinary(FramesTable.Image, FrameBytes),
        };
        foreach (var column in actionSpace.Columns)
            fields.Add(column.Kind switch
            {
                ActionValueKind.Int32 => ParquetField.Int32(column.ColumnName, nullable: true),
                ActionValueKind.Boolean => ParquetField.Boolean(column.ColumnName, nullable: true),
                _ => ParquetField.Float(column.ColumnName, nullable: true),
            });
        fields.Add(ParquetField.Float(FramesTable.Reward, nullable: true));
        fields.Add(ParquetField.Boolean(FramesTable.Done));
        fields.Add(ParquetField.String(FramesTable.SourceFile));
        fields.Add(ParquetField.Int32(FramesTable.SourceOffset));
        fields.Add(ParquetField.String(FramesTable.Split));
        Schema = new ParquetSchema(fields);
    }

    public int Width { get; }
    public int Height { get; }
    public double Fps { get; }
    public ActionSpaceSpec ActionSpace { get; }
    /// <summary>Bytes of one raw RGB frame (height x width x 3, row-major).</summary>
    public int FrameBytes => checked(Width * Height * 3);
    public ParquetSchema Schema { get; }

    /// <summary>Index of the first action column in <see cref="Schema"/>'s columns.</summary>
    internal const int FirstActionColumn = 3;

    /// <summary>The table-level metadata every part carries (per-part keys are added by the writer).</summary>
    public IReadOnlyDictionary<string, string> Metadata(string artifactId) => new Dictionary<string, string>
    {
        [FramesTable.Keys.Table] = FramesTable.TableName,
        [FramesTable.Keys.SchemaVersion] = FramesTable.SchemaVersion.ToString(CultureInfo.InvariantCulture),
        [FramesTable.Keys.ArtifactId] = artifactId,
        [FramesTable.Keys.ActionSpace] = ActionSpace.ToJson().ToJsonString(),
        [FramesTable.Keys.FrameWidth] = Width.ToString(CultureInfo.InvariantCulture),
        [FramesTable.Keys.FrameHeight] = Height.ToString(CultureInfo.InvariantCulture),
        [FramesTable.Keys.Fps] = Fps.ToString("R", CultureInfo.InvariantCulture),
    };

    /// <summary>Rebuilds the layout from a part's metadata; throws InvalidDataException naming the file and key.</summary>
    public static FramesLayout FromMetadata(IReadOnlyDictionary<string, string?> metadata, string file)
    {
        string Get(string key) => metadata.TryGetValue(key, out var v) && v != null
            ? v : throw new InvalidDataException($"{file}: metadata key '{key}' is missing; expected a frames table part");
        if (Get(FramesTable.Keys.Table) != FramesTable.TableName)
            throw new InvalidDataException($"{file}: metadata '{FramesTable.Keys.Table}' is '{Get(FramesTable.Keys.Table)}', expected '{FramesTable.TableName}'");
        if (!int.TryParse(Get(FramesTable.Keys.SchemaVersion), CultureInfo.InvariantCulture, out int version) || version < 1 || version > FramesTable.SchemaVersion)
            throw new InvalidDataException($"{file}: frames schema version '{Get(FramesTable.Keys.SchemaVersion)}', expected 1..{FramesTable.SchemaVersion}");
        int Int(string key) => int.TryParse(Get(key), CultureInfo.InvariantCulture, out int i) && i > 0
            ? i : throw new InvalidDataException($"{file}: metadata '{key}' = '{Get(key)}', expected a positive integer");
        double fps = double.TryParse(Get(FramesTable.Keys.Fps), CultureInfo.InvariantCulture, out double f) && f > 0
            ? f : throw new InvalidDataException($"{file}: metadata '{FramesTable.Keys.Fps}' = '{Get(FramesTable.Keys.Fps)}', expected a positive number");
        ActionSpaceSpec space;
        try
        {
            space = ActionSpaceSpec.Parse(JsonNode.Parse(Get(FramesTable.Keys.ActionSpace)), file, FramesTable.Keys.ActionSpace);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{file}: metadata '{FramesTable.Keys.ActionSpace}' is not JSON: {e.Message}", e);
        }
        catch (RawFormatException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
        return new FramesLayout(Int(FramesTable.Keys.FrameWidth), Int(FramesTable.Keys.FrameHeight), fps, space);
    }
}

/// <summary>
/// A batch of frames rows in column form: plain arrays of Capacity rows, of which the first Count are
/// used. Writers fill the arrays (images are decoded straight into <see cref="Images"/>) and hand
/// <see cref="ToColumns"/> to a ParquetWriter; readers get one from <see cref="FromColumns"/> without
/// per-value conversion. Action columns are aligned with <see cref="ActionSpaceSpec.Columns"/>; a row's
/// action columns are all null together (<see cref="HasAction"/> false: an unlabeled frame).
/// </summary>
public sealed class FramesBatch
{
    public FramesBatch(FramesLayout layout, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Layout = layout;
        Capacity = capacity;
        EpisodeId = new string[capacity];
        FrameIndex = new int[capacity];
        Images = GC.AllocateUninitializedArray<byte>(checked(capacity * layout.FrameBytes));
        Actions = layout.ActionSpace.Columns.Select(c => NewActionArray(c.Kind, capacity)).ToArray();
        HasAction = new bool[capacity];
        Reward = new float[capacity];
        HasReward = new bool[capacity];
        Done = new bool[capacity];
        SourceFile = new string[capacity];
        SourceOffset = new int[capacity];
        Split = new string[capacity];
    }

    FramesBatch(FramesLayout layout, int count, string[] episodeId, int[] frameIndex, byte[] images, Array[] actions,
        bool[] hasAction, float[] reward, bool[] hasReward, bool[] done, string[] sourceFile, int[] sourceOffset, string[] split)
    {
        Layout = layout;
        Capacity = Count = count;
        EpisodeId = episodeId;
        FrameIndex = frameIndex;
        Images = images;
        Actions = actions;
        HasAction = hasAction;
        Reward = reward;
        HasReward = hasReward;
        Done = done;
        SourceFile = sourceFile;
        SourceOffset = sourceOffset;
        Split = split;
    }

    public FramesLayout Layout { get; }
    public int Capacity { get; }
    /// <summary>Rows in use (0..Capacity).</summary>
    public int Count { get; set; }

    public string[] EpisodeId { get; }
    public int[] FrameIndex { get; }
    /// <summary>Capacity frames of <see cref="FramesLayout.FrameBytes"/> raw RGB bytes, back to back.</summary>
    public byte[] Images { get; }
    /// <summary>Per action column: int[] (categorical), bool[] (binary key) or float[] (continuous).</summary>
    public Array[] Actions { get; }
    public bool[] HasAction { get; }
    public float[] Reward { get; }
    public bool[] HasReward { get; }
    public bool[] Done { get; }
    public string[] SourceFile { get; }
    public int[] SourceOffset { get; }
    public string[] Split { get; }

    public Span<byte> Image(int row) => Images.AsSpan(row * Layout.FrameBytes, Layout.FrameBytes);

    public int[] Int32Action(int column) => (int[])Actions[column];
    public bool[] BooleanAction(int column) => (bool[])Actions[column];
    public float[] FloatAction(int column) => (float[])Actions[column];

    /// <summary>
    /// Copies count steps of a log, from step logStart, into rows from row on; a null log (unlabeled
    /// video) or steps past its end leave actions and reward null.
    /// </summary>
    public void SetLabels(int row, RawLog? log, int logStart, int count)
    {
        int labeled = log == null ? 0 : Math.Clamp(log.Count - logStart, 0, count);
        for (int c = 0; c < Actions.Length; c++)
        {
            if (labeled > 0) Array.Copy(log!.Actions[c], logStart, Actions[c], row, labeled);
            Array.Clear(Actions[c], row + labeled, count - labeled);
        }
        if (labeled > 0)
        {
            Array.Copy(log!.HasAction, logStart, HasAction, row, labeled);
            Array.Copy(log.Reward, logStart, Reward, row, labeled);
            Array.Copy(log.HasReward, logStart, HasReward, row, labeled);
        }
        HasAction.AsSpan(row + labeled, count - labeled).Clear();
        Reward.AsSpan(row + labeled, count - labeled).Clear();
        HasReward.AsSpan(row + labeled, count - labeled).Clear();
    }

    /// <summary>The first Count rows as one ColumnData per schema column, in schema order.</summary>
    public IReadOnlyList<ColumnData> ToColumns()
    {
        var columns = new List<ColumnData>(Layout.Schema.Columns.Count)
        {
            ColumnData.Strings(new ArraySegment<string>(EpisodeId, 0, Count)),
            Primitive(FrameIndex),
            ColumnData.Fixed(Images, Layout.FrameBytes, Count),
        };
        var hasAction = Head(HasAction);
        foreach (var action in Actions)
            columns.Add(action switch
            {
                int[] ints => ColumnData.Primitive(Head(ints), hasAction),
                bool[] bools => ColumnData.Primitive(Head(bools), hasAction),
                float[] floats => ColumnData.Primitive(Head(floats), hasAction),
                _ => throw new InvalidOperationException($"unexpected action array {action.GetType().Name}"),
            });
        columns.Add(ColumnData.Primitive(Head(Reward), Head(HasReward)));
        columns.Add(Primitive(Done));
        columns.Add(ColumnData.Strings(new ArraySegment<string>(SourceFile, 0, Count)));
        columns.Add(Primitive(SourceOffset));
        columns.Add(ColumnData.Strings(new ArraySegment<string>(Split, 0, Count)));
        return columns;
    }

    ColumnData Primitive<T>(T[] values) where T : unmanaged => ColumnData.Primitive(Head(values));

    // A full batch hands its arrays over as they are; only a short last batch copies.
    T[] Head<T>(T[] values) => Count == values.Length ? values : values[..Count];

    /// <summary>Wraps columns read from a frames part (schema order, e.g. one row group) without copying values.</summary>
    public static FramesBatch FromColumns(FramesLayout layout, IReadOnlyList<ColumnData> columns)
    {
        var schema = layout.Schema.Columns;
        if (columns.Count != schema.Count)
            throw new ArgumentException($"expected {schema.Count} frames columns, got {columns.Count}");
        int count = columns[0].Count;
        int first = FramesLayout.FirstActionColumn, n = layout.ActionSpace.Columns.Count;
        var actions = new Array[n];
        bool[] hasAction = n > 0 ? Validity(columns[first]) : new bool[count];
        for (int c = 0; c < n; c++)
            actions[c] = columns[first + c].Values ?? throw new InvalidDataException($"column {schema[first + c]} has no values");
        var reward = columns[first + n];
        return new FramesBatch(layout, count,
            Strings(columns[0]),
            (int[])columns[1].Values!,
            columns[2].Bytes!,
            actions,
            hasAction,
            (float[])reward.Values!,
            Validity(reward),
            (bool[])columns[first + n + 1].Values!,
            Strings(columns[first + n + 2]),
            (int[])columns[first + n + 3].Values!,
            Strings(columns[first + n + 4]));
    }

    static bool[] Validity(ColumnData column)
    {
        if (column.Validity != null) return column.Validity;
        var all = new bool[column.Count];
        all.AsSpan().Fill(true);
        return all;
    }

    static string[] Strings(ColumnData column)
    {
        var values = new string[column.Count];
        // Episode, source and split repeat down a part: decode each distinct run once.
        for (int i = 0; i < values.Length; i++)
            values[i] = i > 0 && column.GetBytes(i).SequenceEqual(column.GetBytes(i - 1)) ? values[i - 1] : column.GetString(i)!;
        return values;
    }

    static Array NewActionArray(ActionValueKind kind, int capacity) => kind switch
    {
        ActionValueKind.Int32 => new int[capacity],
        ActionValueKind.Boolean => new bool[capacity],
        _ => new float[capacity],
    };
}
