using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Dreamer.Hosting;
using Dreamer.Schemas;

namespace Dreamer.Stages.Ingest;

/// <summary>Reusable frame batches, so decoding does not allocate a large image array per batch.</summary>
internal sealed class BatchPool(FramesLayout layout, int capacity)
{
    readonly ConcurrentBag<FramesBatch> _free = [];

    public FramesBatch Rent()
    {
        if (!_free.TryTake(out var batch)) batch = new FramesBatch(layout, capacity);
        batch.Count = 0;
        return batch;
    }

    public void Return(FramesBatch batch) => _free.Add(batch);
}

/// <summary>How a decoder run ended: frames delivered, and ffmpeg's complaint when it had one.</summary>
internal sealed record DecodeResult(int Frames, int ExitCode, string Errors)
{
    public bool Failed => ExitCode != 0 || Errors.Length > 0;
}

/// <summary>
/// ffmpeg as a child process streaming raw RGB frames of the output size on its stdout; frames are read
/// straight into pooled batches. Any error-level message means the file is damaged, even when ffmpeg
/// exits 0 (a truncated .mp4 decodes up to the cut and only complains).
/// </summary>
internal sealed partial class VideoDecoder(string ffmpeg, FramesLayout layout, string resize, int threads)
{
    /// <summary>The ffmpeg command line for a file: also what the benchmark's plain-ffmpeg peer runs.</summary>
    public IReadOnlyList<string> Arguments(string input, string output) =>
    [
        "-hide_banner", "-nostdin", "-loglevel", "error", "-filter_threads", "1",
        "-threads", threads.ToString(CultureInfo.InvariantCulture), "-i", input,
        "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", Filter(layout.Width, layout.Height, resize),
        // Every decoded frame, once: no frame-rate conversion (the default would duplicate or drop frames).
        "-fps_mode", "passthrough",
        "-f", "rawvideo", "-pix_fmt", "rgb24", output,
    ];

    public static string Filter(int w, int h, string resize) => resize switch
    {
        "stretch" => $"scale={w}:{h}:flags=area",
        "pad" => $"scale={w}:{h}:force_original_aspect_ratio=decrease:flags=area,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black",
        _ => $"scale={w}:{h}:force_original_aspect_ratio=increase:flags=area,crop={w}:{h}",
    };

    public async Task<DecodeResult> RunAsync(string input, string displayName, BatchPool pool, ChannelWriter<FramesBatch> output, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(ffmpeg)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in Arguments(input, "pipe:1")) psi.ArgumentList.Add(arg);
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new StageInputException($"Ingest:Ffmpeg = '{ffmpeg}': could not start it");
        }
        catch (Win32Exception e)
        {
            throw new StageInputException($"Ingest:Ffmpeg = '{ffmpeg}': cannot run it ({e.Message}); install ffmpeg or set the path", e);
        }
        using var _ = process;
        await using var kill = ct.Register(() =>
        {
            try { process.Kill(); }
            catch (InvalidOperationException) { } // already gone
        });
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        var stdout = process.StandardOutput.BaseStream;
        EnlargePipe(stdout);
        int frameBytes = layout.FrameBytes;
        int frames = 0;
        bool partial = false;
        while (true)
        {
            var batch = pool.Rent();
            int read = await stdout.ReadAtLeastAsync(batch.Images, batch.Images.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
            batch.Count = read / frameBytes;
            partial = read % frameBytes != 0;
            frames += batch.Count;
            if (batch.Count > 0) await output.WriteAsync(batch, ct).ConfigureAwait(false);
            else pool.Return(batch);
            if (read < batch.Images.Length) break;
        }
        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        var errors = Clean(await stderr.ConfigureAwait(false), input, displayName);
        if (partial && errors.Length == 0) errors = "the decoder's output ended inside a frame";
        return new DecodeResult(frames, process.ExitCode, errors);
    }

    const int PipeBytes = 1 << 20;
    const int SetPipeSize = 1031; // F_SETPIPE_SZ

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(nint fd, int command, int argument);

    /// <summary>
    /// A 1 MB pipe instead of 64 KB: ffmpeg writes ~85 small frames before it has to wait for us, rather
    /// than blocking (and switching contexts) every 5. Best effort: Linux only, within the user's pipe quota.
    /// </summary>
    static void EnlargePipe(Stream stdout)
    {
        if (OperatingSystem.IsLinux() && stdout is System.IO.Pipes.PipeStream pipe)
            _ = Fcntl(pipe.SafePipeHandle.DangerousGetHandle(), SetPipeSize, PipeBytes);
    }

    [GeneratedRegex(@"^\[[^\]]* @ 0x[0-9a-f]+\]\s*")]
    private static partial Regex ComponentPrefix();

    /// <summary>ffmpeg's messages without component addresses and with the store path for the local one; the first few distinct lines.</summary>
    static string Clean(string stderr, string localPath, string displayName)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => ComponentPrefix().Replace(l, "").Replace(localPath, displayName, StringComparison.Ordinal))
            .Where(l => l.Length > 0)
            .Distinct()
            .Take(3)
            .ToList();
        var text = new StringBuilder(string.Join("; ", lines));
        if (text.Length > 400) text.Length = 400;
        return text.ToString();
    }
}
