using System.Security.Cryptography;
using System.Text;
using Dreamer.Hosting;
using Dreamer.Schemas;
using Dreamer.Storage;

namespace Dreamer.Stages.Ingest;

/// <summary>A file under the raw prefix, by content.</summary>
internal sealed record SourceFile(string Path, long Bytes, string Sha256);

/// <summary>A source left out, and why.</summary>
internal sealed record Rejection(string Path, string Reason);

/// <summary>One video to ingest: its optional log, the episode it becomes and its part name.</summary>
internal sealed record VideoItem(int Index, SourceFile Video, SourceFile? Log, string EpisodeId, string Key)
{
    public string PartName => $"part-{Key}.parquet";
}

/// <summary>
/// Everything under a raw prefix, hashed and paired up: dataset.json, videos with their logs, and the
/// files that cannot be ingested whatever their content (empty, orphan logs, ambiguous names). The
/// same files give the same plan on every worker, which is what lets them share one artifact.
/// </summary>
internal sealed class IngestPlan
{
    public required string Prefix { get; init; }
    public required RawDatasetInfo Dataset { get; init; }
    /// <summary>Every source file (dataset.json, videos, logs), sorted by path.</summary>
    public required IReadOnlyList<SourceFile> Sources { get; init; }
    public required IReadOnlyList<VideoItem> Videos { get; init; }
    public required IReadOnlyList<Rejection> Rejected { get; init; }

    /// <summary>
    /// The sources as the manifest lists them, by store-relative path: the same files give the same
    /// manifest and artifact id in any store (lineage events name the store as the dataset namespace).
    /// </summary>
    public IReadOnlyList<ManifestSource> ManifestSources => Sources.Select(s => new ManifestSource(s.Path, s.Bytes, s.Sha256)).ToList();

    public static async Task<IngestPlan> CreateAsync(IBlobStore store, string prefix, int parallelism, CancellationToken ct)
    {
        var listed = new List<BlobItem>();
        await foreach (var blob in store.ListAllAsync(prefix, ct).ConfigureAwait(false))
            // Hidden files (.DS_Store, editor swap files) are not part of a dataset.
            if (!blob.Path[prefix.Length..].Split('/').Any(segment => segment.StartsWith('.'))) listed.Add(blob);
        var datasetPath = prefix + RawDatasetInfo.FileName;
        if (listed.Count == 0)
            throw new StageInputException($"--input {prefix.TrimEnd('/')}: no files under it in {store.DisplayUri}; expected videos and {RawDatasetInfo.FileName}");
        if (!listed.Any(b => b.Path == datasetPath))
            throw new StageInputException($"{datasetPath}: missing; every raw dataset declares fps, frame size and action space there (schemas/RAW_DATASET.md)");

        var sources = new SourceFile[listed.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, listed.Count),
            new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = ct }, async (i, token) =>
            {
                var blob = listed[i];
                sources[i] = new SourceFile(blob.Path, blob.Length, await StoreFiles.HashAsync(store, blob.Path, token).ConfigureAwait(false));
            }).ConfigureAwait(false);
        Array.Sort(sources, (a, b) => string.CompareOrdinal(a.Path, b.Path));

        RawDatasetInfo dataset;
        try
        {
            dataset = RawDatasetInfo.Parse(await store.ReadAllBytesAsync(datasetPath, ct).ConfigureAwait(false), datasetPath);
        }
        catch (RawFormatException e)
        {
            throw new StageInputException(e.Message, e);
        }

        var rejected = new List<Rejection>();
        // A .jsonl is a log, never a video; anything else but dataset.json is a video candidate.
        static bool IsLog(SourceFile s) => s.Path.EndsWith(RawDatasetInfo.LogExtension, StringComparison.Ordinal);
        var logs = sources.Where(IsLog).ToDictionary(s => Stem(prefix, s.Path), StringComparer.Ordinal);
        var candidates = sources.Where(s => s.Path != datasetPath && !IsLog(s)).ToList();
        if (candidates.Count == 0)
            throw new StageInputException($"--input {prefix.TrimEnd('/')}: no videos beside {RawDatasetInfo.FileName}; expected <name>.<ext> files ffmpeg can decode");
        var videos = new List<VideoItem>();
        foreach (var group in candidates.GroupBy(s => Stem(prefix, s.Path), StringComparer.Ordinal))
        {
            var files = group.ToList();
            var log = logs.GetValueOrDefault(group.Key);
            if (files.Count > 1)
            {
                var names = string.Join(" and ", files.Select(f => f.Path[prefix.Length..]));
                foreach (var f in files)
                    rejected.Add(new Rejection(f.Path, $"ambiguous episode: {names} share the name '{group.Key}'{(log != null ? " and its log" : "")}; keep one video per name"));
                continue;
            }
            var video = files[0];
            if (video.Bytes == 0)
            {
                rejected.Add(new Rejection(video.Path, "empty file"));
                continue;
            }
            videos.Add(new VideoItem(0, video, log, group.Key, PartKey(video)));
        }
        var videoStems = candidates.Select(s => Stem(prefix, s.Path)).ToHashSet(StringComparer.Ordinal);
        foreach (var (stem, log) in logs)
            if (!videoStems.Contains(stem))
                rejected.Add(new Rejection(log.Path, $"log without a video: expected a video named {stem}.<ext> beside it"));

        videos.Sort((a, b) => string.CompareOrdinal(a.Video.Path, b.Video.Path));
        return new IngestPlan
        {
            Prefix = prefix,
            Dataset = dataset,
            Sources = sources,
            Videos = videos.Select((v, i) => v with { Index = i }).ToList(),
            Rejected = rejected.OrderBy(r => r.Path, StringComparer.Ordinal).ToList(),
        };
    }

    /// <summary>The episode name: the path under the prefix without its extension ("episode-000001", "day2/run3").</summary>
    public static string Stem(string prefix, string path)
    {
        var relative = path[prefix.Length..];
        int slash = relative.LastIndexOf('/');
        int dot = relative.LastIndexOf('.');
        return dot > slash + 1 ? relative[..dot] : relative;
    }

    /// <summary>Names a video's part after its path and content, so two copies of one video never collide.</summary>
    static string PartKey(SourceFile video) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(video.Path + "\n" + video.Sha256)))[..16];
}
