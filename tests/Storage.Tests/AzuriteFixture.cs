using Dreamer.Storage.Azure;
using Dreamer.Storage.Emulator;

namespace Dreamer.Storage.Tests;

/// <summary>
/// One Azurite blob service (<see cref="AzuriteProcess"/>: infra/tools, free loopback port, temporary
/// workspace) per test collection, torn down afterwards.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    AzuriteProcess? _azurite;

    AzuriteProcess Azurite => _azurite ?? throw new InvalidOperationException("Azurite is not started");

    public int Port => Azurite.Port;

    /// <summary>Path-style endpoint, as for any emulator: http://127.0.0.1:port/devstoreaccount1.</summary>
    public Uri BlobEndpoint => Azurite.BlobEndpoint;

    public AzureStorageAccount Account => Azurite.Account;

    public string ConnectionString => Azurite.ConnectionString;

    /// <summary>A store on a fresh container, so tests never see each other's blobs.</summary>
    public AzureBlobStore CreateStore(AzureBlobStoreOptions? options = null, AzureStorageAccount? account = null)
        => new(account ?? Account, "c" + Guid.NewGuid().ToString("N"), options);

    public async Task InitializeAsync() => _azurite = await AzuriteProcess.StartAsync();

    public async Task DisposeAsync()
    {
        if (_azurite != null) await _azurite.DisposeAsync();
        _azurite = null;
    }
}

[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite";
}

/// <summary>Its own Azurite, so the slow fault-injection runs beside the contract suite instead of after it.</summary>
[CollectionDefinition(Name)]
public sealed class AzuriteFaultsCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite faults";
}
