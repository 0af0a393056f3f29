using System.Text;

namespace Dreamer.Storage.Tests;

/// <summary>Local-folder specifics: the on-disk layout, crash leftovers, and races between store instances.</summary>
public sealed class LocalFolderStoreTests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("blobstore-local-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Blobs_ArePlainFiles_AndBookkeepingIsHidden()
    {
        using var store = new LocalFolderStore(_root);
        await store.WriteBytesAsync("artifacts/tokenize/a1/part-0.parquet", "PAR1"u8.ToArray(),
            new BlobWriteOptions { Metadata = new Dictionary<string, string> { ["rows"] = "3" } });
        Assert.Equal("PAR1", await File.ReadAllTextAsync(Path.Combine(_root, "artifacts", "tokenize", "a1", "part-0.parquet")));
        Assert.Equal(["artifacts/"], (await store.ListPageAsync("", "/")).Prefixes);
        Assert.Equal(["artifacts/tokenize/a1/part-0.parquet"], await store.ListAllAsync("").Select(b => b.Path).ToListAsync());
        await Assert.ThrowsAsync<ArgumentException>(() => store.WriteBytesAsync(".blobstore/x", "x"u8.ToArray()));
        Assert.StartsWith("file:///", store.DisplayUri);
    }

    [Fact]
    public async Task CrashedWriterTempFiles_AreIgnored_AndCleanedWhenNoWriterHoldsThem()
    {
        using var store = new LocalFolderStore(_root);
        await store.WriteBytesAsync("kept", "k"u8.ToArray());
        var tmp = Path.Combine(_root, ".blobstore", "tmp");
        var crashed = Path.Combine(tmp, "crashed-writer");
        await File.WriteAllTextAsync(crashed, "half a blob");
        File.SetLastWriteTimeUtc(crashed, DateTime.UtcNow.AddHours(-1));
        var live = Path.Combine(tmp, "live-writer");
        await using (var writer = new FileStream(live, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            File.SetLastWriteTimeUtc(live, DateTime.UtcNow.AddHours(-1));
            Assert.Equal(["kept"], await store.ListAllAsync("").Select(b => b.Path).ToListAsync());
            Assert.Equal(1, store.CleanupStaleTempFiles(TimeSpan.FromMinutes(1)));
            Assert.False(File.Exists(crashed));
            Assert.True(File.Exists(live)); // still held by its writer
        }
        using var reopened = new LocalFolderStore(_root); // opening a store cleans up too
        Assert.False(File.Exists(live));
    }

    [Fact]
    public async Task CompareAndSwap_IsRaceSafeAcrossStoreInstances()
    {
        // Separate instances open separate lock-file descriptions, exactly as separate processes would.
        var stores = Enumerable.Range(0, 4).Select(_ => new LocalFolderStore(_root, new LocalFolderStoreOptions { Durable = false })).ToList();
        await stores[0].WriteBytesAsync("counter", "0"u8.ToArray());
        var conflicts = 0;
        // All four read the same ETag before any first write, so at least three of the first writes must fail
        // even when a busy machine would otherwise run the writers one after another.
        using var firstRound = new Barrier(4);
        await Task.WhenAll(stores.Select(store => Task.Run(async () =>
        {
            var first = true;
            for (var done = 0; done < 25;)
            {
                var properties = (await store.GetPropertiesAsync("counter"))!;
                var value = int.Parse(Encoding.UTF8.GetString(await store.ReadAllBytesAsync("counter")));
                if (first) firstRound.SignalAndWait();
                first = false;
                try
                {
                    await store.WriteBytesAsync("counter", Encoding.UTF8.GetBytes((value + 1).ToString()), BlobWriteOptions.IfMatch(properties.ETag));
                    done++;
                }
                catch (BlobConditionFailedException) { Interlocked.Increment(ref conflicts); }
            }
        })));
        // The ETag is taken before the read, so a successful CAS proves nobody wrote in between: a lost
        // update would show as a count below 100.
        Assert.Equal(100, int.Parse(Encoding.UTF8.GetString(await stores[0].ReadAllBytesAsync("counter"))));
        Assert.True(conflicts > 0, "the four writers never collided, so the test proved nothing");
        stores.ForEach(s => s.Dispose());
    }

    [Fact]
    public async Task LeaseHolder_RenewsBeyondItsDuration()
    {
        using var store = new LocalFolderStore(_root);
        // 3 s lease renewed every second: a busy CI machine (all test projects in parallel) once stalled the
        // renewer past a 1 s lease, so the margin is two whole seconds of scheduling delay.
        await using var holder = await LeaseHolder.TryAcquireAsync(store, "locks/long-job", TimeSpan.FromSeconds(3));
        Assert.NotNull(holder);
        await Task.Delay(TimeSpan.FromSeconds(7));
        Assert.False(holder.IsLost);
        Assert.Null(await store.TryAcquireLeaseAsync("locks/long-job", TimeSpan.FromSeconds(3)));
        Assert.Equal("leased", (await store.GetPropertiesAsync("locks/long-job"))!.LeaseState);
    }

    [Fact]
    public async Task AFileEditedByHand_GetsANewETag()
    {
        using var store = new LocalFolderStore(_root);
        var written = await store.WriteBytesAsync("notes.txt", "v1"u8.ToArray());
        await File.WriteAllTextAsync(Path.Combine(_root, "notes.txt"), "edited by hand");
        var now = (await store.GetPropertiesAsync("notes.txt"))!;
        Assert.NotEqual(written.ETag, now.ETag);
        await Assert.ThrowsAsync<BlobConditionFailedException>(
            () => store.WriteBytesAsync("notes.txt", "v2"u8.ToArray(), BlobWriteOptions.IfMatch(written.ETag)));
    }

    [Fact]
    public async Task ABlobAndBlobsBelowIt_CannotShareAName_OnAFolder()
    {
        using var store = new LocalFolderStore(_root);
        await store.WriteBytesAsync("a", "file"u8.ToArray());
        var e = await Assert.ThrowsAsync<BlobStoreException>(() => store.WriteBytesAsync("a/b", "below"u8.ToArray()));
        Assert.Contains("a/b", e.Message);
        Assert.Empty(Directory.GetFiles(Path.Combine(_root, ".blobstore", "tmp")));
    }

    [Theory]
    [InlineData(false)] // the walk descends into the removed folder
    [InlineData(true)]  // the walk rolls the removed folder up as a prefix
    public async Task AFolderRemovedWhileAListingWalks_ListsAsEmpty(bool rollUpFolders)
    {
        // A trainer prunes an old checkpoint's folder while a reader lists the checkpoints. The walk is lazy, so
        // removing a folder between two of its steps reproduces that race exactly: the walk has already read the
        // parent's entries and reaches the removed folder afterwards.
        using var store = new LocalFolderStore(_root);
        await store.WriteBytesAsync("ck/step-1/weights", "1"u8.ToArray());
        await store.WriteBytesAsync("ck/step-2/weights", "2"u8.ToArray());
        var walk = new LocalFolderStore.ListWalk("ck/", rollUpFolders, resume: null);
        using var items = walk.Enumerate(Path.Combine(_root, "ck"), "ck/").GetEnumerator();
        Assert.True(items.MoveNext());
        Assert.Equal(rollUpFolders ? "ck/step-1/" : "ck/step-1/weights", items.Current.Key);
        Directory.Delete(Path.Combine(_root, "ck", "step-2"), recursive: true);
        Assert.False(items.MoveNext());
    }
}
