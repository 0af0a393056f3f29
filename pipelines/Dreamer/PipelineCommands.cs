using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dreamer.Artifacts;
using Dreamer.Storage;

namespace Dreamer.Cli;

/// <summary>`dreamer nightly`, `dreamer run STAGE`, `dreamer status`.</summary>
internal static class PipelineCommands
{
    public static string DefaultPipeline =>
        Environment.GetEnvironmentVariable("DREAMER_PIPELINE") ?? Path.Combine(RepoRoot(), "pipelines", "definitions", "nightly.yaml");

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Pipeline.sln"))) dir = dir.Parent;
        return dir?.FullName ?? Directory.GetCurrentDirectory();
    }

    public static Command Nightly()
    {
        var store = StoreCommands.StoreOption();
        var pipeline = new Option<string>("--pipeline") { Description = "pipeline definition (yaml)", DefaultValueFactory = _ => DefaultPipeline };
        var only = new Option<string?>("--only") { Description = "run only this stage (others: their latest artifact)" };
        var from = new Option<string?>("--from") { Description = "run this stage and everything after it" };
        var force = new Option<string?>("--force") { Description = "produce a fresh artifact for this stage and its downstream" };
        var dryRun = new Option<bool>("--dry-run") { Description = "show what would run and why, run nothing" };
        var wait = new Option<double>("--wait-minutes") { Description = "wait this long for another run holding the store", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "print the run record as JSON" };
        var command = new Command("nightly", "run the pipeline: every stage as its own process, memoised and resumable")
            { store, pipeline, only, from, force, dryRun, wait, json };
        command.SetAction(async (parse, ct) =>
        {
            PipelineDefinition definition;
            try { definition = PipelineDefinition.Load(parse.GetValue(pipeline)!); }
            catch (InvalidDataException e) { Console.Error.WriteLine($"nightly: {e.Message}"); return 2; }
            var options = new NightlyOptions
            {
                Only = parse.GetValue(only), From = parse.GetValue(from), Force = parse.GetValue(force),
                DryRun = parse.GetValue(dryRun), WaitForLock = TimeSpan.FromMinutes(parse.GetValue(wait)),
            };
            try
            {
                var runner = new NightlyRunner(definition, parse.GetValue(store)!, line => Console.Error.WriteLine(line));
                var (exit, record) = await runner.RunAsync(options, ct);
                PrintSummary(record);
                if (parse.GetValue(json)) Console.WriteLine(record.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return exit;
            }
            catch (PipelineBusyException e) { Console.Error.WriteLine($"nightly: {e.Message}"); return 3; }
            catch (ArgumentException e) { Console.Error.WriteLine($"nightly: {e.Message}"); return 2; }
            catch (BlobStoreConfigurationException e) { Console.Error.WriteLine($"nightly: {e.Message}"); return 2; }
        });
        return command;
    }

    private static void PrintSummary(JsonObject record)
    {
        Console.Error.WriteLine($"pipeline {record["pipeline"]} run {record["runId"]}: {record["outcome"]}{(record["dryRun"]!.GetValue<bool>() ? " (dry run)" : "")}");
        foreach (var s in record["stages"]!.AsArray())
        {
            var reasons = string.Join("; ", s!["reasons"]!.AsArray().Select(r => r!.GetValue<string>()));
            Console.Error.WriteLine($"  {s["stage"],-16} {s["action"],-11} {s["artifactId"] ?? "-",-32} {reasons}{(s["error"] is { } e ? "  " + e : "")}");
        }
    }

    /// <summary>`dreamer run STAGE [stage options]`: one stage, with the stage contract's options passed through.</summary>
    public static Command Run()
    {
        var stage = new Argument<string>("stage") { Description = "stage name (ingest, tokenize, ...)" };
        var rest = new Argument<string[]>("options") { Description = "stage options: --store, --input, --config, --set, --seed, --shard, --json", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("run", "run one stage executable") { stage, rest };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parse, ct) =>
        {
            string dll;
            try { dll = StageExecutables.Find(parse.GetValue(stage)!); }
            catch (ArgumentException e) { Console.Error.WriteLine($"run: {e.Message}"); return 2; }
            var args = (parse.GetValue(rest) ?? []).Concat(parse.UnmatchedTokens).ToList();
            var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { UseShellExecute = false };
            psi.ArgumentList.Add(dll);
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var process = System.Diagnostics.Process.Start(psi)!;
            await process.WaitForExitAsync(CancellationToken.None);
            return process.ExitCode;
        });
        return command;
    }

    /// <summary>`dreamer status`: latest artifact per stage, stages running (held leases), last pipeline outcome.</summary>
    public static Command Status()
    {
        var store = StoreCommands.StoreOption();
        var command = new Command("status", "latest artifact per stage, running stages, last pipeline run") { store };
        command.SetAction((parse, ct) => StoreCommands.WithStore(parse.GetValue(store)!, async s =>
        {
            var catalog = new ArtifactCatalog(s);
            Console.WriteLine("latest artifacts:");
            foreach (var stage in await catalog.ListStagesAsync(ct))
            {
                var latest = await catalog.LatestAsync(stage, ct);
                Console.WriteLine(latest == null
                    ? $"  {stage,-16} (none committed)"
                    : $"  {stage,-16} {latest.Manifest.ArtifactId,-34} {latest.Manifest.CommittedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z");
            }
            Console.WriteLine("running (held leases):");
            var running = 0;
            await foreach (var blob in s.ListAllAsync("locks/", ct))
            {
                var props = await s.GetPropertiesAsync(blob.Path, ct);
                if (props?.LeaseState == "leased")
                {
                    Console.WriteLine($"  {blob.Path}");
                    running++;
                }
            }
            if (running == 0) Console.WriteLine("  (none)");
            Console.WriteLine("last pipeline run:");
            var runs = new List<BlobItem>();
            await foreach (var blob in s.ListAllAsync(NightlyRunner.RunsPrefix, ct)) runs.Add(blob);
            var last = runs.OrderBy(b => b.LastModified).LastOrDefault();
            if (last == null) Console.WriteLine("  (none)");
            else
            {
                var record = JsonNode.Parse(await s.ReadAllBytesAsync(last.Path, ct))!;
                Console.WriteLine($"  {record["pipeline"]} {record["runId"]} {record["outcome"]} at {record["finishedAt"]}");
                foreach (var st in record["stages"]!.AsArray())
                    Console.WriteLine($"    {st!["stage"],-16} {st["action"],-9} {st["artifactId"] ?? "-"}");
            }
            return 0;
        }));
        return command;
    }
}
