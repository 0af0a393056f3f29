using System.Security.Cryptography;
using System.Text;
using Dreamer.Storage.Azure;

namespace Dreamer.Storage.Tests;

/// <summary>The behaviour every IBlobStore must show; one subclass per implementation.</summary>
public abstract class BlobStoreContractTests
{
    protected abstract IBlobStore Store { get; }

    /// <summary>Shortest lease the store accepts (Azure: 15 s).</summary>
    protected abstract TimeSpan ShortLease { get; }

    static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    async Task<string> ReadText(string path) => Encoding.UTF8.GetString(await Store.ReadAllBytesAsync(path));

    [Fact]
    public async Task CreateOnly_FailsWhenTheBlobExists()
    {
        var first = await Store.WriteBytesAsync("claims/a.json", Utf8("one"), BlobWriteOptions.CreateOnly);
        await Assert.ThrowsAsync<BlobConditionFailedException>(
            () => Store.WriteBytesAsync("claims/a.json", Utf8("two"), BlobWriteOptions.CreateOnly));
        Assert.Equal("one", await ReadText("claims/a.json"));
        Assert.Equal(first.ETag, (await Store.GetPropertiesAsync("claims/a.json"))!.ETag);
    }

    [Fact]
    public async Task CreateOnly_RacingWriters_ExactlyOneWins()
    {
        var attempts = Enumerable.Range(0, 8).Select(async i =>
        {
            try
            {
                await Store.WriteBytesAsync("race/manifest.json", Utf8($"writer {i}"), BlobWriteOptions.CreateOnly);
                return i;
            }
            catch (BlobConditionFailedException) { return -1; }
        }).ToList();
        var winners = (await Task.WhenAll(attempts)).Where(i => i >= 0).ToList();
        Assert.Single(winners);
        Assert.Equal($"writer {winners[0]}", await ReadText("race/manifest.json"));
    }

    [Fact]
    public async Task CompareAndSwap_SucceedsOnTheCurrentETag_FailsOnAStaleOne()
    {
        var v1 = await Store.WriteBytesAsync("ckpt/LATEST", Utf8("step-1"));
        var v2 = await Store.WriteBytesAsync("ckpt/LATEST", Utf8("step-2"), BlobWriteOptions.IfMatch(v1.ETag));
        Assert.NotEqual(v1.ETag, v2.ETag);
        await Assert.ThrowsAsync<BlobConditionFailedException>(
            () => Store.WriteBytesAsync("ckpt/LATEST", Utf8("step-3"), BlobWriteOptions.IfMatch(v1.ETag)));
        await Assert.ThrowsAsync<BlobConditionFailedException>(
            () => Store.WriteBytesAsync("ckpt/MISSING", Utf8("x"), BlobWriteOptions.IfMatch(v1.ETag)));
        Assert.Equal("step-2", await ReadText("ckpt/LATEST"));
    }

    [Fact]
    public async Task ETag_ChangesOnEveryWrite_EvenWithTheSameContent()
    {
        var etags = new List<string>();
        for (var i = 0; i < 3; i++) etags.Add((await Store.WriteBytesAsync("same.bin", Utf8("same"))).ETag);
        Assert.Equal(3, etags.Distinct().Count());
        Assert.Equal(etags[^1], (await Store.GetPropertiesAsync("same.bin"))!.ETag);
        var listed = (await Store.ListPageAsync("same")).Blobs.Single();
        Assert.Equal(etags[^1], listed.ETag);
        Assert.Equal(4, listed.Length);
    }

    [Fact]
    public async Task Metadata_AndContentType_RoundTrip_AndAreReplacedByTheNextWrite()
    {
        var metadata = new Dictionary<string, string> { ["sha256"] = "ab12", ["rows"] = "12", ["note"] = "a b=c" };
        var written = await Store.WriteBytesAsync("meta/part-0.parquet", Utf8("data"),
            new BlobWriteOptions { Metadata = metadata, ContentType = "application/json" });
        var read = (await Store.GetPropertiesAsync("meta/part-0.parquet"))!;
        Assert.Equal(written.ETag, read.ETag);
        Assert.Equal("application/json", read.ContentType);
        Assert.Equal(metadata.OrderBy(k => k.Key), read.Metadata.OrderBy(k => k.Key));
        Assert.Equal(4, read.Length);
        Assert.Equal("available", read.LeaseState);

        await Store.WriteBytesAsync("meta/part-0.parquet", Utf8("data2"));
        var replaced = (await Store.GetPropertiesAsync("meta/part-0.parquet"))!;
        Assert.Empty(replaced.Metadata);
        Assert.Equal(BlobNames.DefaultContentType, replaced.ContentType);
    }

    [Fact]
    public async Task ReadRange_InsideAtAndPastTheEnd()
    {
        var data = DeterministicStream.Bytes(1, 1000);
        await Store.WriteBytesAsync("range.bin", data);
        var buffer = new byte[50];
        Assert.Equal(50, await Store.ReadRangeAsync("range.bin", 100, buffer));
        Assert.Equal(data[100..150], buffer);
        Assert.Equal(10, await Store.ReadRangeAsync("range.bin", 990, buffer));
        Assert.Equal(data[990..], buffer[..10]);
        Assert.Equal(0, await Store.ReadRangeAsync("range.bin", 1000, buffer));
        Assert.Equal(0, await Store.ReadRangeAsync("range.bin", 5000, buffer));

        await using (var tail = await Store.OpenReadAsync("range.bin", 900, 500))
            Assert.Equal(data[900..], await ReadToEnd(tail));
        await using (var middle = await Store.OpenReadAsync("range.bin", 10, 20))
            Assert.Equal(data[10..30], await ReadToEnd(middle));
        await using (var past = await Store.OpenReadAsync("range.bin", 2000))
            Assert.Empty(await ReadToEnd(past));
    }

    [Fact]
    public async Task EmptyBlob_RoundTrips()
    {
        await Store.WriteBytesAsync("empty", ReadOnlyMemory<byte>.Empty);
        Assert.Equal(0, (await Store.GetPropertiesAsync("empty"))!.Length);
        Assert.Empty(await Store.ReadAllBytesAsync("empty"));
        Assert.Equal(0, await Store.ReadRangeAsync("empty", 0, new byte[10]));
    }

    [Fact]
    public async Task OpenRead_StreamsABlobLargerThanItsBuffers()
    {
        const long length = 5 * 1024 * 1024 + 123; // several download chunks (1 MiB on Azure)
        await Store.WriteAsync("big/stream.bin", new DeterministicStream(7, length));
        await using (var whole = await Store.OpenReadAsync("big/stream.bin"))
            Assert.Equal(DeterministicStream.Sha256(7, 0, length), await Sha256Of(whole));
        await using (var range = await Store.OpenReadAsync("big/stream.bin", 1_234_567, 2_000_000))
            Assert.Equal(DeterministicStream.Sha256(7, 1_234_567, 2_000_000), await Sha256Of(range));
    }

    [Fact]
    public async Task LargeUpload_InBlocks_ComesBackIdentical()
    {
        const long length = 20 * 1024 * 1024 + 17; // 4 MiB blocks on Azure: 6 blocks, the last one short
        var written = await Store.WriteAsync("big/blocks.bin", new DeterministicStream(11, length),
            new BlobWriteOptions { Metadata = new Dictionary<string, string> { ["kind"] = "blocks" } });
        Assert.Equal(length, written.Length);
        var properties = (await Store.GetPropertiesAsync("big/blocks.bin"))!;
        Assert.Equal(length, properties.Length);
        Assert.Equal("blocks", properties.Metadata["kind"]);
        await using var read = await Store.OpenReadAsync("big/blocks.bin");
        Assert.Equal(DeterministicStream.Sha256(11, 0, length), await Sha256Of(read));
    }

    [Fact]
    public async Task Listing_ByPrefix_WithDelimiter_AndPaging()
    {
        var names = Enumerable.Range(0, 12).Select(i => $"list/item-{i:D2}")
            .Concat(["list/sub/a", "list/sub/deeper/b", "list/sub2/x", "listing-other"]).ToList();
        await Task.WhenAll(names.Select(n => Store.WriteBytesAsync(n, Utf8(n))));

        // Flat listing, 5 per page: every name under "list/" in order.
        var flat = new List<string>();
        var pages = 0;
        string? continuation = null;
        do
        {
            var page = await Store.ListPageAsync("list/", null, continuation, 5);
            Assert.Empty(page.Prefixes);
            Assert.True(page.Blobs.Count <= 5);
            flat.AddRange(page.Blobs.Select(b => b.Path));
            continuation = page.Continuation;
            pages++;
        } while (continuation != null);
        Assert.Equal(names.Where(n => n.StartsWith("list/")).Order(StringComparer.Ordinal), flat);
        Assert.Equal(3, pages);

        // With the delimiter: 12 blobs and 2 rolled-up prefixes, in pages of 5.
        var blobs = new List<string>();
        var prefixes = new List<string>();
        continuation = null;
        do
        {
            var page = await Store.ListPageAsync("list/", "/", continuation, 5);
            Assert.True(page.Blobs.Count + page.Prefixes.Count <= 5);
            blobs.AddRange(page.Blobs.Select(b => b.Path));
            prefixes.AddRange(page.Prefixes);
            continuation = page.Continuation;
        } while (continuation != null);
        Assert.Equal(names.Take(12), blobs);
        Assert.Equal(["list/sub/", "list/sub2/"], prefixes);

        // A page boundary right after a prefix must not repeat it or its contents.
        var first = await Store.ListPageAsync("list/", "/", null, 13);
        Assert.Equal(["list/sub/"], first.Prefixes);
        var second = await Store.ListPageAsync("list/", "/", first.Continuation, 13);
        Assert.Empty(second.Blobs);
        Assert.Equal(["list/sub2/"], second.Prefixes);
        Assert.Null(second.Continuation);

        var partial = await Store.ListPageAsync("list/item-1");
        Assert.Equal(["list/item-10", "list/item-11"], partial.Blobs.Select(b => b.Path));
        var top = await Store.ListPageAsync("", "/");
        Assert.Equal(["listing-other"], top.Blobs.Select(b => b.Path));
        Assert.Equal(["list/"], top.Prefixes);
        Assert.Empty((await Store.ListPageAsync("nothing/")).Blobs);
        Assert.Equal(16, await Store.ListAllAsync("").CountAsync());
    }

    [Fact]
    public async Task Delete_IsConditional_AndReportsAbsence()
    {
        var v1 = await Store.WriteBytesAsync("del/x", Utf8("1"));
        var v2 = await Store.WriteBytesAsync("del/x", Utf8("2"));
        await Assert.ThrowsAsync<BlobConditionFailedException>(() => Store.DeleteAsync("del/x", v1.ETag));
        Assert.True(await Store.DeleteAsync("del/x", v2.ETag));
        Assert.Null(await Store.GetPropertiesAsync("del/x"));
        Assert.False(await Store.DeleteAsync("del/x"));
        await Assert.ThrowsAsync<BlobConditionFailedException>(() => Store.DeleteAsync("del/x", v2.ETag));
        Assert.Empty((await Store.ListPageAsync("del/")).Blobs);
    }

    [Fact]
    public async Task Leases_AcquireRenewReleaseBreak()
    {
        await Store.WriteBytesAsync("locks/shard-0", ReadOnlyMemory<byte>.Empty);
        var id = await Store.TryAcquireLeaseAsync("locks/shard-0", ShortLease);
        Assert.NotNull(id);
        Assert.Null(await Store.TryAcquireLeaseAsync("locks/shard-0", ShortLease));
        Assert.Equal("leased", (await Store.GetPropertiesAsync("locks/shard-0"))!.LeaseState);

        await Assert.ThrowsAsync<BlobConditionFailedException>(() => Store.WriteBytesAsync("locks/shard-0", Utf8("no lease")));
        await Assert.ThrowsAsync<BlobLeaseLostException>(() => Store.WriteBytesAsync("locks/shard-0", Utf8("wrong"),
            new BlobWriteOptions { LeaseId = Guid.NewGuid().ToString() }));
        await Assert.ThrowsAsync<BlobConditionFailedException>(() => Store.DeleteAsync("locks/shard-0"));
        var written = await Store.WriteBytesAsync("locks/shard-0", Utf8("mine"), new BlobWriteOptions { LeaseId = id });
        Assert.Equal("leased", (await Store.GetPropertiesAsync("locks/shard-0"))!.LeaseState);
        await Store.WriteBytesAsync("locks/shard-0", Utf8("cas"), BlobWriteOptions.IfMatch(written.ETag) with { LeaseId = id });

        await Store.RenewLeaseAsync("locks/shard-0", id!);
        await Store.ReleaseLeaseAsync("locks/shard-0", id!);
        await Store.ReleaseLeaseAsync("locks/shard-0", id!); // already released: not an error
        Assert.Equal("available", (await Store.GetPropertiesAsync("locks/shard-0"))!.LeaseState);

        var second = await Store.TryAcquireLeaseAsync("locks/shard-0", null);
        Assert.NotNull(second);
        await Store.BreakLeaseAsync("locks/shard-0", TimeSpan.Zero);
        Assert.Equal("broken", (await Store.GetPropertiesAsync("locks/shard-0"))!.LeaseState);
        await Assert.ThrowsAsync<BlobLeaseLostException>(() => Store.RenewLeaseAsync("locks/shard-0", second!));
        await Store.WriteBytesAsync("locks/shard-0", Utf8("free again"));
        var third = await Store.TryAcquireLeaseAsync("locks/shard-0", ShortLease, "0f8fad5b-d9cb-469f-a165-70867728950e");
        Assert.Equal("0f8fad5b-d9cb-469f-a165-70867728950e", third);
        await Store.ReleaseLeaseAsync("locks/shard-0", third!);
        Assert.True(await Store.DeleteAsync("locks/shard-0"));
    }

    [Fact]
    public async Task Lease_Expires_SoACrashedHolderNeverBlocks()
    {
        await Store.WriteBytesAsync("locks/crashed", ReadOnlyMemory<byte>.Empty);
        var crashed = await Store.TryAcquireLeaseAsync("locks/crashed", ShortLease);
        Assert.NotNull(crashed);
        await Task.Delay(ShortLease + TimeSpan.FromSeconds(1.5));
        Assert.Equal("expired", (await Store.GetPropertiesAsync("locks/crashed"))!.LeaseState);
        var next = await Store.TryAcquireLeaseAsync("locks/crashed", ShortLease);
        Assert.NotNull(next);
        await Assert.ThrowsAsync<BlobLeaseLostException>(() => Store.RenewLeaseAsync("locks/crashed", crashed!));
        await Store.ReleaseLeaseAsync("locks/crashed", next!);
    }

    [Fact]
    public async Task LeaseHolder_HoldsTheClaim_SignalsLoss_AndReleasesOnDispose()
    {
        await using (var holder = await LeaseHolder.TryAcquireAsync(Store, "locks/stage/artifact", ShortLease))
        {
            Assert.NotNull(holder);
            Assert.Null(await LeaseHolder.TryAcquireAsync(Store, "locks/stage/artifact", ShortLease));
            await Store.WriteBytesAsync("locks/stage/artifact", Utf8("progress"), holder.WriteOptions());
            await Store.BreakLeaseAsync("locks/stage/artifact", TimeSpan.Zero);
            // The next renewal (a third of the duration) finds the lease broken; the wait ends as soon as it
            // does, and allows a busy machine's scheduler a late renewal.
            await Task.Delay(ShortLease * 3, holder.LeaseLost).ContinueWith(_ => { });
            Assert.True(holder.IsLost);
        }
        await using (var next = await LeaseHolder.TryAcquireAsync(Store, "locks/stage/artifact", ShortLease))
        {
            Assert.NotNull(next);
            Assert.False(next.IsLost);
        }
        Assert.Equal("available", (await Store.GetPropertiesAsync("locks/stage/artifact"))!.LeaseState);
    }

    [Fact]
    public async Task MissingBlobs_AreReportedAsNotFound()
    {
        Assert.Null(await Store.GetPropertiesAsync("missing/blob"));
        Assert.False(await Store.ExistsAsync("missing/blob"));
        await Assert.ThrowsAsync<BlobNotFoundException>(() => Store.ReadRangeAsync("missing/blob", 0, new byte[10]));
        await Assert.ThrowsAsync<BlobNotFoundException>(() => Store.OpenReadAsync("missing/blob"));
        await Assert.ThrowsAsync<BlobNotFoundException>(() => Store.TryAcquireLeaseAsync("missing/blob", ShortLease));
        await Assert.ThrowsAsync<BlobNotFoundException>(() => Store.BreakLeaseAsync("missing/blob", TimeSpan.Zero));
        Assert.False(await Store.DeleteAsync("missing/blob"));
        var e = await Assert.ThrowsAsync<BlobNotFoundException>(() => Store.ReadAllBytesAsync("missing/blob"));
        Assert.EndsWith("missing/blob", e.Path);
    }

    [Fact]
    public async Task Names_WithSpacesAndUnicode_RoundTrip()
    {
        const string name = "odd names/a b+c%d ü€ (1).bin";
        await Store.WriteBytesAsync(name, Utf8("odd"));
        Assert.Equal("odd", await ReadText(name));
        Assert.Equal([name], (await Store.ListPageAsync("odd names/")).Blobs.Select(b => b.Path));
        Assert.True(await Store.DeleteAsync(name));
    }

    [Fact]
    public async Task InvalidPathsAndMetadata_AreRejectedUpFront()
    {
        foreach (var bad in new[] { "/abs", "trailing/", "a//b", "a/../b", "a\\b", "" })
            await Assert.ThrowsAsync<ArgumentException>(() => Store.WriteBytesAsync(bad, Utf8("x")));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.WriteBytesAsync("m", Utf8("x"),
            new BlobWriteOptions { Metadata = new Dictionary<string, string> { ["Upper"] = "x" } }));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.WriteBytesAsync("m", Utf8("x"),
            new BlobWriteOptions { Metadata = new Dictionary<string, string> { ["k"] = "ü" } }));
    }

    protected static async Task<byte[]> ReadToEnd(Stream stream)
    {
        using var memory = new MemoryStream();
        await stream.CopyToAsync(memory);
        return memory.ToArray();
    }

    protected static async Task<byte[]> Sha256Of(Stream stream)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0) sha.AppendData(buffer, 0, n);
        return sha.GetHashAndReset();
    }
}

public sealed class LocalFolderStoreContractTests : BlobStoreContractTests, IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("blobstore-").FullName;
    readonly LocalFolderStore _store;

    public LocalFolderStoreContractTests() => _store = new LocalFolderStore(_root);

    protected override IBlobStore Store => _store;

    protected override TimeSpan ShortLease => TimeSpan.FromSeconds(1.5);

    public void Dispose()
    {
        _store.Dispose();
        Directory.Delete(_root, recursive: true);
    }
}

[Collection(AzuriteCollection.Name)]
public sealed class AzureBlobStoreContractTests(AzuriteFixture azurite) : BlobStoreContractTests, IDisposable
{
    readonly AzureBlobStore _store = azurite.CreateStore(new AzureBlobStoreOptions
    {
        BlockSize = 4 * 1024 * 1024,
        DownloadChunkSize = 1024 * 1024,
        AttemptTimeout = TimeSpan.FromSeconds(30),
    });

    protected override IBlobStore Store => _store;

    protected override TimeSpan ShortLease => TimeSpan.FromSeconds(15);

    public void Dispose() => _store.Dispose();
}
