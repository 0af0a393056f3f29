namespace Dreamer.Torch.Tests;

public class AutogradTests
{
    [Fact]
    public void BackwardGradDetachAndNoGrad()
    {
        using var scope = Torch.NewDisposeScope();
        var x = Torch.From(new float[] { 1, 2, 3 }).RequiresGrad_();
        Assert.True(x.RequiresGrad);
        Assert.Null(x.Grad);
        var y = x * x;
        y.Backward(Torch.From(new float[] { 1, 1, 0.5f }));
        Assert.Equal(new float[] { 2, 4, 3 }, x.Grad!.ToArray<float>());
        // Gradients accumulate until cleared.
        (x * 2.0).Sum().Backward();
        Assert.Equal(new float[] { 4, 6, 5 }, x.Grad!.ToArray<float>());
        x.Grad = null;
        Assert.Null(x.Grad);

        Assert.False(x.Detach().RequiresGrad);
        Assert.True(Torch.IsGradEnabled);
        using (Torch.NoGrad())
        {
            Assert.False(Torch.IsGradEnabled);
            Assert.False((x * 2.0).RequiresGrad);
            using (Torch.EnableGrad()) Assert.True((x * 2.0).RequiresGrad);
            Assert.False(Torch.IsGradEnabled);
        }
        Assert.True(Torch.IsGradEnabled);
        Assert.True((x * 2.0).RequiresGrad);

        // Backward of a non-scalar without a gradient is libtorch's error, not a crash.
        var ex = Assert.Throws<TorchException>(() => (x * 2.0).Backward());
        Assert.Contains("scalar", ex.Message);
    }

    [Fact]
    public void RetainGraphAllowsASecondBackward()
    {
        using var scope = Torch.NewDisposeScope();
        var x = Torch.From(new double[] { 3 }).RequiresGrad_();
        var y = (x * x).Sum();
        y.Backward(retainGraph: true);
        y.Backward();
        Assert.Equal(12.0, x.Grad!.ToDouble());
    }

    [Fact]
    public void GenericOpsAreOneLineThroughTheDispatcher()
    {
        using var scope = Torch.NewDisposeScope();
        var cumprod = Torch.FindOp("aten::cumprod");
        var x = Torch.From(new double[] { 1, 2, 3, 4 }).RequiresGrad_();
        var y = cumprod.Call(x, 0L);
        Assert.Equal(new double[] { 1, 2, 6, 24 }, y.ToArray<double>());
        y.Sum().Backward();
        Assert.Equal(new double[] { 33, 16, 10, 6 }, x.Grad!.ToArray<double>());
        // Trailing defaults come from the schema (keepdim=false, dtype=None).
        Assert.Equal(10.0, Torch.FindOp("aten::sum", "dim_IntList").Call(x, new long[] { 0 }).ToDouble());
        Assert.Equal(new long[] { 1 }, Torch.FindOp("aten::sum", "dim_IntList").Call(x, new long[] { 0 }, true).Shape);
    }
}

[Collection(LiveCountCollection.Name)]
public class ScopeEdgeCaseTests
{
    [Fact]
    public void OutOfOrderDisposalNeverRevivesADisposedScope()
    {
        var before = Torch.LiveTensorCount;
        var outer = Torch.NewDisposeScope();
        var inner = Torch.NewDisposeScope();
        outer.Dispose();
        var t = Torch.Ones([1]);
        Assert.Same(inner, t.OwningScope);
        inner.Dispose();
        Assert.True(t.IsDisposed);
        Assert.Null(DisposeScope.Current);
        using (var again = Torch.NewDisposeScope()) _ = Torch.Ones([1]);
        Assert.Equal(before, Torch.LiveTensorCount);
    }

    [Fact]
    public void ScopesArePerThread()
    {
        using var scope = Torch.NewDisposeScope();
        Tensor? fromOtherThread = null;
        var th = new Thread(() => fromOtherThread = Torch.Ones([1]));
        th.Start();
        th.Join();
        Assert.Equal(0, scope.Count);
        Assert.Null(fromOtherThread!.OwningScope);
        fromOtherThread!.Dispose();
    }

    [Fact]
    public void MoveToOuterScopeWithoutOuterLeavesCallerOwning()
    {
        var before = Torch.LiveTensorCount;
        Tensor t;
        using (Torch.NewDisposeScope()) t = Torch.Ones([2]).MoveToOuterScope();
        Assert.False(t.IsDisposed);
        t.Dispose();
        Assert.Equal(before, Torch.LiveTensorCount);
    }

    [Fact]
    public void ManyEagerDisposalsKeepTheScopeSmall()
    {
        using var scope = Torch.NewDisposeScope();
        using var a = Torch.Ones([2]).DetachFromScopes();
        for (var i = 0; i < 10_000; i++) (a + 1.0).Dispose();
        Assert.Equal(0, scope.Count);
    }
}
