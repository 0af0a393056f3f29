namespace Dreamer.Torch.Tests;

public class TensorCoreTests
{
    [Fact]
    public void CreatesAndReadsBack()
    {
        using var scope = Torch.NewDisposeScope();
        var t = Torch.From(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        Assert.Equal(new long[] { 2, 3 }, t.Shape);
        Assert.Equal(DType.Float32, t.DType);
        Assert.Equal(Device.Cpu, t.Device with { Index = -1 });
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, t.ToArray<float>());
        Assert.Equal(new float[] { 1, 4, 2, 5, 3, 6 }, t.Transpose(0, 1).ToArray<float>());
        var z = Torch.Zeros([3, 2], DType.Int64);
        Assert.Equal(new long[6], z.ToArray<long>());
        Assert.Equal(new long[] { 0, 1, 2, 3 }, Torch.Arange(4).ToArray<long>());
        Assert.Equal(7.0, Torch.Full([1], 7, DType.Float64).ToDouble());
    }

    [Fact]
    public void ArithmeticBroadcastsAndKeepsIntegerDtype()
    {
        using var scope = Torch.NewDisposeScope();
        var a = Torch.From(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        var b = Torch.From(new float[] { 10, 20, 30 }, 3);
        Assert.Equal(new float[] { 11, 22, 33, 14, 25, 36 }, (a + b).ToArray<float>());
        Assert.Equal(new float[] { -9, -18, -27, -6, -15, -24 }, (a - b).ToArray<float>());
        Assert.Equal(new float[] { 2, 4, 6, 8, 10, 12 }, (a * 2.0).ToArray<float>());
        Assert.Equal(new float[] { 0, -1, -2, -3, -4, -5 }, (1.0 - a).ToArray<float>());
        Assert.Equal(new float[] { -1, -2, -3, -4, -5, -6 }, (-a).ToArray<float>());
        var i = Torch.Arange(3) + 1;
        Assert.Equal(DType.Int64, i.DType);
        Assert.Equal(new long[] { 1, 2, 3 }, i.ToArray<long>());
        Assert.Equal(new float[] { 14, 32 }, a.MatMul(Torch.From(new float[] { 1, 2, 3 }, 3, 1)).Reshape(2).ToArray<float>());
    }

    [Fact]
    public void ReductionsAndShapeOps()
    {
        using var scope = Torch.NewDisposeScope();
        var a = Torch.From(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        Assert.Equal(21.0, a.Sum().ToDouble(), 5);
        Assert.Equal(new float[] { 6, 15 }, a.Sum(1).ToArray<float>());
        Assert.Equal(new long[] { 2, 1 }, a.Mean(1, keepDim: true).Shape);
        Assert.Equal(new long[] { 2, 2 }, a.ArgMax(1).ToArray<long>());
        var (vals, idx) = a.Max(0);
        Assert.Equal(new float[] { 4, 5, 6 }, vals.ToArray<float>());
        Assert.Equal(new long[] { 1, 1, 1 }, idx.ToArray<long>());
        Assert.Equal(1.0, a.Var(1).ToArray<float>()[0], 5);
        var parts = a.Chunk(3, 1);
        Assert.Equal(3, parts.Length);
        Assert.Equal(new float[] { 2, 5 }, parts[1].Reshape(2).ToArray<float>());
        Assert.Equal(new long[] { 4, 3 }, Torch.Cat([a, a], 0).Shape);
        Assert.Equal(new long[] { 2, 2, 3 }, Torch.Stack([a, a], 0).Shape);
        Assert.Equal(new float[] { 3, 2, 1, 6, 5, 4 }, a.Flip(1).ToArray<float>());
        Assert.Equal(new float[] { 3, 1, 2, 6, 4, 5 }, a.Roll(1, 1).ToArray<float>());
        Assert.Equal(new float[] { 1, 0, 0, 4, 5, 0 }, a.Tril().ToArray<float>());
        var mask = a > 3.0;
        Assert.Equal(DType.Bool, mask.DType);
        Assert.Equal(new float[] { 1, 2, 3, 0, 0, 0 }, a.MaskedFill(mask, 0).ToArray<float>());
        Assert.Equal(new float[] { 2, 6 }, a.Gather(1, Torch.From(new long[] { 1, 2 }, 2, 1)).Reshape(2).ToArray<float>());
        Assert.Equal(new float[] { 4, 5, 6 }, a.IndexSelect(0, Torch.From(new long[] { 1 })).Reshape(3).ToArray<float>());
        var e = Torch.Einsum("ij,kj->ik", a, a);
        Assert.Equal(new float[] { 14, 32, 32, 77 }, e.ToArray<float>());
        Assert.Equal(new long[] { 3, 4 }, Torch.Arange(3).OneHot(4).Shape);
        Assert.Equal(new float[] { 1, 3, 6, 4, 9, 15 }, a.CumSum(1).ToArray<float>());
        Assert.Equal(new long[] { 2, 1, 3 }, a.Unsqueeze(1).Shape);
        Assert.Equal(new long[] { 2, 3 }, a.Unsqueeze(1).Squeeze(1).Shape);
        Assert.Equal(new long[] { 2, 2, 3 }, a.Unsqueeze(0).Expand(2, 2, 3).Shape);
        Assert.Equal(new float[] { 2, 3, 5, 6 }, a.Slice(1, 1, null).ToArray<float>());
        Assert.Equal(new float[] { 4, 5, 6 }, a.Select(0, 1).ToArray<float>());
        var sp = a.Split(2, 1);
        Assert.Equal(2, sp.Length);
        Assert.Equal(new long[] { 2, 1 }, sp[1].Shape);
    }

    [Fact]
    public void ShapeMismatchNamesBothShapes()
    {
        using var scope = Torch.NewDisposeScope();
        var a = Torch.Zeros([2, 3]);
        var b = Torch.Zeros([4, 5]);
        var ex = Assert.Throws<TorchException>(() => a + b);
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[4, 5]", ex.Message);
        ex = Assert.Throws<TorchException>(() => a.MatMul(b));
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[4, 5]", ex.Message);
        ex = Assert.Throws<TorchException>(() => a.Bmm(b));
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[4, 5]", ex.Message);
        ex = Assert.Throws<TorchException>(() => Torch.Cat([a, b], 0));
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[4, 5]", ex.Message);
        // The process survived and libtorch still works.
        Assert.Equal(new long[] { 2, 3 }, (a + 1.0).Shape);
    }

    [Fact]
    public void DisposedTensorThrowsObjectDisposed()
    {
        var t = Torch.Ones([2, 2]);
        t.Dispose();
        t.Dispose();
        Assert.True(t.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => t.Shape);
        Assert.Throws<ObjectDisposedException>(() => t + t);
        Assert.Throws<ObjectDisposedException>(() => t.Exp());
        Assert.Throws<ObjectDisposedException>(() => t.ToArray<float>());
        Assert.Throws<ObjectDisposedException>(() => Torch.Cat([t, t]));
    }

    [Fact]
    public void ZeroCopySpanViewsNativeMemory()
    {
        using var t = Torch.Zeros([4]);
        var span = t.AsSpan<float>();
        span[2] = 5;
        Assert.Equal(5f, t.ToArray<float>()[2]);
        Assert.Throws<InvalidOperationException>(() => t.AsSpan<double>());
    }

    [Fact]
    public void DtypesConvert()
    {
        using var scope = Torch.NewDisposeScope();
        var a = Torch.From(new float[] { 1.5f, -2.25f });
        foreach (var dt in new[] { DType.Float16, DType.BFloat16, DType.Float64, DType.Int64, DType.Int32, DType.UInt8, DType.Bool })
        {
            var c = a.To(dt);
            Assert.Equal(dt, c.DType);
        }
        Assert.Equal(new Half[] { (Half)1.5f, (Half)(-2.25f) }, a.To(DType.Float16).ToArray<Half>());
        Assert.Equal(new long[] { 1, -2 }, a.To(DType.Int64).ToArray<long>());
        Assert.Equal(new[] { true, true }, a.To(DType.Bool).ToArray<bool>());
        // bfloat16 is the top half of float32's bits.
        Assert.Equal((ushort)(BitConverter.SingleToUInt32Bits(1.5f) >> 16), a.To(DType.BFloat16).ToArray<ushort>()[0]);
    }

    [Fact]
    public void SeededGeneratorsReproduce()
    {
        using var scope = Torch.NewDisposeScope();
        using var g1 = new Generator(42);
        using var g2 = new Generator(42);
        var a = Torch.Randn([16], g1);
        var b = Torch.Randn([16], g2);
        Assert.Equal(a.ToArray<float>(), b.ToArray<float>());
        var c = Torch.Randn([16], g1);
        Assert.NotEqual(a.ToArray<float>(), c.ToArray<float>());
        Assert.Equal(42UL, g1.Seed);

        var probs = Torch.From(new float[] { 0.1f, 0.2f, 0.7f, 0.5f, 0.5f, 0f }, 2, 3);
        using var g3 = new Generator(5);
        using var g4 = new Generator(5);
        Assert.Equal(probs.Multinomial(4, true, g3).ToArray<long>(), probs.Multinomial(4, true, g4).ToArray<long>());
        Assert.Equal(Torch.Randint(0, 10, [20], g3).ToArray<long>(), Torch.Randint(0, 10, [20], g4).ToArray<long>());
        Assert.Equal(probs.Bernoulli(g3).ToArray<float>(), probs.Bernoulli(g4).ToArray<float>());
        Assert.Equal(Torch.Normal(probs, 1.0, g3).ToArray<float>(), Torch.Normal(probs, 1.0, g4).ToArray<float>());
        // Restoring a generator's state replays its stream.
        var state = g3.GetState();
        var x1 = Torch.Rand([5], g3).ToArray<float>();
        g3.SetState(state);
        Assert.Equal(x1, Torch.Rand([5], g3).ToArray<float>());
    }

    [Fact]
    public void ErrorMessagesAreLibtorchsWithoutBacktrace()
    {
        using var scope = Torch.NewDisposeScope();
        var ex = Assert.Throws<TorchException>(() => Torch.Zeros([2, 3]) + Torch.Zeros([4, 5]));
        Assert.Contains("must match the size", ex.Message);
        Assert.DoesNotContain("frame #", ex.Message);
        Assert.Throws<TorchException>(() => new Op("aten::no_such_op"));
    }
}

[Collection(LiveCountCollection.Name)]
public class DisposeScopeTests
{
    [Fact]
    public void DisposeScopeFreesTemporariesAndKeepsChosenOnes()
    {
        var before = Torch.LiveTensorCount;
        Tensor kept, moved;
        using (var outer = Torch.NewDisposeScope())
        {
            using (var inner = Torch.NewDisposeScope())
            {
                var a = Torch.Ones([3]);
                var b = (a * 2.0).Exp().Sum();
                kept = inner.Keep(a + b);
                moved = (a - b).MoveToOuterScope();
                Assert.True(Torch.LiveTensorCount >= before + 6);
            }
            Assert.False(kept.IsDisposed);
            Assert.False(moved.IsDisposed);
            Assert.Equal(before + 2, Torch.LiveTensorCount);
        }
        Assert.True(moved.IsDisposed);
        Assert.False(kept.IsDisposed);
        Assert.Equal(before + 1, Torch.LiveTensorCount);
        kept.Dispose();
        Assert.Equal(before, Torch.LiveTensorCount);
    }
}

/// <summary>Tests that read or change process-wide state (live tensor count, global seed, modes) run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public class LiveCountCollection
{
    public const string Name = "LiveTensorCount";
}

[Collection(LiveCountCollection.Name)]
public class GlobalStateTests
{
    [Fact]
    public void ControlSurface()
    {
        Assert.Matches(@"^\d+\.\d+\.\d+", Torch.Version);
        Assert.True(Torch.NumThreads >= 1);
        Assert.False(Torch.CudaIsAvailable && Torch.CudaDeviceCount == 0);
        var prev = Torch.DeterministicAlgorithms;
        Torch.DeterministicAlgorithms = true;
        Assert.True(Torch.DeterministicAlgorithms);
        Torch.DeterministicAlgorithms = prev;
    }

    [Fact]
    public void ManualSeedReproducesTheGlobalStream()
    {
        using var scope = Torch.NewDisposeScope();
        Torch.ManualSeed(7);
        var r1 = Torch.Rand([8]).ToArray<float>();
        var saved = Torch.GetRngState();
        var r2 = Torch.Randn([8]).ToArray<float>();
        Torch.ManualSeed(7);
        Assert.Equal(r1, Torch.Rand([8]).ToArray<float>());
        Torch.SetRngState(saved);
        Assert.Equal(r2, Torch.Randn([8]).ToArray<float>());
    }

    [Fact]
    public void ThreadCountCanBeSet()
    {
        var n = Torch.NumThreads;
        Torch.NumThreads = 1;
        Assert.Equal(1, Torch.NumThreads);
        Torch.NumThreads = n;
        Assert.Equal(n, Torch.NumThreads);
    }

    /// <summary>Debian's libtorch runs on OpenBLAS, whose own pool UseThreads keeps from doubling libtorch's.</summary>
    [Fact]
    public void UseThreadsNeverRunsBothPoolsWide()
    {
        var (n, blas) = (Torch.NumThreads, Torch.BlasThreads);
        Assert.NotNull(blas);
        try
        {
            Torch.UseThreads(2);
            Assert.Equal((2, 1), (Torch.NumThreads, Torch.BlasThreads!.Value));
            Torch.UseThreads(1);
            Assert.Equal((1, Environment.ProcessorCount), (Torch.NumThreads, Torch.BlasThreads!.Value));
            Torch.UseThreads(1, blas: 1);
            Assert.Equal(1, Torch.BlasThreads);
            Assert.Throws<ArgumentOutOfRangeException>(() => Torch.UseThreads(0));
            Assert.Throws<ArgumentOutOfRangeException>(() => Torch.UseThreads(1, blas: 0));
        }
        finally
        {
            Torch.NumThreads = n;
            Torch.BlasThreads = blas;
        }
    }
}
