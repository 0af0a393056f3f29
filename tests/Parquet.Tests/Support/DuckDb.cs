using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Dreamer.Parquet.Tests.Support;

/// <summary>One DuckDB statement's result, values in the canonical JSON of duckdb_query.mjs.</summary>
public sealed record DuckResult(string[] Columns, string[] Types, JsonArray[] Rows);

/// <summary>
/// Runs SQL through DuckDB (npm @duckdb/node-api, pinned in infra/tools) in one node process per
/// batch, so a test class pays the startup once.
/// </summary>
public static class DuckDb
{
    public static string RepoRoot { get; } = FindRepoRoot();

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Pipeline.sln above {AppContext.BaseDirectory}");
    }

    public static string NodeModules
    {
        get
        {
            var dir = Path.Combine(RepoRoot, "infra", "tools", "node_modules");
            if (!Directory.Exists(Path.Combine(dir, "@duckdb", "node-api")))
                throw new InvalidOperationException($"DuckDB peer missing: {dir}/@duckdb/node-api not found. Run infra/setup.sh to install the pinned test peers.");
            return dir;
        }
    }

    /// <summary>Runs the statements in order (one DuckDB instance); throws if any fails.</summary>
    public static DuckResult[] Run(IReadOnlyList<string> statements)
    {
        var results = TryRun(statements);
        for (int i = 0; i < results.Length; i++)
            if (results[i].Error is { } e) throw new InvalidOperationException($"DuckDB failed on `{statements[i]}`: {e}");
        return [.. results.Select(r => r.Result!)];
    }

    /// <summary>Runs the statements; failures come back per statement.</summary>
    public static (DuckResult? Result, string? Error)[] TryRun(IReadOnlyList<string> statements)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "duckdb_query.mjs");
        var psi = new ProcessStartInfo("node", [script, NodeModules])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start node");
        p.StandardInput.Write(JsonSerializer.Serialize(statements));
        p.StandardInput.Close();
        var stderrTask = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("DuckDB helper did not finish in 120 s");
        }
        if (p.ExitCode != 0) throw new InvalidOperationException($"DuckDB helper exited {p.ExitCode}: {stderrTask.Result}");
        var array = JsonNode.Parse(stdout)!.AsArray();
        return [.. array.Select(n =>
        {
            var o = n!.AsObject();
            if (o["error"] is { } err) return ((DuckResult?)null, (string?)err.GetValue<string>());
            return (new DuckResult(
                [.. o["columns"]!.AsArray().Select(x => x!.GetValue<string>())],
                [.. o["types"]!.AsArray().Select(x => x!.GetValue<string>())],
                [.. o["rows"]!.AsArray().Select(r => r!.AsArray())]), null);
        })];
    }

    public static string Quote(string path) => "'" + path.Replace("'", "''") + "'";
}
