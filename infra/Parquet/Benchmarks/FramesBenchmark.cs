using System.Diagnostics;
using System.Text;

namespace Dreamer.Parquet.Benchmarks;

/// <summary>Throughput of one benchmark run; MB/s are over the table's raw (uncompressed, unencoded) bytes.</summary>
public sealed record FramesBenchmarkResult(
    long Rows, long RawBytes, long FileBytes, double WriteSeconds, double ReadSeconds,
    long PeakWorkingSetBytes, double? PeerReadSeconds)
{
    public double WriteMBps => RawBytes / 1e6 / WriteSeconds;
    public double ReadMBps => RawBytes / 1e6 / ReadSeconds;
    public double? PeerReadMBps => PeerReadSeconds is { } s ? RawBytes / 1e6 / s : null;
    /// <summary>Our read throughput over the peer's (>= 1 means we are at least as fast).</summary>
    public double? ReadRatio => PeerReadSeconds is { } s ? s / ReadSeconds : null;
}

/// <summary>One timed write: CpuSeconds is the process's CPU time (all threads) over the same span as Seconds.</summary>
public sealed record FramesWriteResult(long Rows, long RawBytes, long FileBytes, double Seconds, double CpuSeconds,
    long PeakWorkingSetBytes, bool PeakIsWriteOnly);

public sealed record FramesReadResult(long Rows, double Seconds, double CpuSeconds);

/// <summary>
/// Writes and reads a frames-like table (episode_id string, frame_index int32, 12,288-byte image,
/// action int32, reward float) to measure throughput. A peer reader (e.g. DuckDB) can be timed on
/// the same file through <c>peerRead</c>, which returns the seconds it took.
/// </summary>
public static class FramesBenchmark
{
    public const int ImageBytes = 12_288;
    private const int BatchRows = 1024;

    public static ParquetSchema Schema { get; } = new(
        ParquetField.String("episode_id"),
        ParquetField.Int32("frame_index"),
        ParquetField.FixedBinary("image", ImageBytes),
        ParquetField.Int32("action"),
        ParquetField.Float("reward"));

    public static async Task<FramesBenchmarkResult> RunAsync(string path, long targetRawBytes,
        ParquetWriterOptions? options = null, Func<string, double>? peerRead = null, CancellationToken ct = default)
    {
        var write = Write(path, targetRawBytes, options, ct);
        var read = await ReadAsync(path, null, ct).ConfigureAwait(false);
        if (read.Rows != write.Rows) throw new InvalidOperationException($"read {read.Rows} rows, wrote {write.Rows}");
        double? peer = peerRead?.Invoke(path);
        return new FramesBenchmarkResult(read.Rows, write.RawBytes, write.FileBytes, write.Seconds, read.Seconds, write.PeakWorkingSetBytes, peer);
    }

    /// <summary>The writer options the benchmark uses unless told otherwise: ZSTD level 1.</summary>
    public static ParquetWriterOptions DefaultOptions => new() { Compression = CompressionCodec.Zstd, ZstdLevel = 1 };

    /// <summary>
    /// Writes about targetRawBytes of frames (whole episodes of 1024 rows) and times it. The peak working set is
    /// measured over the write alone where the OS allows resetting it (Linux), else over the process so far.
    /// </summary>
    public static FramesWriteResult Write(string path, long targetRawBytes, ParquetWriterOptions? options = null, CancellationToken ct = default)
    {
        options ??= DefaultOptions;
        long rowBytes = ImageBytes + 4 + 4 + 4 + 16;
        long batches = Math.Max(1, targetRawBytes / (rowBytes * BatchRows));
        var images = Images(BatchRows, seed: 7);
        var rnd = new Random(11);
        var actions = new int[BatchRows];
        var rewards = new float[BatchRows];
        var frames = new int[BatchRows];
        for (int i = 0; i < BatchRows; i++) { actions[i] = rnd.Next(18); rewards[i] = (float)(rnd.NextDouble() * 2 - 1); }
        for (int i = 0; i < BatchRows; i++) frames[i] = i;

        GC.Collect();
        bool peakReset = ResetPeakWorkingSet();
        long rawBytes = 0;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        using (var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        using (var writer = new ParquetWriter(fs, Schema, options))
        {
            writer.Metadata["dreamer.benchmark"] = "frames";
            for (long b = 0; b < batches; b++)
            {
                ct.ThrowIfCancellationRequested();
                // Episodes of 1024 frames: one episode id per batch, so the string column is dictionary-friendly.
                var episode = "episode-" + b.ToString("D6", System.Globalization.CultureInfo.InvariantCulture);
                var ids = ColumnData.Strings(Enumerable.Repeat(episode, BatchRows).ToArray());
                // Every frame differs from every other (its row number in its first bytes), so no writer can
                // dictionary-encode the images: real frames never repeat.
                for (int i = 0; i < BatchRows; i++)
                    System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(images.AsSpan(i * ImageBytes), b * BatchRows + i);
                writer.Write(ids, ColumnData.Primitive(frames), ColumnData.Fixed(images, ImageBytes),
                    ColumnData.Primitive(actions), ColumnData.Primitive(rewards));
                rawBytes += BatchRows * (ImageBytes + 12L) + ids.Offsets![^1];
            }
        }
        double seconds = sw.Elapsed.TotalSeconds;
        using var process = Process.GetCurrentProcess();
        double cpuSeconds = (process.TotalProcessorTime - cpu).TotalSeconds;
        long peak = process.PeakWorkingSet64;
        return new FramesWriteResult(batches * BatchRows, rawBytes, new FileInfo(path).Length, seconds, cpuSeconds, peak, peakReset);
    }

    /// <summary>Reads every column of every row group (decoded into column batches, then dropped) and times it.</summary>
    public static async Task<FramesReadResult> ReadAsync(string path, ParquetReaderOptions? options = null, CancellationToken ct = default)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        long rowsRead = 0;
        using (var reader = await ParquetReader.OpenFileAsync(path, options, ct).ConfigureAwait(false))
        {
            await foreach (var cols in reader.ReadRowGroupsAsync(null, null, ct).ConfigureAwait(false))
                rowsRead += cols[0].RowCount;
        }
        double seconds = sw.Elapsed.TotalSeconds;
        return new FramesReadResult(rowsRead, seconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds);
    }

    // Linux: writing 5 to clear_refs resets the peak resident set size (VmHWM) that PeakWorkingSet64 reports.
    private static bool ResetPeakWorkingSet()
    {
        try
        {
            if (!OperatingSystem.IsLinux()) return false;
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    // Blocky frames (flat regions, as in rendered games) with sparse noise: compressible, never repeated within a page.
    private static byte[] Images(int count, int seed)
    {
        var data = new byte[count * ImageBytes];
        uint x = (uint)seed * 2654435761u + 1;
        for (int i = 0; i < count; i++)
        {
            var img = data.AsSpan(i * ImageBytes, ImageBytes);
            for (int p = 0; p < ImageBytes; p++)
            {
                x ^= x << 13; x ^= x >> 17; x ^= x << 5;
                int block = (p % 192) / 24 + (p / 1536) * 8;
                img[p] = (byte)(block * 29 + i * 7 + ((x & 15) == 0 ? x >> 24 : 0));
            }
        }
        return data;
    }

    public static string Describe(FramesBenchmarkResult r)
    {
        var sb = new StringBuilder();
        sb.Append($"rows {r.Rows:N0}, raw {r.RawBytes / 1e6:F0} MB, file {r.FileBytes / 1e6:F0} MB; ");
        sb.Append($"write {r.WriteMBps:F0} MB/s, read {r.ReadMBps:F0} MB/s, peak working set {r.PeakWorkingSetBytes / 1e6:F0} MB");
        if (r.PeerReadMBps is { } p) sb.Append($"; peer read {p:F0} MB/s, read ratio {r.ReadRatio:F2}");
        return sb.ToString();
    }
}
