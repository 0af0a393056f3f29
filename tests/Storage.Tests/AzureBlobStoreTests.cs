using System.Text;
using Dreamer.Storage.Azure;

namespace Dreamer.Storage.Tests;

/// <summary>Azure-only behaviour against Azurite: credentials, SAS, connection strings, prefixes.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class AzureBlobStoreTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task ServiceSas_GrantsAccess_AndATamperedOneIsDenied_WithoutLeakingTheSignature()
    {
        using var owner = azurite.CreateStore();
        await owner.WriteBytesAsync("seed", "x"u8.ToArray()); // creates the container: a container SAS cannot
        var token = owner.Account.CreateServiceSas(owner.Container, null, "racwdl", DateTimeOffset.UtcNow.AddHours(1));
        var sasAccount = AzureStorageAccount.FromSas(AzureStorageAccount.DevelopmentAccountName, token, azurite.BlobEndpoint);

        using var viaSas = new AzureBlobStore(sasAccount, owner.Container);
        await viaSas.WriteBytesAsync("sas/a.txt", "via sas"u8.ToArray(), BlobWriteOptions.CreateOnly);
        Assert.Equal("via sas", Encoding.UTF8.GetString(await viaSas.ReadAllBytesAsync("sas/a.txt")));
        Assert.Equal(["sas/a.txt"], (await viaSas.ListPageAsync("sas/")).Blobs.Select(b => b.Path));
        var lease = await viaSas.TryAcquireLeaseAsync("sas/a.txt", TimeSpan.FromSeconds(15));
        await viaSas.ReleaseLeaseAsync("sas/a.txt", lease!);
        Assert.True(await viaSas.DeleteAsync("sas/a.txt"));

        var signature = Uri.UnescapeDataString(token.Split('&').Single(p => p.StartsWith("sig=")).Split('=', 2)[1]);
        var forged = token.Replace("sp=racwdl", "sp=r");
        using var tampered = new AzureBlobStore(
            AzureStorageAccount.FromSas(AzureStorageAccount.DevelopmentAccountName, forged, azurite.BlobEndpoint, "AZURE_STORAGE_SAS_TOKEN"),
            owner.Container);
        var denied = await Assert.ThrowsAsync<BlobStoreAccessDeniedException>(() => tampered.ReadAllBytesAsync("seed"));
        Assert.Contains("AZURE_STORAGE_SAS_TOKEN", denied.Message);
        Assert.DoesNotContain(signature, denied.ToString());
        Assert.DoesNotContain(Uri.EscapeDataString(signature), denied.ToString());
        Assert.DoesNotContain("sig=", tampered.DisplayUri);
    }

    [Fact]
    public async Task WrongKey_IsAccessDenied_NamingTheSetting_NotTheKey()
    {
        var wrongKey = Convert.ToBase64String(Enumerable.Repeat((byte)7, 64).ToArray());
        using var store = new AzureBlobStore(
            AzureStorageAccount.FromSharedKey(AzureStorageAccount.DevelopmentAccountName, wrongKey, azurite.BlobEndpoint, "AZURE_STORAGE_KEY"),
            "wrongkey");
        var e = await Assert.ThrowsAsync<BlobStoreAccessDeniedException>(() => store.WriteBytesAsync("x", "x"u8.ToArray()));
        Assert.Contains("AZURE_STORAGE_KEY", e.Message);
        Assert.DoesNotContain(wrongKey, e.ToString());
        Assert.Equal(0, store.Statistics.Retries); // 403 is never retried
    }

    [Fact]
    public async Task ConnectionString_WithContainerAndPrefix_ScopesEveryPath()
    {
        var container = "c" + Guid.NewGuid().ToString("N");
        using var scoped = BlobStores.Open(azurite.ConnectionString + $"Container={container};Prefix=runs/nightly");
        await scoped.WriteBytesAsync("artifacts/a/_manifest.json", "{}"u8.ToArray(), BlobWriteOptions.CreateOnly);
        Assert.Equal(["artifacts/"], (await scoped.ListPageAsync("", "/")).Prefixes);

        using var raw = new AzureBlobStore(azurite.Account, container);
        Assert.Equal(["runs/nightly/artifacts/a/_manifest.json"], (await raw.ListPageAsync("")).Blobs.Select(b => b.Path));

        using var viaUrl = BlobStores.Open($"{azurite.BlobEndpoint}/{container}/runs",
            new BlobStoreOpenOptions { GetEnvironmentVariable = n => n == "AZURE_STORAGE_KEY" ? AzureStorageAccount.DevelopmentAccountKey : null });
        Assert.Equal(["nightly/artifacts/a/_manifest.json"], await viaUrl.ListAllAsync("").Select(b => b.Path).ToListAsync());
    }

    [Fact]
    public async Task ListingAMissingContainer_IsEmpty_AndReadsAreNotFound()
    {
        using var store = azurite.CreateStore();
        Assert.Empty((await store.ListPageAsync("")).Blobs);
        Assert.Null(await store.GetPropertiesAsync("x"));
        await Assert.ThrowsAsync<BlobNotFoundException>(() => store.OpenReadAsync("x"));
    }
}
