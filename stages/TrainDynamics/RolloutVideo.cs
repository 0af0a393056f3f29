using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using Dreamer.Hosting;

namespace Dreamer.Stages.TrainDynamics;

/// <summary>
/// Encodes the evaluation rollout (RGB24 frames, ground truth | imagined) into an H.264 .mp4 with an ffmpeg
/// child process fed raw frames on stdin: yuv444p at CRF 12 keeps the small frames' colours, and frames
/// smaller than <see cref="UpscaleBelow"/> pixels high are upscaled 4x (nearest neighbour) so players show them.
/// </summary>
internal static class RolloutVideo
{
    public const int UpscaleBelow = 256;

    /// <summary>Fails early (exit 2) when ffmpeg cannot run or lacks libx264, before hours of training.</summary>
    public static async Task CheckAsync(string ffmpeg, CancellationToken ct)
    {
        using (var process = Start(ffmpeg, ["-hide_banner", "-loglevel", "error", "-h", "encoder=libx264"], feedStdin: false))
        {
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var stderr = process.StandardError.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
            var text = await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false);
            if (!text.Contains("Encoder libx264", StringComparison.Ordinal))
                throw new StageInputException($"TrainDynamics:Ffmpeg = '{ffmpeg}': this ffmpeg has no libx264 encoder for rollout.mp4 ({Describe(text)})");
        }
    }

    /// <summary>Writes the frames (each width x height x 3 bytes) to <paramref name="outputPath"/>.</summary>
    public static async Task EncodeAsync(string ffmpeg, IReadOnlyList<byte[]> frames, int width, int height, double fps, string outputPath,
        CancellationToken ct)
    {
        if (frames.Count == 0) throw new ArgumentException("no frames to encode");
        var frameBytes = checked(width * height * 3);
        if (frames.Any(f => f.Length != frameBytes))
            throw new ArgumentException($"every frame must hold {width}x{height} RGB24 ({frameBytes} bytes)");
        var inv = CultureInfo.InvariantCulture;
        var args = new List<string>
        {
            "-hide_banner", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", $"{width}x{height}", "-framerate", fps.ToString("R", inv), "-i", "pipe:0",
        };
        if (height < UpscaleBelow) args.AddRange(["-vf", "scale=iw*4:ih*4:flags=neighbor"]);
        args.AddRange(
        [
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "12", "-pix_fmt", "yuv444p",
            // One thread and no version strings or times in the file: the same frames give the same bytes.
            "-threads", "1", "-fflags", "+bitexact", "-map_metadata", "-1",
            // Tag the BT.601 limited-range conversion swscale applies, so every player decodes the same colours.
            "-colorspace", "smpte170m", "-color_primaries", "smpte170m", "-color_trc", "smpte170m", "-color_range", "tv",
            "-movflags", "+faststart", "-y", outputPath,
        ]);
        using (var process = Start(ffmpeg, args, feedStdin: true))
        {
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            try
            {
                var stdin = process.StandardInput.BaseStream;
                try
                {
                    foreach (var frame in frames) await stdin.WriteAsync(frame, ct).ConfigureAwait(false);
                    await stdin.FlushAsync(ct).ConfigureAwait(false);
                }
                catch (IOException e)
                {
                    // A broken pipe means ffmpeg quit: its own message says why.
                    await process.WaitForExitAsync(ct).ConfigureAwait(false);
                    throw new IOException($"ffmpeg stopped while encoding {outputPath}: {Describe(await stderr.ConfigureAwait(false))}", e);
                }
                stdin.Close();
                await process.WaitForExitAsync(ct).ConfigureAwait(false);
                var message = await stderr.ConfigureAwait(false);
                if (process.ExitCode != 0 || message.Trim().Length > 0)
                    throw new IOException($"ffmpeg failed to encode {outputPath} (exit code {process.ExitCode}): {Describe(message)}");
            }
            finally
            {
                if (!process.HasExited)
                {
                    try { process.Kill(entireProcessTree: true); }
                    catch (InvalidOperationException) { } // exited meanwhile
                    await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>Starts ffmpeg with stderr and either stdin (frames to encode) or stdout redirected; one that cannot run is bad configuration.</summary>
    private static Process Start(string ffmpeg, IEnumerable<string> args, bool feedStdin)
    {
        var psi = new ProcessStartInfo(ffmpeg)
        {
            RedirectStandardInput = feedStdin,
            RedirectStandardOutput = !feedStdin,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) psi.ArgumentList.Add(arg);
        try
        {
            return Process.Start(psi) ?? throw new StageInputException($"TrainDynamics:Ffmpeg = '{ffmpeg}': could not start it");
        }
        catch (Win32Exception e)
        {
            throw new StageInputException($"TrainDynamics:Ffmpeg = '{ffmpeg}': cannot run it ({e.Message}); install ffmpeg (infra/setup.sh) or set the path", e);
        }
    }

    private static string Describe(string text) => text.Trim().Length == 0 ? "no message" : text.Trim().ReplaceLineEndings(" | ");
}
