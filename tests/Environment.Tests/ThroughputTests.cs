using System.Diagnostics;
using System.Runtime.InteropServices;
using Dreamer.Game;
using Xunit.Abstractions;

namespace Dreamer.Environment.Tests;

public partial class ThroughputTests(ITestOutputHelper output)
{
    [StructLayout(LayoutKind.Sequential)]
    struct TimeSpec { public long Seconds, Nanoseconds; }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>
    /// CPU time of the calling thread, so the measured rate does not depend on how busy the shared
    /// machine is (other test classes run in parallel); wall-clock time where that clock is missing.
    /// </summary>
    static double ThreadSeconds(Stopwatch wall)
    {
        const int ThreadCpuClock = 3;   // CLOCK_THREAD_CPUTIME_ID
        if (OperatingSystem.IsLinux() && ClockGetTime(ThreadCpuClock, out TimeSpec t) == 0) return t.Seconds + t.Nanoseconds * 1e-9;
        return wall.Elapsed.TotalSeconds;
    }

    [Fact]
    public void StepsWithRenderingAreFast()
    {
        var env = new CraftWorld(new CraftConfig(), 1);
        var frame = new byte[env.FrameBytes];
        var actions = new Rng(2);
        env.Reset(frame);
        for (int i = 0; i < 5_000; i++) if (env.Step(actions.Next(ActionSpace.Count), frame).Done) env.Reset(frame);   // warm up the JIT

        var wall = Stopwatch.StartNew();
        double start = ThreadSeconds(wall);
        long steps = 0;
        while (ThreadSeconds(wall) - start < 1.0)
        {
            for (int i = 0; i < 1_000; i++)
            {
                if (env.Step(actions.Next(ActionSpace.Count), frame).Done) env.Reset(frame);
                steps++;
            }
        }
        double rate = steps / (ThreadSeconds(wall) - start);
        output.WriteLine($"{rate:F0} steps/s with 64x64 rendering on one thread (resets included)");
        Assert.True(rate >= 5_000, $"{rate:F0} steps/s");
    }
}
