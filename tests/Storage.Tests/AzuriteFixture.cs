using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Dreamer.Storage.Azure;

namespace Dreamer.Storage.Tests;

/// <summary>
/// Runs Azurite's blob service (infra/tools, pinned 3.35.0) on a free loopback port with a temporary
/// workspace for one test collection, and tears both down afterwards.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    Process? _process;
    string? _workspace;
    readonly List<string> _output = [];

    public int Port { get; private set; }

    /// <summary>Path-style endpoint, as for any emulator: http://127.0.0.1:port/devstoreaccount1.</summary>
    public Uri BlobEndpoint => new($"http://127.0.0.1:{Port}/{AzureStorageAccount.DevelopmentAccountName}");

    public AzureStorageAccount Account => AzureStorageAccount.FromSharedKey(
        AzureStorageAccount.DevelopmentAccountName, AzureStorageAccount.DevelopmentAccountKey, BlobEndpoint);

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={AzureStorageAccount.DevelopmentAccountName};" +
        $"AccountKey={AzureStorageAccount.DevelopmentAccountKey};BlobEndpoint={BlobEndpoint};";

    /// <summary>A store on a fresh container, so tests never see each other's blobs.</summary>
    public AzureBlobStore CreateStore(AzureBlobStoreOptions? options = null, AzureStorageAccount? account = null)
        => new(account ?? Account, "c" + Guid.NewGuid().ToString("N"), options);

    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln"))) return dir.FullName;
            throw new InvalidOperationException($"no Pipeline.sln above {AppContext.BaseDirectory}");
        }
    }

    public async Task InitializeAsync()
    {
        var executable = Path.Combine(RepoRoot, "infra", "tools", "node_modules", ".bin", "azurite-blob");
        if (!File.Exists(executable))
            throw new InvalidOperationException($"Azurite is not installed ({executable} missing): run infra/setup.sh first.");
        _workspace = Directory.CreateTempSubdirectory("azurite-").FullName;

        // The free port is found by binding port 0 and releasing it; another process could grab it in
        // between, so a failed start is retried on a new port.
        for (var attempt = 1; ; attempt++)
        {
            Port = FreeLoopbackPort();
            _process = StartAzurite(executable, Port, _workspace);
            if (await WaitUntilListeningAsync(_process, Port, TimeSpan.FromSeconds(30))) return;
            StopProcess();
            if (attempt == 3)
                throw new InvalidOperationException($"Azurite did not start on 127.0.0.1:{Port}:\n{string.Join('\n', _output.TakeLast(30))}");
        }
    }

    Process StartAzurite(string executable, int port, string workspace)
    {
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "--blobHost", "127.0.0.1", "--blobPort", port.ToString(), "--location", workspace,
                     "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry",
                 })
            info.ArgumentList.Add(arg);
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (_output) _output.Add(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_output) _output.Add(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    static async Task<bool> WaitUntilListeningAsync(Process process, int port, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && !process.HasExited)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }
        return false;
    }

    public static int FreeLoopbackPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    void StopProcess()
    {
        if (_process == null) return;
        try
        {
            // node_modules/.bin/azurite-blob may run node as a child: take down the whole tree.
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
        _process = null;
    }

    public Task DisposeAsync()
    {
        StopProcess();
        if (_workspace != null)
        {
            try { Directory.Delete(_workspace, recursive: true); } catch (IOException) { }
        }
        return Task.CompletedTask;
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
