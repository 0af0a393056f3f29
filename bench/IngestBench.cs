using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Dreamer.Game;
using Dreamer.Hosting;
using Dreamer.Schemas;
using Dreamer.Stages.Collect;
using Dreamer.Stages.Ingest;
using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console;

namespace Dreamer.Bench;

/// <summary>
/// `./dreamer bench ingest`:
/// <list type="bullet">
/// <item>ingest frames/s against plain ffmpeg running the ingest decoder's exact command line (same
/// filter, same threads, same number of files at once) with its raw frames going to /dev/null, on the
/// same videos in the same run: the ratio is our overhead over the decoder (piping, log join, Parquet
/// with ZSTD, hashing every source, leases, the commit); CPU time per frame beside it (our process, and
/// the decoder inside ingest vs the plain one), which does not depend on what else the machine runs;</item>
/// <item>game steps/s with 64x64 rendering on one thread (random actions, resets included), over the
/// thread's CPU time so the rate does not depend on what else the machine runs; wall-clock beside it.</item>
/// </list>
/// Options: --episodes N (default 24), --steps N (episode cap, default 1000), --decoders N (default one
/// per core), --repeat N (best of, default 3), --quick (8 episodes of 300 steps, best of 2).
/// </summary>
public static partial class IngestBench
{
    sealed record Settings(int Episodes, int Steps, int Decoders, int Repeat);

    public static async Task<int> RunAsync(string[] args)
    {
        Settings settings;
        try { settings = Parse(args); }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"bench ingest: {e.Message}");
            Console.Error.WriteLine("usage: ./dreamer bench ingest [--episodes N] [--steps N] [--decoders N] [--repeat N] [--quick]");
            return 2;
        }

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        var work = Directory.CreateTempSubdirectory("dreamer-ingest-bench-").FullName;
        try
        {
            var report = new BenchReport(FormattableString.Invariant(
                $"ingest: {settings.Episodes} episodes (cap {settings.Steps} steps), {settings.Decoders} decoders x 1 thread, best of {settings.Repeat}"));
            report.Columns("measure", "ours", "peer", "ours/peer", "notes");

            Log("game throughput on one thread...");
            var (cpuRate, wallRate) = GameStepsPerSecond(TimeSpan.FromSeconds(3));
            report.Row("game steps/s, 64x64 rendering, 1 thread", $"{cpuRate:N0}", "", "",
                FormattableString.Invariant($"per thread CPU second; {wallRate:N0}/s wall-clock on this machine"));

            Log($"collecting {settings.Episodes} episodes...");
            var dataset = "bench";
            var collect = await CollectStage.RunAsync(Context(CollectStage.StageName,
            [
                "--store", work, "--seed", "1", "--set", "Collect:Preset=demo", "--set", $"Collect:Dataset={dataset}",
                "--set", $"Collect:Episodes={settings.Episodes}", "--set", $"Collect:MaxSteps={settings.Steps}",
            ], cancel.Token));
            var videos = Directory.GetFiles(Path.Combine(work, "raw", dataset), "*.mp4").Order(StringComparer.Ordinal).ToList();
            var info = RawDatasetInfo.Parse(File.ReadAllBytes(Path.Combine(work, "raw", dataset, RawDatasetInfo.FileName)), "dataset.json");
            long frames = (long)collect.Metrics!["frames"];
            long videoBytes = videos.Sum(v => new FileInfo(v).Length);
            Log($"{frames:N0} frames in {videos.Count} videos ({videoBytes / 1e6:F1} MB)");

            var decoder = new VideoDecoder("ffmpeg", new FramesLayout(info.Width, info.Height, info.Fps, info.ActionSpace), "crop", threads: 1);
            double bestOurs = double.MaxValue, bestPeer = double.MaxValue, oursCpu = double.MaxValue, peerCpu = double.MaxValue, selfCpu = 0;
            long oursFrames = 0;
            // Warm-up (untimed): JIT of the stage, the page cache for the videos, ffmpeg's libraries.
            await IngestOnceAsync(work, dataset, settings, "warm-up", cancel.Token);
            await FfmpegOnceAsync(decoder, videos[..Math.Min(2, videos.Count)], settings.Decoders, cancel.Token);
            for (int r = 0; r < settings.Repeat; r++)
            {
                Log($"round {r + 1}/{settings.Repeat}: ingest...");
                var (cpu, self) = (CpuSeconds(), CpuSeconds(children: false));
                var (seconds, ingested) = await IngestOnceAsync(work, dataset, settings, $"round-{r}", cancel.Token);
                var (usedCpu, usedSelf) = (CpuSeconds() - cpu, CpuSeconds(children: false) - self);
                if (usedCpu < oursCpu) (oursCpu, selfCpu) = (usedCpu, usedSelf);
                bestOurs = Math.Min(bestOurs, seconds);
                oursFrames = ingested;
                Log($"round {r + 1}/{settings.Repeat}: ffmpeg...");
                cpu = CpuSeconds();
                bestPeer = Math.Min(bestPeer, await FfmpegOnceAsync(decoder, videos, settings.Decoders, cancel.Token));
                peerCpu = Math.Min(peerCpu, CpuSeconds() - cpu);
            }
            if (oursFrames != frames) throw new InvalidOperationException($"ingest wrote {oursFrames} frames, the videos hold {frames}");

            double ours = frames / bestOurs, peer = frames / bestPeer, ratio = ours / peer;
            report.Row("ingest frames/s (decode, join, Parquet ZSTD, commit)", $"{ours:N0}", $"{peer:N0}", $"{ratio:F2}",
                FormattableString.Invariant($"peer: ffmpeg, same command, frames to /dev/null; {frames:N0} frames, {bestOurs:F2} s vs {bestPeer:F2} s"));
            report.Row("CPU time per frame, us (process + children)", $"{oursCpu / frames * 1e6:F0}", $"{peerCpu / frames * 1e6:F0}",
                $"{peerCpu / oursCpu:F2}", FormattableString.Invariant(
                    $"ours: {selfCpu / frames * 1e6:F0} in our process + {(oursCpu - selfCpu) / frames * 1e6:F0} in ffmpeg; the wall-clock ratio's floor when both are CPU-bound"));
            report.Goal("ingest_fps_ratio_vs_ffmpeg", ratio, ">=0.8");
            report.Goal("game_steps_per_second", cpuRate, ">=20000");
            if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 160);
            report.Print();
            return 0;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine("bench ingest: cancelled");
            return 130;
        }
        catch (Exception e) when (e is StageInputException or IOException or InvalidOperationException)
        {
            Console.Error.WriteLine($"bench ingest: {e.Message}");
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            try { Directory.Delete(work, recursive: true); }
            catch (IOException e) { Console.Error.WriteLine($"bench ingest: could not delete {work}: {e.Message}"); }
        }
    }

    static StageContext Context(string stage, string[] args, CancellationToken ct) =>
        new(stage, StageOptions.Parse(args), NullLoggerFactory.Instance, ct);

    /// <summary>One whole ingest stage run into a fresh artifact (a new salt each time); returns seconds and frames.</summary>
    static async Task<(double Seconds, long Frames)> IngestOnceAsync(string store, string dataset, Settings settings, string salt, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var result = await IngestStage.RunAsync(Context(IngestStage.StageName,
        [
            "--store", store, "--input", $"raw/{dataset}", "--salt", salt,
            "--set", $"Ingest:Decoders={settings.Decoders}", "--set", "Ingest:DecoderThreads=1",
        ], ct));
        return (clock.Elapsed.TotalSeconds, (long)result.Metrics!["frames"]);
    }

    /// <summary>The decoder's command line per video, as many at once as ingest runs, output to /dev/null.</summary>
    static async Task<double> FfmpegOnceAsync(VideoDecoder decoder, IReadOnlyList<string> videos, int parallel, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(videos, new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = ct }, async (video, token) =>
        {
            var psi = new ProcessStartInfo("ffmpeg") { UseShellExecute = false, RedirectStandardError = true };
            foreach (var arg in decoder.Arguments(video, "/dev/null")) psi.ArgumentList.Add(arg);
            psi.ArgumentList.Insert(0, "-y"); // /dev/null exists
            using var process = Process.Start(psi)!;
            var stderr = await process.StandardError.ReadToEndAsync(token);
            await process.WaitForExitAsync(token);
            if (process.ExitCode != 0 || stderr.Trim().Length > 0)
                throw new IOException($"ffmpeg failed on {video}: {stderr.Trim()}");
        });
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>Random actions with rendering on this thread; (steps per thread-CPU second, steps per wall second).</summary>
    static (double Cpu, double Wall) GameStepsPerSecond(TimeSpan duration)
    {
        double cpu = 0, wall = 0;
        var thread = new Thread(() =>
        {
            var env = new CraftWorld(new CraftConfig(), 1);
            var frame = new byte[env.FrameBytes];
            var actions = new Rng(2);
            env.Reset(frame);
            for (int i = 0; i < 20_000; i++) if (env.Step(actions.Next(ActionSpace.Count), frame).Done) env.Reset(frame); // JIT warm-up
            var clock = Stopwatch.StartNew();
            double start = ThreadCpuSeconds();
            long steps = 0;
            while (clock.Elapsed < duration)
            {
                for (int i = 0; i < 1_000; i++)
                    if (env.Step(actions.Next(ActionSpace.Count), frame).Done) env.Reset(frame);
                steps += 1_000;
            }
            cpu = steps / (ThreadCpuSeconds() - start);
            wall = steps / clock.Elapsed.TotalSeconds;
        }) { IsBackground = true, Name = "game throughput" };
        thread.Start();
        thread.Join();
        return (cpu, wall);
    }

    [StructLayout(LayoutKind.Sequential)]
    struct TimeSpec { public long Seconds, Nanoseconds; }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    [StructLayout(LayoutKind.Sequential)]
    struct RUsage
    {
        public long UserSeconds, UserMicros, SystemSeconds, SystemMicros;
        public long MaxRss, Ixrss, Idrss, Isrss, MinFlt, MajFlt, NSwap, InBlock, OuBlock, MsgSnd, MsgRcv, NSignals, NVCsw, NIvCsw;
    }

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRUsage(int who, out RUsage usage);

    /// <summary>CPU seconds (user and system) of this process, plus by default its finished children (the ffmpeg processes).</summary>
    static double CpuSeconds(bool children = true)
    {
        const int Self = 0, Children = -1;
        double Seconds(int who) => GetRUsage(who, out var u) == 0
            ? u.UserSeconds + u.SystemSeconds + (u.UserMicros + u.SystemMicros) * 1e-6
            : throw new InvalidOperationException("getrusage failed");
        return Seconds(Self) + (children ? Seconds(Children) : 0);
    }

    static double ThreadCpuSeconds()
    {
        const int ThreadCpuClock = 3; // CLOCK_THREAD_CPUTIME_ID
        if (ClockGetTime(ThreadCpuClock, out var t) != 0) throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        return t.Seconds + t.Nanoseconds * 1e-9;
    }

    static Settings Parse(string[] args)
    {
        int episodes = 24, steps = 1000, decoders = Environment.ProcessorCount, repeat = 3;
        bool quick = false, episodesGiven = false, stepsGiven = false, repeatGiven = false;
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Positive(string name, string text) => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0
                ? v : throw new ArgumentException($"{name} must be a positive integer, not '{text}'");
            switch (args[i])
            {
                case "--episodes": episodes = Positive("--episodes", Value()); episodesGiven = true; break;
                case "--steps": steps = Positive("--steps", Value()); stepsGiven = true; break;
                case "--decoders": decoders = Positive("--decoders", Value()); break;
                case "--repeat": repeat = Positive("--repeat", Value()); repeatGiven = true; break;
                case "--quick": quick = true; break;
                default: throw new ArgumentException($"unknown option '{args[i]}'");
            }
        }
        if (quick)
        {
            if (!episodesGiven) episodes = 8;
            if (!stepsGiven) steps = 300;
            if (!repeatGiven) repeat = 2;
        }
        return new Settings(episodes, steps, decoders, repeat);
    }

    static void Log(string line) => Console.Error.WriteLine($"bench ingest: {line}");
}
