using Dreamer.Artifacts;
using Dreamer.Parquet;
using Dreamer.Schemas;
using Dreamer.Storage;
using Dreamer.Torch;
using Dreamer.WorldModel;

namespace Dreamer.Stages.TrainDynamics;

/// <summary>
/// The latents table of a tokenize artifact in memory, split into train and validation <see cref="LatentSet"/>s
/// (episodes by id, frames by index; an episode is cut where frame indices skip, so no window spans a gap).
/// </summary>
public sealed class LatentsData : IDisposable
{
    public const string PartsPrefix = "latents/part-";

    private LatentsData(string tokenizeArtifactId, LatentsLayout layout, IReadOnlyList<ActionComponentSpec> actionSpace,
        LatentSet train, LatentSet? validation, int trainEpisodes, int validationEpisodes)
    {
        TokenizeArtifactId = tokenizeArtifactId;
        Layout = layout;
        ActionSpace = actionSpace;
        Train = train;
        Validation = validation;
        TrainEpisodes = trainEpisodes;
        ValidationEpisodes = validationEpisodes;
    }

    public string TokenizeArtifactId { get; }
    public LatentsLayout Layout { get; }
    /// <summary>The action space as the world model sees it (converted from the table's schema).</summary>
    public IReadOnlyList<ActionComponentSpec> ActionSpace { get; }
    public LatentSet Train { get; }
    /// <summary>Null when the artifact has no validation episodes.</summary>
    public LatentSet? Validation { get; }
    public int TrainEpisodes { get; }
    public int ValidationEpisodes { get; }
    public int TrainFrames => Train.Count;
    public int ValidationFrames => Validation?.Count ?? 0;

    /// <summary>Store paths of the artifact's latents parts, in name order.</summary>
    public static IReadOnlyList<string> Parts(ArtifactManifest manifest) => manifest.Outputs
        .Where(o => o.Path.StartsWith(PartsPrefix, StringComparison.Ordinal) && o.Path.EndsWith(".parquet", StringComparison.Ordinal))
        .Select(o => StorePaths.ArtifactPrefix(manifest.Stage, manifest.ArtifactId) + o.Path)
        .Order(StringComparer.Ordinal)
        .ToList();

    /// <summary>The layout of the first latents part, from its footer (no latent is read).</summary>
    public static async Task<LatentsLayout> ReadLayoutAsync(IBlobStore store, ArtifactManifest manifest, CancellationToken ct)
    {
        var part = Parts(manifest).FirstOrDefault() ?? throw NoParts(manifest);
        using var reader = await OpenAsync(store, part, ct).ConfigureAwait(false);
        return CheckedLayout(reader, part);
    }

    private static InvalidDataException NoParts(ArtifactManifest manifest) => new(
        $"{manifest.Stage} artifact {manifest.ArtifactId} has no {PartsPrefix}*.parquet output; expected the latents table of a tokenize artifact");

    private static async Task<ParquetReader> OpenAsync(IBlobStore store, string part, CancellationToken ct)
    {
        try
        {
            return await ParquetReader.OpenAsync(store, part, ct: ct).ConfigureAwait(false);
        }
        catch (BlobNotFoundException e)
        {
            throw new InvalidDataException($"{part}: listed in the manifest but missing from the store", e);
        }
        catch (ParquetFormatException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }

    /// <summary>The part's layout, with its columns checked against what the layout implies.</summary>
    private static LatentsLayout CheckedLayout(ParquetReader reader, string part)
    {
        var layout = LatentsLayout.FromMetadata(reader.KeyValueMetadata, part);
        var expected = layout.Schema.Columns;
        var actual = reader.Schema.Columns;
        for (var c = 0; c < Math.Max(expected.Count, actual.Count); c++)
        {
            if (c >= actual.Count)
                throw new InvalidDataException($"{part}: column '{expected[c].DottedPath}' is missing; expected the latents schema ({string.Join(", ", expected)})");
            if (c >= expected.Count)
                throw new InvalidDataException($"{part}: unexpected column '{actual[c].DottedPath}'; expected the latents schema ({string.Join(", ", expected)})");
            var (e, a) = (expected[c], actual[c]);
            if (e.DottedPath != a.DottedPath || e.PhysicalType != a.PhysicalType)
                throw new InvalidDataException($"{part}: column {c} is '{a.DottedPath}' ({a.PhysicalType}), expected '{e.DottedPath}' ({e.PhysicalType})");
            if (e.Field.TypeLength != a.Field.TypeLength)
                throw new InvalidDataException($"{part}: column '{a.DottedPath}' holds {a.Field.TypeLength}-byte values, expected {e.Field.TypeLength} "
                    + $"({layout.Tokens} tokens x {layout.Dim} dims of float16, from the metadata)");
        }
        return layout;
    }

    /// <summary>The table's action space as the world model's components (same column order).</summary>
    public static IReadOnlyList<ActionComponentSpec> ToModelActions(ActionSpaceSpec space) => space.Components.Select(c => c.Type switch
    {
        ActionComponentType.Categorical => new ActionComponentSpec(c.Name, ActionKind.Categorical, c.Classes),
        ActionComponentType.Binary => new ActionComponentSpec(c.Name, ActionKind.Binary, c.Keys),
        _ => new ActionComponentSpec(c.Name, ActionKind.Continuous, [], c.Low, c.High),
    }).ToList();

    private readonly record struct Row(string Episode, int Frame, bool Validation, int Batch, int Index, string Part);

    /// <summary>Reads every latents part of a tokenize artifact.</summary>
    public static async Task<LatentsData> LoadAsync(IBlobStore store, ArtifactManifest manifest, CancellationToken ct)
    {
        var parts = Parts(manifest);
        if (parts.Count == 0) throw NoParts(manifest);
        LatentsLayout? layout = null;
        var batches = new List<LatentsBatch>();
        var rows = new List<Row>();
        foreach (var part in parts)
        {
            using var reader = await OpenAsync(store, part, ct).ConfigureAwait(false);
            var partLayout = CheckedLayout(reader, part);
            if (layout == null) layout = partLayout;
            else if (partLayout.Tokens != layout.Tokens || partLayout.Dim != layout.Dim
                     || partLayout.ActionSpace.ToJson().ToJsonString() != layout.ActionSpace.ToJson().ToJsonString())
                throw new InvalidDataException($"{part}: latent shape {partLayout.Tokens}x{partLayout.Dim} or action space differs from the first part's "
                    + $"({layout.Tokens}x{layout.Dim}, {parts[0]})");
            for (var g = 0; g < reader.RowGroupCount; g++)
            {
                LatentsBatch batch;
                try
                {
                    batch = LatentsBatch.FromColumns(layout, await reader.ReadRowGroupAsync(g, ct: ct).ConfigureAwait(false));
                }
                catch (ParquetFormatException e)
                {
                    throw new InvalidDataException(e.Message, e);
                }
                catch (Exception e) when (e is ArgumentException or InvalidCastException)
                {
                    throw new InvalidDataException($"{part}: row group {g} does not hold latents table columns: {e.Message}", e);
                }
                for (var i = 0; i < batch.Count; i++)
                {
                    var split = batch.Split[i];
                    if (split != FramesTable.TrainSplit && split != FramesTable.ValidationSplit)
                        throw new InvalidDataException($"{part}: row group {g} row {i}: field '{LatentsTable.Split}' is '{split}', expected "
                            + $"'{FramesTable.TrainSplit}' or '{FramesTable.ValidationSplit}'");
                    rows.Add(new Row(batch.EpisodeId[i], batch.FrameIndex[i], split == FramesTable.ValidationSplit, batches.Count, i, part));
                }
                batches.Add(batch);
            }
        }
        if (layout == null || rows.Count == 0) throw new InvalidDataException($"tokenize artifact {manifest.ArtifactId}: the latents table has no rows");

        var actions = ToModelActions(layout.ActionSpace);
        var columns = layout.ActionSpace.Columns;
        // Train first, then validation; episodes by id; frames by index.
        var order = rows.OrderBy(r => r.Validation).ThenBy(r => r.Episode, StringComparer.Ordinal).ThenBy(r => r.Frame).ToArray();
        var trainRows = order.Count(r => !r.Validation);
        var bytes = layout.LatentBytes;
        var latents = GC.AllocateUninitializedArray<byte>(checked(order.Length * bytes));
        var values = new float[checked(order.Length * columns.Count)];
        var labeled = new bool[order.Length];
        var segments = new int[order.Length];
        var segmentNames = new List<string>();
        int segment = 0, trainEpisodes = 0, validationEpisodes = 0;
        for (var n = 0; n < order.Length; n++)
        {
            var r = order[n];
            var batch = batches[r.Batch];
            batch.Latent(r.Index).CopyTo(latents.AsSpan(n * bytes, bytes));
            labeled[n] = batch.HasAction[r.Index];
            for (var c = 0; c < columns.Count; c++)
            {
                float v = batch.Actions[c] switch
                {
                    int[] ints => ints[r.Index],
                    bool[] bools => bools[r.Index] ? 1 : 0,
                    float[] floats => floats[r.Index],
                    _ => throw new InvalidDataException($"{r.Part}: action column '{columns[c].ColumnName}' has an unexpected type"),
                };
                if (labeled[n])
                {
                    var component = layout.ActionSpace.Components[columns[c].Component];
                    if (component.Type == ActionComponentType.Categorical && (v < 0 || v >= component.Classes.Count))
                        throw new InvalidDataException($"{r.Part}: episode {r.Episode} frame {r.Frame}: field '{columns[c].ColumnName}' is {v}, "
                            + $"expected a class index in [0, {component.Classes.Count})");
                    if (!float.IsFinite(v))
                        throw new InvalidDataException($"{r.Part}: episode {r.Episode} frame {r.Frame}: field '{columns[c].ColumnName}' is {v}, expected a finite value");
                }
                values[n * columns.Count + c] = v;
            }
            if (n > 0 && order[n - 1].Episode == r.Episode)
            {
                var previous = order[n - 1];
                if (previous.Frame == r.Frame)
                    throw new InvalidDataException($"{r.Part}: episode {r.Episode}: field '{LatentsTable.FrameIndex}' {r.Frame} appears twice");
                if (previous.Validation != r.Validation)
                    throw new InvalidDataException($"{r.Part}: episode {r.Episode}: field '{LatentsTable.Split}' differs between its frames; expected one split per episode");
                // A gap in frame indices starts a new segment: windows and the previous action never cross it.
                if (r.Frame != previous.Frame + 1) segment++;
            }
            else if (n > 0)
            {
                segment++;
            }
            if (n == 0 || order[n - 1].Episode != r.Episode)
            {
                if (r.Validation) validationEpisodes++;
                else trainEpisodes++;
            }
            segments[n] = segment;
            if (segmentNames.Count == segment) segmentNames.Add(segmentNames.Contains(r.Episode) ? $"{r.Episode}@{r.Frame}" : r.Episode);
        }
        batches.Clear();

        LatentSet Set(int start, int count)
        {
            // Segment ordinals from 0 within each set; EpisodeNames[ordinal] names the episode (id@frame after a gap).
            var first = segments[start];
            var ordinals = segments[start..(start + count)].Select(s => s - first).ToArray();
            var names = segmentNames.GetRange(first, ordinals[^1] + 1);
            using var half = Tensor.FromBytes(latents.AsSpan(start * bytes, count * bytes), DType.Float16, count, layout.Tokens, layout.Dim);
            return new LatentSet(half, values[(start * columns.Count)..((start + count) * columns.Count)], labeled[start..(start + count)],
                ordinals, columns.Count, names);
        }

        if (trainRows == 0)
            throw new InvalidDataException($"tokenize artifact {manifest.ArtifactId}: no row has {LatentsTable.Split} = '{FramesTable.TrainSplit}'; nothing to train on");
        var train = Set(0, trainRows);
        try
        {
            var validation = order.Length > trainRows ? Set(trainRows, order.Length - trainRows) : null;
            return new LatentsData(manifest.ArtifactId, layout, actions, train, validation, trainEpisodes, validationEpisodes);
        }
        catch
        {
            train.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Train.Dispose();
        Validation?.Dispose();
    }
}
