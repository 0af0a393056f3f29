using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Dreamer.Storage.Azure;

namespace Dreamer.Storage.Emulator;

public sealed record AzuriteOptions
{
    /// <summary>Keep blobs in Azurite's memory instead of the temporary workspace folder.</summary>
    public bool InMemoryPersistence { get; init; }

    /// <summary>How long one start attempt may take until the port accepts connections.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The repository root (the folder holding Pipeline.sln); null: found above AppContext.BaseDirectory.</summary>
    public string? RepoRoot { get; init; }
}

/// <summary>
/// Azurite's blob service (infra/tools, installed by infra/setup.sh) running on a free loopback port with a
/// temporary workspace, for tests and benchmarks. <see cref="StartAsync"/> returns once the port accepts
/// connections; disposing stops the whole process tree and deletes the workspace. A process that exits
/// without disposing (a crash, Ctrl+C) still takes Azurite down through a ProcessExit hook.
/// </summary>
public sealed class AzuriteProcess : IAsyncDisposable, IDisposable
{
    const string ExecutableRelativePath = "infra/tools/node_modules/.bin/azurite-blob";
    const int StartAttempts = 3;

    readonly List<string> _output = [];
    readonly string _workspace;
    Process? _process;
    int _disposed;

    AzuriteProcess(string workspace) => _workspace = workspace;

    /// <summary>The loopback port the blob service listens on.</summary>
    public int Port { get; private set; }

    /// <summary>The temporary workspace (--location), deleted on dispose.</summary>
    public string Location => _workspace;

    /// <summary>Path-style endpoint, as for any emulator: http://127.0.0.1:port/devstoreaccount1.</summary>
    public Uri BlobEndpoint => new(string.Create(CultureInfo.InvariantCulture,
        $"http://127.0.0.1:{Port}/{AzureStorageAccount.DevelopmentAccountName}"));

    /// <summary>The well-known development account (Shared Key) at this instance's endpoint.</summary>
    public AzureStorageAccount Account => AzureStorageAccount.FromSharedKey(
        AzureStorageAccount.DevelopmentAccountName, AzureStorageAccount.DevelopmentAccountKey, BlobEndpoint);

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={AzureStorageAccount.DevelopmentAccountName};" +
        $"AccountKey={AzureStorageAccount.DevelopmentAccountKey};BlobEndpoint={BlobEndpoint};";

    /// <summary>The last lines Azurite printed (it runs with --silent, so mostly start-up errors).</summary>
    public IReadOnlyList<string> RecentOutput
    {
        get { lock (_output) return _output.TakeLast(30).ToList(); }
    }

    /// <summary>
    /// The folder holding Pipeline.sln, walking up from AppContext.BaseDirectory (where the repository's own
    /// builds put their binaries), then from the current directory (a tool built outside the repository).
    /// </summary>
    public static string FindRepoRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln"))) return dir.FullName;
        throw new InvalidOperationException(
            $"cannot find the repository (no Pipeline.sln in or above {AppContext.BaseDirectory} or " +
            $"{Environment.CurrentDirectory}), so not its Azurite either: run from the repository");
    }

    /// <summary>Path of the azurite-blob launcher, or an error telling to run infra/setup.sh.</summary>
    public static string FindExecutable(string? repoRoot = null)
    {
        var root = repoRoot ?? FindRepoRoot();
        var executable = Path.Combine(root, ExecutableRelativePath);
        if (!File.Exists(executable))
            throw new InvalidOperationException(
                $"Azurite is not installed ({executable} is missing): run infra/setup.sh (it runs npm ci in infra/tools)");
        return executable;
    }

    /// <summary>A port that was free on 127.0.0.1 a moment ago (bind port 0, release).</summary>
    public static int FreeLoopbackPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try { return ((IPEndPoint)listener.LocalEndpoint).Port; }
        finally { listener.Stop(); }
    }

    public static async Task<AzuriteProcess> StartAsync(AzuriteOptions? options = null, CancellationToken ct = default)
    {
        options ??= new AzuriteOptions();
        var executable = FindExecutable(options.RepoRoot);
        var azurite = new AzuriteProcess(Directory.CreateTempSubdirectory("azurite-").FullName);
        try
        {
            await azurite.StartProcessAsync(executable, options, ct).ConfigureAwait(false);
            AppDomain.CurrentDomain.ProcessExit += azurite.OnProcessExit;
            return azurite;
        }
        catch
        {
            azurite.Dispose();
            throw;
        }
    }

    async Task StartProcessAsync(string executable, AzuriteOptions options, CancellationToken ct)
    {
        // The free port is found by binding port 0 and releasing it; another process could grab it in
        // between, so a failed start is retried on a new port.
        for (var attempt = 1; ; attempt++)
        {
            Port = FreeLoopbackPort();
            _process = Launch(executable, options);
            if (await WaitUntilListeningAsync(_process, Port, options.StartTimeout, ct).ConfigureAwait(false)) return;
            StopProcess();
            if (attempt == StartAttempts)
                throw new InvalidOperationException(
                    $"Azurite did not start on 127.0.0.1:{Port} ({executable}):\n{string.Join('\n', RecentOutput)}");
        }
    }

    Process Launch(string executable, AzuriteOptions options)
    {
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // Whatever Azurite writes relative to its working directory lands in the workspace too.
            WorkingDirectory = _workspace,
        };
        var args = new List<string>
        {
            "--blobHost", "127.0.0.1", "--blobPort", Port.ToString(CultureInfo.InvariantCulture),
            "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry",
        };
        // Azurite refuses --location together with --inMemoryPersistence.
        args.AddRange(options.InMemoryPersistence ? ["--inMemoryPersistence"] : ["--location", _workspace]);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {executable}");
        process.OutputDataReceived += (_, e) => Record(e.Data);
        process.ErrorDataReceived += (_, e) => Record(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    void Record(string? line)
    {
        if (line == null) return;
        lock (_output)
        {
            _output.Add(line);
            if (_output.Count > 200) _output.RemoveRange(0, 100);
        }
    }

    static async Task<bool> WaitUntilListeningAsync(Process process, int port, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && !process.HasExited)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port, ct).ConfigureAwait(false);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(100, ct).ConfigureAwait(false);
            }
        }
        return false;
    }

    void StopProcess()
    {
        var process = Interlocked.Exchange(ref _process, null);
        if (process == null) return;
        try
        {
            // node_modules/.bin/azurite-blob may run node as a child: take down the whole tree.
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
        catch (InvalidOperationException) { }
        catch (System.ComponentModel.Win32Exception) { }
        process.Dispose();
    }

    void OnProcessExit(object? sender, EventArgs e) => StopProcess();

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        StopProcess();
        try { Directory.Delete(_workspace, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
