using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dreamer.Artifacts;
using Dreamer.Storage;

namespace Dreamer.Cli;

/// <summary>What happened to one stage in a pipeline run.</summary>
public sealed record StageOutcome(string Stage, string Action, string? ArtifactId, int ExitCode, double Seconds,
    IReadOnlyList<string> Reasons, string? Error)
{
    public JsonObject ToJson() => new()
    {
        ["stage"] = Stage, ["action"] = Action, ["artifactId"] = ArtifactId, ["exitCode"] = ExitCode,
        ["seconds"] = Math.Round(Seconds, 3),
        ["reasons"] = new JsonArray(Reasons.Select(r => (JsonNode)r).ToArray()), ["error"] = Error,
    };
}

/// <summary>Which stages of the pipeline to run and how.</summary>
public sealed record NightlyOptions
{
    public string? Only { get; init; }
    public string? From { get; init; }
    public string? Force { get; init; }
    public bool DryRun { get; init; }
    /// <summary>How long to wait for another nightly run of the same pipeline on the store (0: exit at once).</summary>
    public TimeSpan WaitForLock { get; init; } = TimeSpan.Zero;
}

/// <summary>
/// Runs a pipeline the way a scheduler would: each stage as its own process (dreamer-&lt;stage&gt;), upstream
/// artifact ids passed downstream. Memoised through the stages' own plans: a stage whose artifact id is
/// committed is reused, one with a checkpoint resumes. One nightly run per pipeline and store at a time
/// (a blob lease); the first failure stops the run; a run record is written to the store.
/// </summary>
public sealed class NightlyRunner(PipelineDefinition pipeline, string storeUri, Action<string> say)
{
    public const string LockPrefix = "locks/pipelines/";
    public const string RunsPrefix = "pipelines/runs/";

    public async Task<(int ExitCode, JsonObject Record)> RunAsync(NightlyOptions options, CancellationToken ct)
    {
        foreach (var name in new[] { options.Only, options.From, options.Force })
            if (name != null && pipeline.Stages.All(s => s.Stage != name))
                throw new ArgumentException($"no stage '{name}' in pipeline {pipeline.Name} ({string.Join(", ", pipeline.Stages.Select(s => s.Stage))})");

        using var store = BlobStores.Open(storeUri);
        var runId = LineageRecorder.NewRunId();
        var started = DateTimeOffset.UtcNow;
        await using var holder = options.DryRun ? null : await LockAsync(store, options, ct);

        var selected = Selected(options);
        var forced = options.Force == null ? new HashSet<string>() : pipeline.Downstream(options.Force);
        var catalog = new ArtifactCatalog(store);
        var produced = new Dictionary<string, string>(); // stage -> artifact id in this run
        var outcomes = new List<StageOutcome>();
        var exitCode = 0;
        foreach (var stage in pipeline.Stages)
        {
            ct.ThrowIfCancellationRequested();
            var input = await ResolveInputAsync(stage, produced, catalog, ct);
            if (!selected.Contains(stage.Stage))
            {
                // Not selected: downstream stages read its latest committed artifact.
                if ((await catalog.LatestAsync(stage.Stage, ct))?.Manifest.ArtifactId is { } latest) produced[stage.Stage] = latest;
                outcomes.Add(new StageOutcome(stage.Stage, "skipped", produced.GetValueOrDefault(stage.Stage), 0, 0, ["not selected"], null));
                continue;
            }
            if (input == null)
            {
                var missing = new StageOutcome(stage.Stage, "failed", null, 2, 0, [], $"its input stage '{stage.Input}' has no committed artifact");
                outcomes.Add(missing);
                exitCode = 2;
                break;
            }
            var salt = forced.Contains(stage.Stage) ? $"force-{runId}" : null;
            var outcome = await RunStageAsync(stage, input, runId, salt, options.DryRun, ct);
            outcomes.Add(outcome);
            say($"{outcome.Stage,-16} {outcome.Action,-9} {outcome.ArtifactId ?? "-",-32} {outcome.Seconds,7:0.0}s  {string.Join("; ", outcome.Reasons)}{(outcome.Error != null ? "  " + outcome.Error : "")}");
            if (outcome.Action == "failed")
            {
                exitCode = outcome.ExitCode is 2 or 3 or 130 ? outcome.ExitCode : 1;
                break;
            }
            if (outcome.ArtifactId != null) produced[stage.Stage] = outcome.ArtifactId;
        }

        var record = new JsonObject
        {
            ["runId"] = runId,
            ["pipeline"] = pipeline.Name,
            ["pipelineFile"] = pipeline.SourcePath,
            ["store"] = store.DisplayUri,
            ["dryRun"] = options.DryRun,
            ["startedAt"] = started.ToString("O"),
            ["finishedAt"] = DateTimeOffset.UtcNow.ToString("O"),
            ["outcome"] = exitCode == 0 ? "succeeded" : "failed",
            ["exitCode"] = exitCode,
            ["stages"] = new JsonArray(outcomes.Select(o => (JsonNode)o.ToJson()).ToArray()),
        };
        if (!options.DryRun)
            await store.WriteBytesAsync($"{RunsPrefix}{started.UtcDateTime:yyyy-MM-dd}/{runId}.json",
                JsonSerializer.SerializeToUtf8Bytes(record, new JsonSerializerOptions { WriteIndented = true }),
                BlobWriteOptions.CreateOnly with { ContentType = "application/json" }, CancellationToken.None);
        return (exitCode, record);
    }

    private HashSet<string> Selected(NightlyOptions options)
    {
        if (options.Only != null) return [options.Only];
        var names = pipeline.Stages.Select(s => s.Stage).ToList();
        if (options.From != null) return names.Skip(names.IndexOf(options.From)).ToHashSet();
        return names.ToHashSet();
    }

    private async Task<LeaseHolder> LockAsync(IBlobStore store, NightlyOptions options, CancellationToken ct)
    {
        var path = LockPrefix + pipeline.Name;
        var duration = TimeSpan.FromSeconds(15); // Azure's minimum: a killed run frees the pipeline soonest
        var deadline = DateTime.UtcNow + options.WaitForLock;
        while (true)
        {
            if (await LeaseHolder.TryAcquireAsync(store, path, duration, null, ct) is { } holder) return holder;
            if (DateTime.UtcNow >= deadline)
                throw new PipelineBusyException($"another '{pipeline.Name}' run holds {store.DisplayUri}/{path}; " +
                    "wait for it (--wait-minutes N) or check ./dreamer status");
            say($"another '{pipeline.Name}' run holds the store; waiting...");
            await Task.Delay(TimeSpan.FromSeconds(5), ct);
        }
    }

    /// <summary>The stage's --input: its raw prefix, or the upstream stage's artifact id from this run (or its latest).</summary>
    private static async Task<string?> ResolveInputAsync(PipelineStage stage, Dictionary<string, string> produced, ArtifactCatalog catalog, CancellationToken ct)
    {
        if (stage.Input.StartsWith("raw/", StringComparison.Ordinal)) return stage.Input;
        if (produced.TryGetValue(stage.Input, out var id)) return id;
        return (await catalog.LatestAsync(stage.Input, ct))?.Manifest.ArtifactId;
    }

    private async Task<StageOutcome> RunStageAsync(PipelineStage stage, string input, string runId, string? salt, bool plan, CancellationToken ct)
    {
        var args = new List<string> { "--store", storeUri, "--input", input, "--json", "--parent-run", runId };
        if (pipeline.ConfigPath(stage) is { } config) args.AddRange(["--config", config]);
        foreach (var set in stage.Set) args.AddRange(["--set", set]);
        if (salt != null) args.AddRange(["--salt", salt]);
        if (plan) args.Add("--plan");

        var clock = Stopwatch.StartNew();
        var (exit, stdout, stderr) = await StageExecutables.RunAsync(stage.Stage, args, ct);
        var seconds = clock.Elapsed.TotalSeconds;
        var last = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        if (exit != 0 || last == null)
        {
            var error = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(3);
            return new StageOutcome(stage.Stage, "failed", null, exit, seconds, [], $"exit {exit}: {string.Join(" | ", error)}");
        }
        var json = JsonNode.Parse(last)!.AsObject();
        if (plan)
        {
            var reasons = json["reasons"]!.AsArray().Select(r => r!.GetValue<string>()).ToList();
            var action = json["action"]!.GetValue<string>() == "reuse" ? "would-reuse" : "would-run";
            return new StageOutcome(stage.Stage, action, json["artifactId"]!.GetValue<string>(), 0, seconds, reasons, null);
        }
        var reused = json["reused"]?.GetValue<bool>() == true;
        return new StageOutcome(stage.Stage, reused ? "reused" : "ran", json["artifactId"]!.GetValue<string>(), 0, seconds,
            reused ? ["committed artifact with the same inputs, configuration and code"] : [], null);
    }
}

public sealed class PipelineBusyException(string message) : Exception(message);

/// <summary>Finds and runs stage executables (dreamer-&lt;stage&gt;.dll beside this program, or in DREAMER_STAGE_DIR).</summary>
public static class StageExecutables
{
    public static string Find(string stage)
    {
        var dir = Environment.GetEnvironmentVariable("DREAMER_STAGE_DIR") ?? AppContext.BaseDirectory;
        var dll = Path.Combine(dir, $"dreamer-{stage}.dll");
        return File.Exists(dll) ? dll : throw new ArgumentException($"no executable for stage '{stage}': {dll} does not exist");
    }

    public static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string stage, IReadOnlyList<string> args, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Find(stage));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stderr = new System.Text.StringBuilder();
        // Stage logs stream through to our stderr as they come; stdout carries the result line.
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data == null) return;
            lock (stderr) stderr.AppendLine(e.Data);
            Console.Error.WriteLine($"  [{stage}] {e.Data}");
        };
        process.BeginErrorReadLine();
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        try
        {
            await process.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            // Forward the cancellation as SIGTERM so the stage checkpoints and exits 130.
            Process.Start("kill", ["-TERM", process.Id.ToString()])?.WaitForExit();
            await process.WaitForExitAsync(CancellationToken.None);
        }
        string text;
        try { text = await stdout; } catch (OperationCanceledException) { text = ""; }
        lock (stderr) return (process.ExitCode, text, stderr.ToString());
    }
}
