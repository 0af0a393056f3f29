using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Dreamer.Storage.Azure;
using Xunit.Abstractions;

namespace Dreamer.Storage.Tests;

/// <summary>
/// The Azure store behind a proxy that fails about 20% of requests must still move data correctly, and a
/// create-only write whose response is lost must not be reported as a conflict.
/// </summary>
[Collection(AzuriteFaultsCollection.Name)]
public sealed class FaultInjectionTests(AzuriteFixture azurite, ITestOutputHelper output)
{
    static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(3);

    AzureBlobStore StoreThrough(FaultInjectingProxy proxy, string container, int blockSize = 16 << 20) => new(
        AzureStorageAccount.FromSharedKey(AzureStorageAccount.DevelopmentAccountName, AzureStorageAccount.DevelopmentAccountKey,
            new Uri($"http://127.0.0.1:{proxy.Port}/{AzureStorageAccount.DevelopmentAccountName}")),
        container,
        new AzureBlobStoreOptions
        {
            BlockSize = blockSize,
            UploadParallelism = 4,
            DownloadChunkSize = 16 << 20,
            DownloadParallelism = 3,
            MaxRetries = 10,
            RetryBaseDelay = TimeSpan.FromMilliseconds(50),
            RetryMaxDelay = TimeSpan.FromSeconds(1),
            AttemptTimeout = AttemptTimeout,
        });

    [Fact]
    public async Task LargeUpload_RangedDownload_AndBigListing_SurviveTwentyPercentFailures()
    {
        await using var proxy = new FaultInjectingProxy(azurite.Port, failureRate: 0.2, seed: 20260601,
            stall: AttemptTimeout + TimeSpan.FromSeconds(0.5));
        var container = "faults" + Guid.NewGuid().ToString("N")[..12];
        using var store = StoreThrough(proxy, container);

        // 200 MB generated on the fly: never in memory as a whole, only as in-flight 16 MiB blocks.
        const long length = 200L * 1000 * 1000;
        const ulong seed = 99;
        var clock = Stopwatch.StartNew();
        var written = await store.WriteAsync("big/blob.bin", new DeterministicStream(seed, length),
            new BlobWriteOptions { Metadata = new Dictionary<string, string> { ["purpose"] = "faults" } });
        var uploadTime = clock.Elapsed;
        Assert.Equal(length, written.Length);
        Assert.Equal(length, (await store.GetPropertiesAsync("big/blob.bin"))!.Length);

        clock.Restart();
        const long offset = 33_333_333, rangeLength = 150_000_000;
        await using (var range = await store.OpenReadAsync("big/blob.bin", offset, rangeLength))
            Assert.Equal(DeterministicStream.Sha256(seed, offset, rangeLength), await HashOf(range));
        var downloadTime = clock.Elapsed;
        var buffer = new byte[1000];
        Assert.Equal(1000, await store.ReadRangeAsync("big/blob.bin", length - 2000, buffer));
        Assert.Equal(DeterministicStream.Sha256(seed, length - 2000, 1000), SHA256.HashData(buffer));

        // 5,000 small blobs written directly (the proxy's stalls would only slow this down), listed through it.
        clock.Restart();
        using (var direct = new AzureBlobStore(azurite.Account, container))
        {
            using var gate = new SemaphoreSlim(32);
            await Task.WhenAll(Enumerable.Range(0, 5000).Select(async i =>
            {
                await gate.WaitAsync();
                try { await direct.WriteBytesAsync($"many/{i:D5}", Encoding.ASCII.GetBytes(i.ToString())); }
                finally { gate.Release(); }
            }));
        }
        var createTime = clock.Elapsed;
        clock.Restart();
        var listed = new List<string>();
        string? continuation = null;
        do
        {
            var page = await store.ListPageAsync("many/", null, continuation, 500);
            listed.AddRange(page.Blobs.Select(b => b.Path));
            continuation = page.Continuation;
        } while (continuation != null);
        var listTime = clock.Elapsed;
        Assert.Equal(Enumerable.Range(0, 5000).Select(i => $"many/{i:D5}"), listed);

        output.WriteLine($"proxy: {proxy}");
        output.WriteLine($"client: {store.Statistics.Attempts} attempts, {store.Statistics.Retries} retries");
        output.WriteLine($"upload 200 MB {uploadTime.TotalSeconds:F1} s, ranged download 150 MB {downloadTime.TotalSeconds:F1} s, " +
                         $"list 5,000 in pages of 500 {listTime.TotalSeconds:F1} s (created directly in {createTime.TotalSeconds:F1} s)");
        // SocketsHttpHandler itself may transparently resend a request whose connection died before any
        // response byte, so retries can be a little below the failures the proxy injected.
        Assert.True(proxy.Failed > 0 && store.Statistics.Retries > 0, $"no injected failure was retried: {proxy}");
    }

    [Fact]
    public async Task LostResponse_OfACreateOnlyWrite_IsRecognisedAsOurOwn_ButARealConflictStillFails()
    {
        await using var proxy = new FaultInjectingProxy(azurite.Port, failureRate: 0, seed: 1, stall: TimeSpan.Zero);
        var container = "lost" + Guid.NewGuid().ToString("N")[..12];
        using var store = StoreThrough(proxy, container);
        using var direct = new AzureBlobStore(azurite.Account, container);
        static bool IsCreateOnlyPut(FaultInjectingProxy.RequestHead head, string name) =>
            head.Method == "PUT" && head.Target.Contains(name) && head.Headers.GetValueOrDefault("if-none-match") == "*";

        // Our create-only write lands, its answer is lost, the retry meets our own blob (409): success.
        proxy.DropResponseOnce(head => IsCreateOnlyPut(head, "a/_manifest.json"));
        var written = await store.WriteBytesAsync("a/_manifest.json", "ours"u8.ToArray(), BlobWriteOptions.CreateOnly);
        Assert.Equal(1, proxy.Count(FaultInjectingProxy.Fate.ResetAfterForward));
        Assert.Equal(1, store.Statistics.Retries);
        Assert.Equal("ours", Encoding.UTF8.GetString(await direct.ReadAllBytesAsync("a/_manifest.json")));
        Assert.Equal(written.ETag, (await direct.GetPropertiesAsync("a/_manifest.json"))!.ETag);
        Assert.Empty(written.Metadata); // the write id is bookkeeping, not user metadata

        // A genuine conflict stays a conflict, with or without a lost response on the way.
        await Assert.ThrowsAsync<BlobConditionFailedException>(
            () => store.WriteBytesAsync("a/_manifest.json", "again"u8.ToArray(), BlobWriteOptions.CreateOnly));
        await direct.WriteBytesAsync("b/_manifest.json", "theirs"u8.ToArray(), BlobWriteOptions.CreateOnly);
        proxy.DropResponseOnce(head => IsCreateOnlyPut(head, "b/_manifest.json"));
        await Assert.ThrowsAsync<BlobConditionFailedException>(
            () => store.WriteBytesAsync("b/_manifest.json", "ours"u8.ToArray(), BlobWriteOptions.CreateOnly));
        Assert.Equal("theirs", Encoding.UTF8.GetString(await direct.ReadAllBytesAsync("b/_manifest.json")));

        // The same for compare-and-swap: the retry sees 412 because our own write changed the ETag.
        var latest = await store.WriteBytesAsync("ckpt/LATEST", "step-1"u8.ToArray());
        proxy.DropResponseOnce(head => head.Method == "PUT" && head.Target.Contains("ckpt/LATEST"));
        await store.WriteBytesAsync("ckpt/LATEST", "step-2"u8.ToArray(), BlobWriteOptions.IfMatch(latest.ETag));
        Assert.Equal("step-2", Encoding.UTF8.GetString(await direct.ReadAllBytesAsync("ckpt/LATEST")));
        Assert.Equal(3, proxy.Count(FaultInjectingProxy.Fate.ResetAfterForward));

        // Blocks: a create-only upload in 1 MiB blocks whose commit (Put Block List) answer is lost.
        using var blocks = StoreThrough(proxy, container, blockSize: 1 << 20);
        proxy.DropResponseOnce(head => head.Target.Contains("comp=blocklist"));
        await blocks.WriteAsync("c/big.bin", new DeterministicStream(5, 3 << 20), BlobWriteOptions.CreateOnly);
        Assert.Equal(4, proxy.Count(FaultInjectingProxy.Fate.ResetAfterForward));
        Assert.Equal(3L << 20, (await direct.GetPropertiesAsync("c/big.bin"))!.Length);
        output.WriteLine($"proxy: {proxy}; client retries {store.Statistics.Retries + blocks.Statistics.Retries}");
    }

    static async Task<byte[]> HashOf(Stream stream)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0) sha.AppendData(buffer, 0, n);
        return sha.GetHashAndReset();
    }
}
