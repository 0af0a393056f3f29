namespace Dreamer.Hosting;

/// <summary>
/// A stage process's local scratch folder under {temp}/dreamer-scratch/{name}-{random}. The folder holds a
/// lock file opened exclusively for as long as its owner lives (the OS drops the lock when a process dies,
/// even by SIGKILL), so creating a new one first removes every sibling whose lock can be taken: what a
/// killed run left behind is cleaned by the next run. Dispose deletes the folder.
/// </summary>
public sealed class ScratchDirectory : IDisposable
{
    private const string LockName = ".owner.lock";
    private readonly FileStream _lock;

    public string Path { get; }

    private ScratchDirectory(string path, FileStream ownerLock)
    {
        Path = path;
        _lock = ownerLock;
    }

    /// <summary>The parent of every scratch folder; DREAMER_SCRATCH overrides the system temp folder.</summary>
    public static string Root =>
        System.IO.Path.Combine(Environment.GetEnvironmentVariable("DREAMER_SCRATCH") is { Length: > 0 } root ? root : System.IO.Path.GetTempPath(),
            "dreamer-scratch");

    /// <param name="name">Prefix of the folder name, e.g. the stage: "ingest".</param>
    /// <param name="root">Parent folder (default <see cref="Root"/>).</param>
    public static ScratchDirectory Create(string name, string? root = null)
    {
        root ??= Root;
        if (string.IsNullOrWhiteSpace(name) || name.IndexOfAny(System.IO.Path.GetInvalidFileNameChars()) >= 0)
            throw new ArgumentException($"scratch name '{name}' must be a plain file name", nameof(name));
        Directory.CreateDirectory(root);
        RemoveAbandoned(root);
        var path = System.IO.Path.Combine(root, $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        var ownerLock = new FileStream(System.IO.Path.Combine(path, LockName), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        return new ScratchDirectory(path, ownerLock);
    }

    /// <summary>A file path inside the folder.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Deletes every scratch folder whose owner is gone; returns how many.</summary>
    public static int RemoveAbandoned(string? root = null)
    {
        root ??= Root;
        if (!Directory.Exists(root)) return 0;
        var removed = 0;
        foreach (var dir in Directory.EnumerateDirectories(root))
        {
            var lockPath = System.IO.Path.Combine(dir, LockName);
            try
            {
                // Held by a live owner: this open fails.
                using (new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) { }
            }
            catch (FileNotFoundException)
            {
                // Another process may be between creating its folder and its lock file.
                if (DateTime.UtcNow - Directory.GetLastWriteTimeUtc(dir) < TimeSpan.FromMinutes(1)) continue;
            }
            catch (DirectoryNotFoundException) { continue; }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            try
            {
                Directory.Delete(dir, recursive: true);
                removed++;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return removed;
    }

    public void Dispose()
    {
        _lock.Dispose();
        try { Directory.Delete(Path, recursive: true); }
        catch (DirectoryNotFoundException) { }
    }
}
