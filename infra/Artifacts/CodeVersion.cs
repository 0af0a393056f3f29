using System.Diagnostics;
using System.Reflection;
using System.Security.Cryptography;
using Dreamer.Schemas;

namespace Dreamer.Artifacts;

/// <summary>
/// Which code produced an artifact. The version that enters artifact ids is a content hash of the
/// binaries that run (our assemblies and native shim, built deterministically with a path map), so a
/// commit that does not change a stage's code does not invalidate its memoised artifacts. Git commit and
/// dirty flag are recorded beside it for audit.
/// </summary>
public static class CodeVersion
{
    private static readonly Lazy<ManifestCode> Current = new(() => Detect(AppContext.BaseDirectory));

    public static ManifestCode ForThisProcess() => Current.Value;

    public static ManifestCode Detect(string binaryDirectory)
    {
        var files = Directory.EnumerateFiles(binaryDirectory)
            .Where(IsOurCode)
            .OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal)
            .ToList();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(file) + "\n"));
            hash.AppendData(File.ReadAllBytes(file));
        }
        var version = Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
        var (commit, dirty) = GitState(binaryDirectory);
        return new ManifestCode(version, commit, dirty);
    }

    private static bool IsOurCode(string path)
    {
        var name = Path.GetFileName(path);
        return (name.StartsWith("Dreamer.", StringComparison.Ordinal) && name.EndsWith(".dll", StringComparison.Ordinal))
               || name.StartsWith("dreamer-", StringComparison.Ordinal) && name.EndsWith(".dll", StringComparison.Ordinal)
               || name == "libdreamer_torch.so";
    }

    /// <summary>Git commit and dirty flag of the checkout the binaries were built in, when there is one.</summary>
    private static (string? Commit, bool? Dirty) GitState(string start)
    {
        var dir = new DirectoryInfo(start);
        while (dir != null && !Directory.Exists(Path.Combine(dir.FullName, ".git"))) dir = dir.Parent;
        if (dir == null) return (null, null);
        var commit = RunGit(dir.FullName, "rev-parse HEAD")?.Trim();
        var status = RunGit(dir.FullName, "status --porcelain --untracked-files=no");
        return (string.IsNullOrEmpty(commit) ? null : commit, status == null ? null : status.Trim().Length > 0);
    }

    private static string? RunGit(string workDir, string args)
    {
        try
        {
            var psi = new ProcessStartInfo("git", $"-C \"{workDir}\" {args}")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using var process = Process.Start(psi);
            if (process == null) return null;
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit(10_000);
            return process.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no git on this host: the binary hash still identifies the code
        }
    }

    public static ManifestEnvironment Environment(string? libtorchVersion, int threads, string? device) => new(
        System.Environment.MachineName,
        System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
        libtorchVersion, threads, device);

    internal static string EntryName() => Assembly.GetEntryAssembly()?.GetName().Name ?? "unknown";
}
