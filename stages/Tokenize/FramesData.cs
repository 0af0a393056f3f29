using Dreamer.Artifacts;
using Dreamer.Parquet;
using Dreamer.Parquet.IO;
using Dreamer.Schemas;
using Dreamer.Storage;
using Dreamer.Torch;
using Dreamer.WorldModel;

namespace Dreamer.Stages.Tokenize;

/// <summary>One episode's rows, in frame order, at rows [Start, Start + Length) of <see cref="FramesData"/>.</summary>
public sealed record EpisodeSpan(string Id, string Split, int Start, int Length);

/// <summary>
/// A frames artifact in memory: every frame as one uint8 tensor [N, H, W, C], ordered train episodes
/// first, then validation, each episode's frames by frame index; per-row actions, rewards and done
/// alongside for the latents table. Train and validation sets are views of the same tensor.
/// </summary>
public sealed class FramesData : IDisposable
{
    private FramesData(string framesArtifactId, FramesLayout layout, FrameSet all, IReadOnlyList<EpisodeSpan> episodes, int[] frameIndex, double[][] actions,
        bool[] hasAction, float[] reward, bool[] hasReward, bool[] done, int trainFrames)
    {
        FramesArtifactId = framesArtifactId;
        Layout = layout;
        All = all;
        Episodes = episodes;
        FrameIndex = frameIndex;
        Actions = actions;
        HasAction = hasAction;
        Reward = reward;
        HasReward = hasReward;
        Done = done;
        TrainFrames = trainFrames;
        // Windows never span an episode or a gap in frame indices: segment ids change at both.
        var segments = new int[all.Count];
        var segment = 0;
        foreach (var e in episodes)
        {
            for (var i = e.Start; i < e.Start + e.Length; i++)
            {
                if (i > e.Start && frameIndex[i] != frameIndex[i - 1] + 1) segment++;
                segments[i] = segment;
            }
            segment++;
        }
        Train = new FrameSet(all.Frames.Narrow(0, 0, trainFrames), segments[..trainFrames]);
        Validation = new FrameSet(all.Frames.Narrow(0, trainFrames, all.Count - trainFrames), segments[trainFrames..]);
    }

    public string FramesArtifactId { get; }
    public FramesLayout Layout { get; }
    public FrameSet All { get; }
    public FrameSet Train { get; }
    public FrameSet Validation { get; }
    public IReadOnlyList<EpisodeSpan> Episodes { get; }
    public int TrainFrames { get; }
    public int[] FrameIndex { get; }
    /// <summary>Per action column (FramesLayout.ActionSpace.Columns), per row; exact for int32, bool and float values.</summary>
    public double[][] Actions { get; }
    public bool[] HasAction { get; }
    public float[] Reward { get; }
    public bool[] HasReward { get; }
    public bool[] Done { get; }

    /// <summary>The frames layout of a frames artifact, from its first part's footer (no frame is read).</summary>
    public static async Task<FramesLayout> ReadLayoutAsync(IBlobStore store, ArtifactManifest manifest, CancellationToken ct)
    {
        var part = Parts(manifest).FirstOrDefault() ?? throw new InvalidDataException($"frames artifact {manifest.ArtifactId} has no Parquet part");
        using var source = await BlobSource.OpenAsync(store, part, ct: ct).ConfigureAwait(false);
        using var reader = await ParquetReader.OpenAsync(source, part, ct: ct).ConfigureAwait(false);
        return FramesLayout.FromMetadata(reader.KeyValueMetadata, part);
    }

    private static IEnumerable<string> Parts(ArtifactManifest manifest) => manifest.Outputs
        .Where(o => o.Path.EndsWith(".parquet", StringComparison.Ordinal))
        .Select(o => StorePaths.ArtifactPrefix(manifest.Stage, manifest.ArtifactId) + o.Path)
        .Order(StringComparer.Ordinal);

    /// <summary>Reads every part of a frames artifact.</summary>
    public static async Task<FramesData> LoadAsync(IBlobStore store, ArtifactManifest manifest, CancellationToken ct)
    {
        FramesLayout? layout = null;
        var rows = new List<(string Episode, int Frame, string Split, int Slot)>();
        var pixels = new List<byte[]>();
        var actionColumns = new List<double>[0];
        var hasAction = new List<bool>();
        var reward = new List<float>();
        var hasReward = new List<bool>();
        var done = new List<bool>();
        foreach (var part in Parts(manifest))
        {
            using var source = await BlobSource.OpenAsync(store, part, ct: ct).ConfigureAwait(false);
            using var reader = await ParquetReader.OpenAsync(source, part, ct: ct).ConfigureAwait(false);
            var partLayout = FramesLayout.FromMetadata(reader.KeyValueMetadata, part);
            if (layout == null)
            {
                layout = partLayout;
                actionColumns = layout.ActionSpace.Columns.Select(_ => new List<double>()).ToArray();
            }
            else if (partLayout.Width != layout.Width || partLayout.Height != layout.Height
                     || partLayout.ActionSpace.ToJson().ToJsonString() != layout.ActionSpace.ToJson().ToJsonString())
                throw new InvalidDataException($"{part}: frame size or action space differs from the artifact's first part");
            for (var g = 0; g < reader.RowGroupCount; g++)
            {
                var batch = FramesBatch.FromColumns(layout, await reader.ReadRowGroupAsync(g, ct: ct).ConfigureAwait(false));
                for (var i = 0; i < batch.Count; i++)
                {
                    rows.Add((batch.EpisodeId[i], batch.FrameIndex[i], batch.Split[i], rows.Count));
                    pixels.Add(batch.Image(i).ToArray());
                    for (var c = 0; c < actionColumns.Length; c++)
                        actionColumns[c].Add(batch.Actions[c] switch
                        {
                            int[] ints => ints[i],
                            bool[] bools => bools[i] ? 1 : 0,
                            float[] floats => floats[i],
                            _ => throw new InvalidDataException($"{part}: unexpected action column type"),
                        });
                    hasAction.Add(batch.HasAction[i]);
                    reward.Add(batch.Reward[i]);
                    hasReward.Add(batch.HasReward[i]);
                    done.Add(batch.Done[i]);
                }
            }
        }
        if (layout == null || rows.Count == 0) throw new InvalidDataException($"frames artifact {manifest.ArtifactId} has no rows");

        // Train first, then validation; episodes by id; frames by index.
        int SplitRank(string split) => split == FramesTable.TrainSplit ? 0 : split == FramesTable.ValidationSplit ? 1
            : throw new InvalidDataException($"episode split '{split}': expected {FramesTable.TrainSplit} or {FramesTable.ValidationSplit}");
        var order = rows.OrderBy(r => SplitRank(r.Split)).ThenBy(r => r.Episode, StringComparer.Ordinal).ThenBy(r => r.Frame).ToArray();
        var n = order.Length;
        var frameBytes = layout.FrameBytes;
        var buffer = GC.AllocateUninitializedArray<byte>(checked(n * frameBytes));
        var episodes = new List<EpisodeSpan>();
        var frameIndex = new int[n];
        for (var i = 0; i < n; i++)
        {
            var r = order[i];
            pixels[r.Slot].CopyTo(buffer, (long)i * frameBytes);
            pixels[r.Slot] = [];
            frameIndex[i] = r.Frame;
            if (i > 0 && order[i - 1].Episode == r.Episode)
            {
                if (order[i - 1].Frame == r.Frame) throw new InvalidDataException($"episode {r.Episode}: frame {r.Frame} appears twice");
                if (order[i - 1].Split != r.Split) throw new InvalidDataException($"episode {r.Episode} is in both splits");
                episodes[^1] = episodes[^1] with { Length = episodes[^1].Length + 1 };
            }
            else episodes.Add(new EpisodeSpan(r.Episode, r.Split, i, 1));
        }
        T[] Reorder<T>(List<T> values) => order.Select(r => values[r.Slot]).ToArray();
        var trainFrames = order.Count(r => r.Split == FramesTable.TrainSplit);
        var all = FrameSet.FromBytes(buffer, layout.Height, layout.Width, 3, new int[n]);
        return new FramesData(manifest.ArtifactId, layout, all, episodes, frameIndex, actionColumns.Select(Reorder).ToArray(),
            Reorder(hasAction), Reorder(reward), Reorder(hasReward), Reorder(done), trainFrames);
    }

    public void Dispose()
    {
        Train.Dispose();
        Validation.Dispose();
        All.Dispose();
    }
}
