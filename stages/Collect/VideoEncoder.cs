using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using Dreamer.Hosting;

namespace Dreamer.Stages.Collect;

/// <summary>
/// An ffmpeg child process that encodes raw RGB frames from its stdin into an H.264 .mp4 file, as a
/// screen recorder would: ingest then reads real video, never a shortcut.
/// </summary>
internal sealed class VideoEncoder : IAsyncDisposable
{
    readonly Process _process;
    readonly Stream _stdin;
    readonly Task<string> _stderr;
    readonly string _output;

    VideoEncoder(Process process, string output)
    {
        _process = process;
        _output = output;
        _stdin = process.StandardInput.BaseStream;
        _stderr = process.StandardError.ReadToEndAsync();
    }

    public static VideoEncoder Start(CollectSettings s, string outputPath)
    {
        var inv = CultureInfo.InvariantCulture;
        var psi = new ProcessStartInfo(s.Ffmpeg)
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
            RedirectStandardOutput = false,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])
        [
            "-hide_banner", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", $"{s.Width}x{s.Height}",
            "-framerate", s.Fps.ToString("R", inv), "-i", "pipe:0",
            "-c:v", "libx264", "-preset", s.EncoderPreset, "-crf", s.Crf.ToString(inv), "-pix_fmt", s.PixelFormat,
            // One encoder thread per episode: frames are tiny, episodes run in parallel, and the output stays bit-exact.
            "-threads", "1",
            // Tag the BT.601 limited-range conversion swscale applies, so every player decodes the same colours.
            "-colorspace", "smpte170m", "-color_primaries", "smpte170m", "-color_trc", "smpte170m", "-color_range", "tv",
            // No version strings or times in the file: the same seed gives the same bytes.
            "-fflags", "+bitexact", "-map_metadata", "-1",
            "-movflags", "+faststart", "-y", outputPath,
        ]) psi.ArgumentList.Add(arg);
        try
        {
            return new VideoEncoder(Process.Start(psi) ?? throw new StageInputException($"Collect:Ffmpeg = '{s.Ffmpeg}': could not start it"), outputPath);
        }
        catch (Win32Exception e)
        {
            throw new StageInputException($"Collect:Ffmpeg = '{s.Ffmpeg}': cannot run it ({e.Message}); install ffmpeg or set the path", e);
        }
    }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> frames, CancellationToken ct)
    {
        try
        {
            await _stdin.WriteAsync(frames, ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            // A broken pipe means ffmpeg quit: its own message says why.
            await _process.WaitForExitAsync(ct).ConfigureAwait(false);
            throw new IOException($"ffmpeg stopped while encoding {_output}: {Describe(await _stderr.ConfigureAwait(false))}", e);
        }
    }

    /// <summary>Closes the input and waits until the file is complete.</summary>
    public async Task FinishAsync(CancellationToken ct)
    {
        await _stdin.FlushAsync(ct).ConfigureAwait(false);
        _stdin.Close();
        await _process.WaitForExitAsync(ct).ConfigureAwait(false);
        var stderr = await _stderr.ConfigureAwait(false);
        if (_process.ExitCode != 0 || stderr.Trim().Length > 0)
            throw new IOException($"ffmpeg failed to encode {_output} (exit code {_process.ExitCode}): {Describe(stderr)}");
    }

    static string Describe(string stderr) => stderr.Trim().Length == 0 ? "no message" : stderr.Trim().ReplaceLineEndings(" | ");

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try { _process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { } // exited meanwhile
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
        _process.Dispose();
    }
}
