using System.Diagnostics;
using Dreamer.Torch.NN;
using Dreamer.Torch.Optim;
using Xunit.Abstractions;

namespace Dreamer.Torch.Tests;

[Collection(LiveCountCollection.Name)]
public class MemoryTests(ITestOutputHelper output)
{
    private sealed class Mlp : Module
    {
        public Mlp()
        {
            var o = new ParamOptions(Generator: new Generator(3));
            L1 = RegisterModule("l1", new Linear(16, 64, true, o));
            Norm = RegisterModule("norm", new RMSNorm(64));
            L2 = RegisterModule("l2", new Linear(64, 4, true, o));
        }

        public Linear L1 { get; }
        public RMSNorm Norm { get; }
        public Linear L2 { get; }

        public Tensor Forward(Tensor x) => L2.Forward(Norm.Forward(L1.Forward(x).Gelu()));
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern int malloc_trim(nuint pad);

    // Settles the managed heap and hands freed malloc pages back, so RSS reflects live memory only.
    private static long SettledRssKb()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect();
        malloc_trim(0);
        return VmRssKb();
    }

    private static long VmRssKb()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        throw new InvalidOperationException("no VmRSS in /proc/self/status");
    }

    [Fact]
    public void TrainingLoopDoesNotGrowResidentMemory()
    {
        // Earlier tests' unreachable tensors are freed by their finalizers, possibly mid-test (678 of them once in CI):
        // settle first so the baseline counts live tensors only.
        SettledRssKb();
        var baseline = Torch.LiveTensorCount;
        using var model = new Mlp();
        using var opt = new AdamW(model, lr: 1e-3);
        using var g = new Generator(1);
        var x = Torch.Randn([32, 16], g).DetachFromScopes();
        var y = Torch.Randn([32, 4], g).DetachFromScopes();
        var schedule = LrSchedule.WarmupCosine(1e-3, 100, 10_000);

        void Step(int i)
        {
            using var scope = Torch.NewDisposeScope();
            opt.LearningRate = schedule.At(i);
            opt.ZeroGrad();
            var loss = Torch.MseLoss(model.Forward(x), y);
            loss.Backward();
            GradClip.ClipGradNorm(model.Parameters(), 1.0);
            opt.Step();
        }

        for (var i = 0; i < 2000; i++) Step(i);
        var afterWarmup = SettledRssKb();
        var committedWarm = GC.GetGCMemoryInfo().TotalCommittedBytes;
        var liveAfterWarmup = Torch.LiveTensorCount;
        var sw = Stopwatch.StartNew();
        for (var i = 2000; i < 10_000; i++) Step(i);
        sw.Stop();
        var end = SettledRssKb();
        var committedEnd = GC.GetGCMemoryInfo().TotalCommittedBytes;
        // RSS minus the GC's committed heap: what libtorch and the shim hold (a tensor leak shows here).
        var nativeGrowthKb = (end - committedEnd / 1024) - (afterWarmup - committedWarm / 1024);
        output.WriteLine($"GC committed after warm-up {committedWarm / 1024} kB, at end {committedEnd / 1024} kB; native growth {nativeGrowthKb / 1024.0:F1} MB");
        output.WriteLine($"VmRSS after warm-up {afterWarmup} kB, after 10k steps {end} kB (growth {(end - afterWarmup) / 1024.0:F1} MB); {sw.Elapsed.TotalMilliseconds / 8000:F3} ms/step");
        Assert.Equal(liveAfterWarmup, Torch.LiveTensorCount);
        Assert.True(end - afterWarmup < 20 * 1024, $"resident memory grew by {(end - afterWarmup) / 1024.0:F1} MB");
        Assert.True(nativeGrowthKb < 10 * 1024, $"native (non-GC) memory grew by {nativeGrowthKb / 1024.0:F1} MB");

        x.Dispose();
        y.Dispose();
        opt.Dispose();
        model.Dispose();
        Assert.Equal(baseline, Torch.LiveTensorCount);
    }

    [Fact]
    public void ScopeFreesEveryHandleIncludingFailedCallsAndGradReads()
    {
        var before = Torch.LiveTensorCount;
        using (Torch.NewDisposeScope())
        {
            var a = Torch.Randn([4, 4]).RequiresGrad_();
            var b = a.MatMul(a).Softmax(-1).LogSumExp(0).Sum();
            b.Backward();
            _ = a.Grad;
            _ = a.Chunk(2, 0);
            _ = a.Max(0);
            Assert.Throws<TorchException>(() => a.MatMul(Torch.Zeros([3, 3])));
            Assert.Throws<TorchException>(() => a.Reshape(5, 5));
        }
        Assert.Equal(before, Torch.LiveTensorCount);
    }

    [Fact]
    public void PerOpOverheadIsSmall()
    {
        using var a = Torch.Ones([4]);
        using var b = Torch.Ones([4]);
        const int n = 100_000;
        for (var i = 0; i < 2000; i++)
            using (var c = a + b) { }
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < n; i++)
            using (var c = a + b) { }
        var direct = sw.Elapsed.TotalMicroseconds / n;
        sw.Restart();
        using (Torch.NewDisposeScope())
            for (var i = 0; i < n; i++) _ = a + b;
        var scoped = sw.Elapsed.TotalMicroseconds / n;
        sw.Restart();
        for (var i = 0; i < n; i++)
            using (var c = a.Exp()) { }
        var boxed = sw.Elapsed.TotalMicroseconds / n;
        output.WriteLine($"add (direct, disposed): {direct:F2} us/op; add in scope: {scoped:F2} us/op; exp (boxed dispatcher): {boxed:F2} us/op");
        // Generous bound: a regression to marshalling-heavy calls would be several times slower.
        Assert.True(direct < 50, $"add took {direct:F2} us");
    }
}
