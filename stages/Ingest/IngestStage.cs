using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Dreamer.Artifacts;
using Dreamer.Hosting;
using Dreamer.Parquet;
using Dreamer.Schemas;
using Dreamer.Storage;
using Microsoft.Extensions.Logging;

namespace Dreamer.Stages.Ingest;

/// <summary>What every video task of one run shares.</summary>
internal sealed class IngestRun
{
    public required IBlobStore Store { get; init; }
    public required IngestPlan Plan { get; init; }
    public required IngestSection Settings { get; init; }
    public required FramesLayout Layout { get; init; }
    public required string ArtifactId { get; init; }
    public required ArtifactWriter Writer { get; init; }
    public required BatchPool Pool { get; init; }
    public required VideoDecoder Decoder { get; init; }
    /// <summary>One per decoder (Ingest:Decoders): videos in their decode, transform and write steps at once.</summary>
    public required SemaphoreSlim DecodeSlots { get; init; }
    public required string TempDirectory { get; init; }
    public required string RunId { get; init; }
    public required ILogger Log { get; init; }
}

/// <summary>
/// `dreamer-ingest --input raw/&lt;dataset&gt;`: every video under the prefix becomes one Parquet part of the
/// frames table. The plan lists and hashes every source: the artifact id is computed from their content,
/// so the same files give the same id and a committed one is reused. Workers (`--shard i/N`, or several
/// on one store) claim videos through blob leases, starting with their own share, then helping with the
/// rest; each finished video leaves a work record, and the worker that sees a record for every video
/// commits the manifest (create-only: exactly one wins). A rerun after a kill skips videos whose record
/// and part check out. One instance serves one plan-then-run (StageHost's two steps).
/// </summary>
public sealed class IngestStage
{
    public const string StageName = "ingest";
    /// <summary>Upper bound for one batch of frames in memory (several are in flight per video).</summary>
    const long MaxBatchBytes = 256L << 20;

    /// <summary>What the plan step found, for the run step.</summary>
    sealed record Prepared(IngestSection Settings, JsonObject Config, ManifestCode Code, IngestPlan Plan, string ArtifactId);

    Prepared? _prepared;

    /// <summary>In process (tests, the benchmark): plan, then reuse a committed artifact or run, as StageHost does.</summary>
    public static Task<StageResult> RunAsync(StageContext ctx)
    {
        var stage = new IngestStage();
        return StageHost.RunInProcessAsync(ctx, StageName, stage.PlanAsync, stage.RunAsync);
    }

    /// <summary>Reads the configuration, lists and hashes the sources, and computes the artifact id.</summary>
    public async Task<StagePlan> PlanAsync(StageContext ctx)
    {
        var ct = ctx.Cancellation;
        var config = StageConfiguration.Load<IngestConfig>(ctx.Options.ConfigSources);
        var settings = config.Ingest;
        var prefix = InputPrefix(ctx.Options.Input);
        using var store = BlobStores.Open(ctx.Options.Store);
        var decoderVersion = await FfmpegVersionAsync(settings.Ffmpeg, ct).ConfigureAwait(false);
        var plan = await IngestPlan.CreateAsync(store, prefix, settings.EffectiveDecoders(), ct).ConfigureAwait(false);

        var code = CodeVersion.ForThisProcess();
        var configJson = StageConfiguration.ToJson(config);
        // The decoder's version decides the pixels as much as our code does.
        configJson["Decoder"] = decoderVersion;
        var inputs = new Dictionary<string, string> { ["sources"] = ArtifactIds.SourcesDigest(plan.ManifestSources) };
        var artifactId = ArtifactIds.Compute(StageName, code.Version, IngestSection.ContentJson(configJson), inputs, ctx.Options.Salt);

        if (settings.Strict)
        {
            // Strict is not part of the id, so a committed artifact that left files out must not pass for a strict run.
            if (plan.Rejected is [var bad, ..]) throw new StageInputException($"{bad.Path}: {bad.Reason} (Ingest:Strict)");
            if (await new ArtifactCatalog(store).TryGetAsync(StageName, artifactId, ct).ConfigureAwait(false) is { Manifest.Rejected: [var first, ..] })
                throw new StageInputException($"{first.Uri}: {first.Reason} (Ingest:Strict; the committed artifact {artifactId} left it out)");
        }
        _prepared = new Prepared(settings, configJson, code, plan, artifactId);
        return new StagePlan(artifactId, configJson, inputs);
    }

    /// <summary>Ingests the planned videos (this worker's share first) and commits when every video is done.</summary>
    public async Task<StageResult> RunAsync(StageContext ctx, StagePlan stagePlan)
    {
        var (settings, configJson, code, plan, artifactId) = _prepared is { } p && p.ArtifactId == stagePlan.ArtifactId
            ? p : throw new InvalidOperationException("RunAsync runs the plan this instance made in PlanAsync");
        var ct = ctx.Cancellation;
        using var store = BlobStores.Open(ctx.Options.Store);
        var layout = new FramesLayout(settings.Width ?? plan.Dataset.Width, settings.Height ?? plan.Dataset.Height,
            plan.Dataset.Fps, plan.Dataset.ActionSpace);
        if ((long)settings.BatchFrames * layout.FrameBytes > MaxBatchBytes)
            throw new StageInputException($"Ingest:BatchFrames = {settings.BatchFrames}: {layout.Width}x{layout.Height} frames make batches over " +
                                          $"{MaxBatchBytes >> 20} MB; expected at most {MaxBatchBytes / layout.FrameBytes}");

        var inputs = new[] { new LineageDataset(plan.Prefix.TrimEnd('/'), stagePlan.Inputs["sources"], Files: plan.Sources.Count) };
        return await StageLineage.RunAsync(ctx, store, StageName, artifactId, code, inputs, sharded: true, async runId =>
        {
            using var scratch = ScratchDirectory.Create("ingest");
            var run = new IngestRun
            {
                Store = store,
                Plan = plan,
                Settings = settings,
                Layout = layout,
                ArtifactId = artifactId,
                Writer = new ArtifactWriter(store, StageName, artifactId),
                Pool = new BatchPool(layout, settings.BatchFrames),
                Decoder = new VideoDecoder(settings.Ffmpeg, layout, settings.Resize, settings.DecoderThreads),
                DecodeSlots = new SemaphoreSlim(settings.EffectiveDecoders()),
                TempDirectory = scratch.Path,
                RunId = runId,
                Log = ctx.Log,
            };
            var workers = new IngestWorkers(run, ctx.Options.ShardIndex, ctx.Options.ShardCount);
            await workers.RunAsync(ct).ConfigureAwait(false);
            return await workers.CommitAsync(configJson, code, ct).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    /// <summary>The raw prefix from --input, with a trailing '/'.</summary>
    static string InputPrefix(string input)
    {
        var trimmed = input.Trim().Trim('/');
        if (trimmed.Length == 0 || trimmed == "latest")
            throw new StageInputException("--input: ingest reads a raw prefix, e.g. --input raw/<dataset>");
        try
        {
            BlobNames.ValidatePrefix(trimmed + "/");
        }
        catch (ArgumentException e)
        {
            throw new StageInputException($"--input '{input}': {e.Message}", e);
        }
        return trimmed + "/";
    }

    /// <summary>"ffmpeg version 5.1.9-0+deb12u1": the first line of `ffmpeg -version` up to the copyright.</summary>
    static async Task<string> FfmpegVersionAsync(string ffmpeg, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(ffmpeg, "-version") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        try
        {
            using var process = Process.Start(psi) ?? throw new StageInputException($"Ingest:Ffmpeg = '{ffmpeg}': could not start it");
            var stderr = process.StandardError.ReadToEndAsync(ct);
            var output = await process.StandardOutput.ReadToEndAsync(ct).ConfigureAwait(false);
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
            await stderr.ConfigureAwait(false);
            var first = output.Split('\n')[0].Trim();
            int copyright = first.IndexOf(" Copyright", StringComparison.Ordinal);
            if (process.ExitCode != 0 || !first.StartsWith("ffmpeg version", StringComparison.Ordinal))
                throw new StageInputException($"Ingest:Ffmpeg = '{ffmpeg}': `{ffmpeg} -version` did not identify ffmpeg");
            return copyright > 0 ? first[..copyright] : first;
        }
        catch (Win32Exception e)
        {
            throw new StageInputException($"Ingest:Ffmpeg = '{ffmpeg}': cannot run it ({e.Message}); install ffmpeg or set the path", e);
        }
    }
}

/// <summary>The lease-claimed work loop and the commit of one worker.</summary>
internal sealed class IngestWorkers(IngestRun run, int shardIndex, int shardCount)
{
    readonly WorkRecords _records = new(run.Store, IngestStage.StageName, run.ArtifactId);
    readonly VideoIngestor _ingestor = new(run);
    long _frames;

    /// <summary>This worker's share first (every N-th video), then the others', each share in order.</summary>
    IReadOnlyList<VideoItem> Order() => run.Plan.Videos
        .OrderBy(v => ((v.Index % shardCount) - shardIndex + shardCount) % shardCount)
        .ThenBy(v => v.Index)
        .ToList();

    /// <summary>Returns once every video has a record: done here, by another worker, or by an earlier run.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var order = Order();
        // Twice as many videos in hand as decoders: while one waits on the store, another decodes.
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = 2 * run.Settings.EffectiveDecoders(), CancellationToken = ct };
        await TaskErrors.FirstCauseAsync(Parallel.ForEachAsync(run.Plan.Videos, parallel, (item, token) => new ValueTask(VerifyRecordAsync(item, token)))).ConfigureAwait(false);

        var clock = Stopwatch.StartNew();
        var poll = TimeSpan.FromSeconds(Math.Min(5, run.Settings.LeaseSeconds / 3.0));
        await StageProgress.RunAsync($"ingest {run.Plan.Prefix}", order.Count, async sink =>
        {
            var gate = new object();
            int finished = 0;
            void Report() => sink.Report(finished, $"{Interlocked.Read(ref _frames):N0} frames, {Interlocked.Read(ref _frames) / Math.Max(clock.Elapsed.TotalSeconds, 1e-3):N0} frames/s");
            while (true)
            {
                var present = await _records.ListKeysAsync(ct).ConfigureAwait(false);
                var pending = order.Where(v => !present.Contains(v.Key)).ToList();
                lock (gate)
                {
                    finished = order.Count - pending.Count;
                    Report();
                }
                if (pending.Count == 0) return 0;
                int claimed = 0;
                await TaskErrors.FirstCauseAsync(Parallel.ForEachAsync(pending, parallel, async (item, token) =>
                {
                    if (!await ProcessIfFreeAsync(item, frames =>
                        {
                            Interlocked.Add(ref _frames, frames);
                            lock (gate) Report();
                        }, token).ConfigureAwait(false)) return;
                    Interlocked.Increment(ref claimed);
                    lock (gate)
                    {
                        finished++;
                        Report();
                    }
                })).ConfigureAwait(false);
                if (claimed == 0)
                {
                    // Everything left is leased: a live worker finishes it, or a dead one's lease expires and it is ours.
                    run.Log.LogInformation("waiting for {Count} videos leased by other workers", pending.Count);
                    await Task.Delay(poll, ct).ConfigureAwait(false);
                }
            }
        }).ConfigureAwait(false);
    }

    /// <summary>The video's record, or null when there is none, it is unreadable or it is another video's (then the video is simply redone).</summary>
    async Task<WorkRecord?> ReadRecordAsync(VideoItem item, CancellationToken ct) =>
        await _records.ReadAsync<WorkRecord>(item.Key, ct).ConfigureAwait(false) is { } record && record.Video == item.Video.Path ? record : null;

    /// <summary>A record from an earlier run counts only if its part is there and reads back as that video's part.</summary>
    async Task VerifyRecordAsync(VideoItem item, CancellationToken ct)
    {
        var record = await ReadRecordAsync(item, ct).ConfigureAwait(false);
        if (record == null)
        {
            if (await _records.ExistsAsync(item.Key, ct).ConfigureAwait(false)) await _records.DeleteAsync(item.Key, ct).ConfigureAwait(false);
            return;
        }
        if (record.Part is not { } part) return;
        var props = await run.Store.GetPropertiesAsync(run.Writer.Prefix + part.Path, ct).ConfigureAwait(false);
        if (props != null && props.Length == part.Bytes && await CheckPartAsync(item, props.Length, ct).ConfigureAwait(false) is { } check && check.Rows == part.Rows)
            return;
        run.Log.LogWarning("{Part} of {Video} is missing or does not match its record: redoing the video", part.Path, item.Video.Path);
        await _records.DeleteAsync(item.Key, ct).ConfigureAwait(false);
    }

    /// <summary>Reads a part's footer: its row count and labeled frames when it is this video's part of this artifact, else null.</summary>
    async Task<(long Rows, int Labeled)?> CheckPartAsync(VideoItem item, long length, CancellationToken ct)
    {
        var path = run.Writer.Prefix + item.PartName;
        try
        {
            using var reader = await ParquetReader.OpenAsync(new BlobRandomAccessSource(run.Store, path, length), path, ct: ct).ConfigureAwait(false);
            var kv = reader.KeyValueMetadata;
            if (kv.GetValueOrDefault(FramesTable.Keys.ArtifactId) != run.ArtifactId
                || kv.GetValueOrDefault(FramesTable.Keys.Source) != item.Video.Path
                || kv.GetValueOrDefault(FramesTable.Keys.SourceSha256) != item.Video.Sha256
                || !int.TryParse(kv.GetValueOrDefault(FramesTable.Keys.LabeledFrames), out int labeled))
                return null;
            return (reader.RowCount, labeled);
        }
        catch (ParquetFormatException) { return null; }
        catch (BlobNotFoundException) { return null; }
    }

    /// <summary>Ingests a video unless another worker holds or has finished it; true when this worker did it.</summary>
    async Task<bool> ProcessIfFreeAsync(VideoItem item, Action<int> framesDone, CancellationToken ct)
    {
        var lockPath = StorePaths.Lock(IngestStage.StageName, run.ArtifactId, item.Key);
        await using var lease = await LeaseHolder.TryAcquireAsync(run.Store, lockPath, TimeSpan.FromSeconds(run.Settings.LeaseSeconds), run.Log, ct)
            .ConfigureAwait(false);
        if (lease == null) return false;
        if (await _records.ExistsAsync(item.Key, ct).ConfigureAwait(false)) return false;
        using var work = CancellationTokenSource.CreateLinkedTokenSource(ct, lease.LeaseLost);
        WorkRecord record;
        try
        {
            record = await AdoptPartAsync(item, work.Token).ConfigureAwait(false) ?? await IngestAsync(item, framesDone, work.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (lease.IsLost && !ct.IsCancellationRequested)
        {
            run.Log.LogWarning("lost the lease on {Video}; another worker takes it over", item.Video.Path);
            return false;
        }
        if (lease.IsLost) return false;
        await _records.WriteAsync(item.Key, record, ct).ConfigureAwait(false);
        return true;
    }

    /// <summary>A part uploaded by a run killed before it wrote the record: complete parts are kept, not redone.</summary>
    async Task<WorkRecord?> AdoptPartAsync(VideoItem item, CancellationToken ct)
    {
        var path = run.Writer.Prefix + item.PartName;
        if (await run.Store.GetPropertiesAsync(path, ct).ConfigureAwait(false) is not { } props) return null;
        if (await CheckPartAsync(item, props.Length, ct).ConfigureAwait(false) is not { } check)
        {
            run.Log.LogWarning("{Part} is not a complete part of {Video}: redoing it", path, item.Video.Path);
            return null;
        }
        var sha = await StoreFiles.HashAsync(run.Store, path, ct).ConfigureAwait(false);
        run.Log.LogInformation("kept {Part} ({Rows} frames) from an earlier run", path, check.Rows);
        return new WorkRecord(item.Video.Path, new ManifestOutput(item.PartName, props.Length, sha, check.Rows), check.Labeled,
            FramesTable.SplitOf(item.EpisodeId, run.Settings.ValidationFraction), null, run.RunId);
    }

    async Task<WorkRecord> IngestAsync(VideoItem item, Action<int> framesDone, CancellationToken ct)
    {
        try
        {
            var result = await _ingestor.RunAsync(item, framesDone, ct).ConfigureAwait(false);
            return new WorkRecord(item.Video.Path, result.Part, result.LabeledFrames, result.Split, null, run.RunId);
        }
        catch (VideoRejectedException e)
        {
            if (run.Settings.Strict) throw new StageInputException($"{item.Video.Path}: {e.Message} (Ingest:Strict)");
            run.Log.LogWarning("rejected {Video}: {Reason}", item.Video.Path, e.Message);
            return new WorkRecord(item.Video.Path, null, 0, null, e.Message, run.RunId);
        }
    }

    /// <summary>Writes the manifest from every record; when another worker committed first, returns theirs.</summary>
    public async Task<CommittedArtifact> CommitAsync(JsonObject config, ManifestCode code, CancellationToken ct)
    {
        var store = run.Store;
        var records = new WorkRecord[run.Plan.Videos.Count];
        await Parallel.ForEachAsync(run.Plan.Videos, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct }, async (item, token) =>
        {
            records[item.Index] = await ReadRecordAsync(item, token).ConfigureAwait(false)
                                  ?? throw new IOException($"the work record of {item.Video.Path} disappeared before the commit");
        }).ConfigureAwait(false);

        var accepted = records.Where(r => r.Part != null).ToList();
        var rejected = run.Plan.Rejected.Select(r => new ManifestRejected(r.Path, r.Reason))
            .Concat(records.Where(r => r.Rejected != null).Select(r => new ManifestRejected(r.Video, r.Rejected!)))
            .OrderBy(r => r.Uri, StringComparer.Ordinal)
            .ToList();
        long FramesIn(string split) => accepted.Where(r => r.Split == split).Sum(r => r.Part!.Rows ?? 0);
        var metrics = new Dictionary<string, double>
        {
            ["sources"] = run.Plan.Sources.Count,
            ["videos"] = run.Plan.Videos.Count,
            ["episodes"] = accepted.Count,
            ["rejected"] = rejected.Count,
            ["frames"] = accepted.Sum(r => r.Part!.Rows ?? 0),
            ["labeled_frames"] = accepted.Sum(r => (double)r.LabeledFrames),
            ["train_frames"] = FramesIn(FramesTable.TrainSplit),
            ["validation_frames"] = FramesIn(FramesTable.ValidationSplit),
            ["train_episodes"] = accepted.Count(r => r.Split == FramesTable.TrainSplit),
            ["validation_episodes"] = accepted.Count(r => r.Split == FramesTable.ValidationSplit),
        };
        // ArtifactWriter.CommitAsync lists only the parts its own instance wrote and has no rejected list;
        // ingest commits parts from several workers and runs, so it builds the manifest from the records.
        var manifest = new ArtifactManifest
        {
            ArtifactId = run.ArtifactId,
            Stage = IngestStage.StageName,
            RunId = run.RunId,
            Sources = run.Plan.ManifestSources,
            Rejected = rejected,
            Config = config,
            Code = code,
            Environment = CodeVersion.Environment(null, run.Settings.EffectiveDecoders(), null),
            Outputs = accepted.Select(r => r.Part!).OrderBy(o => o.Path, StringComparer.Ordinal).ToList(),
            Metrics = metrics,
            StartedAt = run.Writer.StartedAt,
            CommittedAt = DateTimeOffset.UtcNow,
        };
        var (committed, ours) = await ManifestCommit.CommitOrReadExistingAsync(store, manifest, run.Log, ct).ConfigureAwait(false);
        if (ours)
            run.Log.LogInformation("committed {ArtifactId}: {Frames} frames from {Episodes} videos, {Rejected} rejected",
                run.ArtifactId, metrics["frames"], metrics["episodes"], metrics["rejected"]);
        return committed;
    }
}
