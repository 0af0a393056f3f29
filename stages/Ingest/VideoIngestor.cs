using System.Globalization;
using System.Threading.Channels;
using Dreamer.Artifacts;
using Dreamer.Parquet;
using Dreamer.Schemas;
using Dreamer.Storage;

namespace Dreamer.Stages.Ingest;

/// <summary>A video that cannot be ingested; the reason goes into the manifest's "rejected" list.</summary>
internal sealed class VideoRejectedException(string reason) : Exception(reason);

/// <summary>What the per-video pipeline produced: a part, with the counts the manifest's metrics sum up.</summary>
internal sealed record IngestedPart(ManifestOutput Part, int LabeledFrames, string Split);

/// <summary>
/// Ingests one video into one Parquet part: decode (ffmpeg into pooled batches) → transform (join the
/// log by step, ids, split, done) → write (Parquet, ZSTD, row groups of RowGroupFrames) as three tasks
/// joined by bounded channels, so decoding, joining and compressing overlap and memory stays a few
/// batches per video. The part is written to a local temp file and uploaded only once the whole video
/// decoded cleanly and its log fits; a rejected video leaves nothing in the store.
/// </summary>
internal sealed class VideoIngestor(IngestRun run)
{
    const int ChannelBatches = 2;

    public async Task<IngestedPart> RunAsync(VideoItem item, Action<int> framesDone, CancellationToken ct)
    {
        var log = await ReadLogAsync(item, ct).ConfigureAwait(false);
        await using var local = await LocalVideo.OpenAsync(run.Store, item.Video, run.TempDirectory, ct).ConfigureAwait(false);
        var partFile = Path.Combine(run.TempDirectory, item.PartName);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var decoded = Channel.CreateBounded<FramesBatch>(new BoundedChannelOptions(ChannelBatches) { SingleReader = true, SingleWriter = true });
        var ready = Channel.CreateBounded<FramesBatch>(new BoundedChannelOptions(ChannelBatches) { SingleReader = true, SingleWriter = true });
        var split = FramesTable.SplitOf(item.EpisodeId, run.Settings.ValidationFraction);
        try
        {
            // Only decoding holds a slot: reading the log, uploading the part and the store's bookkeeping
            // of one video overlap with the decoding of the next.
            await run.DecodeSlots.WaitAsync(ct).ConfigureAwait(false);
            Task<DecodeResult> decode;
            Task<int> transform;
            Task<(long Rows, int Labeled)> write;
            try
            {
                decode = Stage(decoded.Writer, stop, () => run.Decoder.RunAsync(local.Path, item.Video.Path, run.Pool, decoded.Writer, stop.Token));
                transform = Stage(ready.Writer, stop, () => TransformAsync(item, log, split, decoded.Reader, ready.Writer, framesDone, stop.Token));
                write = Stage<(long Rows, int Labeled)>(null, stop, () => WriteAsync(item, partFile, ready.Reader, stop.Token));
                await TaskErrors.FirstCauseAsync(Task.WhenAll(decode, transform, write)).ConfigureAwait(false);
            }
            finally
            {
                run.DecodeSlots.Release();
            }

            var result = decode.Result;
            int frames = transform.Result;
            if (result.Failed)
                throw new VideoRejectedException(result.Frames == 0
                    ? $"not a decodable video: {Or(result.Errors, $"ffmpeg exited with code {result.ExitCode}")}"
                    : $"decoding failed after {result.Frames} frames (truncated or corrupt): {Or(result.Errors, $"ffmpeg exited with code {result.ExitCode}")}");
            if (frames == 0) throw new VideoRejectedException("no video frames");
            if (log != null && log.CheckFits(frames, item.Log!.Path) is { } misfit) throw new VideoRejectedException(misfit);

            var (rows, labeled) = write.Result;
            var part = await run.Writer.WritePartFromFileAsync(item.PartName, partFile, rows, ct).ConfigureAwait(false);
            return new IngestedPart(part, labeled, split);
        }
        finally
        {
            // Drain whatever is still queued back to the pool before the channels go.
            while (decoded.Reader.TryRead(out var b)) run.Pool.Return(b);
            while (ready.Reader.TryRead(out var b)) run.Pool.Return(b);
            File.Delete(partFile);
        }
    }

    static string Or(string text, string fallback) => text.Length > 0 ? text : fallback;

    async Task<RawLog?> ReadLogAsync(VideoItem item, CancellationToken ct)
    {
        if (item.Log == null) return null;
        var bytes = await run.Store.ReadAllBytesAsync(item.Log.Path, ct).ConfigureAwait(false);
        if (Hashing.Sha256Hex(bytes) != item.Log.Sha256)
            throw new IOException($"{item.Log.Path} changed while ingesting; raw data must not change under a run");
        try
        {
            return RawLog.Parse(bytes, run.Plan.Dataset.ActionSpace, item.Log.Path);
        }
        catch (RawFormatException e)
        {
            throw new VideoRejectedException("log " + e.Message);
        }
    }

    /// <summary>
    /// Runs one pipeline step; when it fails, the others are stopped (a dead writer must not leave the
    /// decoder blocked on a full channel), and its output channel is completed either way.
    /// </summary>
    static async Task<T> Stage<T>(ChannelWriter<FramesBatch>? output, CancellationTokenSource stop, Func<Task<T>> body)
    {
        try
        {
            var result = await Task.Run(body).ConfigureAwait(false);
            output?.TryComplete();
            return result;
        }
        catch (Exception e)
        {
            output?.TryComplete(e);
            await stop.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Fills everything but the image. Holds one batch back: only when the decoder is done is it known
    /// which row is the last frame (done) and whether the log fits.
    /// </summary>
    async Task<int> TransformAsync(VideoItem item, RawLog? log, string split, ChannelReader<FramesBatch> input,
        ChannelWriter<FramesBatch> output, Action<int> framesDone, CancellationToken ct)
    {
        FramesBatch? pending = null;
        int start = 0;
        await foreach (var batch in input.ReadAllAsync(ct).ConfigureAwait(false))
        {
            Fill(batch, item, log, split, start);
            start += batch.Count;
            if (pending != null)
            {
                await output.WriteAsync(pending, ct).ConfigureAwait(false);
                framesDone(pending.Count);
            }
            pending = batch;
        }
        if (pending != null)
        {
            // The last frame ends the episode, unless the log's last line says the recording stopped before the end.
            pending.Done[pending.Count - 1] = log == null || log.Count == 0 || log.Done[log.Count - 1];
            await output.WriteAsync(pending, ct).ConfigureAwait(false);
            framesDone(pending.Count);
        }
        return start;
    }

    static void Fill(FramesBatch batch, VideoItem item, RawLog? log, string split, int start)
    {
        int n = batch.Count;
        for (int i = 0; i < n; i++)
        {
            batch.FrameIndex[i] = start + i;
            batch.SourceOffset[i] = start + i;
        }
        batch.EpisodeId.AsSpan(0, n).Fill(item.EpisodeId);
        batch.SourceFile.AsSpan(0, n).Fill(item.Video.Path);
        batch.Split.AsSpan(0, n).Fill(split);
        batch.Done.AsSpan(0, n).Clear();
        batch.SetLabels(0, log, start, n);
    }

    async Task<(long Rows, int Labeled)> WriteAsync(VideoItem item, string partFile, ChannelReader<FramesBatch> input, CancellationToken ct)
    {
        var settings = run.Settings;
        var options = new ParquetWriterOptions
        {
            Compression = CompressionCodec.Zstd,
            ZstdLevel = settings.ZstdLevel,
            // Row groups are cut by frame count below, not by the writer's byte target.
            RowGroupTargetBytes = long.MaxValue / 4,
            // Frames almost never repeat, so a dictionary over the image column costs a hash of every
            // frame for nothing; the repeated strings (episode, source, split) cost nothing under ZSTD either way.
            EnableDictionary = false,
        };
        await using var file = new FileStream(partFile, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        using var writer = new ParquetWriter(file, run.Layout.Schema, options, leaveOpen: true);
        foreach (var (key, value) in run.Layout.Metadata(run.ArtifactId)) writer.Metadata[key] = value;
        writer.Metadata[FramesTable.Keys.Source] = item.Video.Path;
        writer.Metadata[FramesTable.Keys.SourceSha256] = item.Video.Sha256;
        writer.Metadata[FramesTable.Keys.Episode] = item.EpisodeId;
        long inGroup = 0;
        int labeled = 0;
        await foreach (var batch in input.ReadAllAsync(ct).ConfigureAwait(false))
        {
            for (int i = 0; i < batch.Count; i++) if (batch.HasAction[i]) labeled++;
            writer.Write(batch.ToColumns());
            inGroup += batch.Count;
            run.Pool.Return(batch);
            if (inGroup >= settings.RowGroupFrames)
            {
                writer.FlushRowGroup();
                inGroup = 0;
            }
        }
        writer.Metadata[FramesTable.Keys.LabeledFrames] = labeled.ToString(CultureInfo.InvariantCulture);
        writer.Finish();
        return (writer.RowCount, labeled);
    }
}
