using System.Diagnostics;

namespace Dreamer.Hosting.Tests;

public class ScratchDirectoryTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("scratch-tests").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void LiveFolderSurvivesAnotherCreateAndDisposeDeletesIt()
    {
        var first = ScratchDirectory.Create("ingest", _root);
        File.WriteAllText(first.File("part.parquet"), "x");
        using (var second = ScratchDirectory.Create("ingest", _root))
        {
            Assert.NotEqual(first.Path, second.Path);
            Assert.True(File.Exists(first.File("part.parquet")));
            Assert.Equal(0, ScratchDirectory.RemoveAbandoned(_root));
        }
        first.Dispose();
        Assert.False(Directory.Exists(first.Path));
        Assert.Empty(Directory.GetDirectories(_root));
    }

    [Fact]
    public void FolderOfAKilledOwnerIsRemovedByTheNextCreate()
    {
        // A real process takes the same OS lock .NET takes for FileShare.None, then dies by SIGKILL
        // (-o: only flock holds it, not the command it waits on).
        var dead = Path.Combine(_root, "ingest-killed");
        Directory.CreateDirectory(dead);
        File.WriteAllText(Path.Combine(dead, "half-written.parquet"), "partial");
        var lockFile = Path.Combine(dead, ".owner.lock");
        using var holder = Process.Start(new ProcessStartInfo("flock", ["-x", "-o", lockFile, "sleep", "60"]) { UseShellExecute = false })!;
        WaitUntil(() => IsLocked(lockFile));
        using (ScratchDirectory.Create("tokenize", _root))
            Assert.True(Directory.Exists(dead), "a folder whose owner lives must stay");

        holder.Kill(entireProcessTree: true);
        holder.WaitForExit();
        using var next = ScratchDirectory.Create("tokenize", _root);
        Assert.False(Directory.Exists(dead));
        Assert.Equal([next.Path], Directory.GetDirectories(_root));
    }

    [Fact]
    public void FolderWithoutLockIsRemovedOnlyWhenOld()
    {
        var fresh = Path.Combine(_root, "collect-fresh");
        var old = Path.Combine(_root, "collect-old");
        Directory.CreateDirectory(fresh);
        Directory.CreateDirectory(old);
        Directory.SetLastWriteTimeUtc(old, DateTime.UtcNow.AddMinutes(-5));
        Assert.Equal(1, ScratchDirectory.RemoveAbandoned(_root));
        Assert.True(Directory.Exists(fresh), "another process may be about to create its lock");
        Assert.False(Directory.Exists(old));
    }

    [Fact]
    public void NameMustBePlain() =>
        Assert.Throws<ArgumentException>(() => ScratchDirectory.Create("a/b", _root));

    private static bool IsLocked(string path)
    {
        try
        {
            using (new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) return false;
        }
        catch (IOException) { return true; }
    }

    private static void WaitUntil(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10)) throw new TimeoutException("the lock holder did not start");
            Thread.Sleep(20);
        }
    }
}
