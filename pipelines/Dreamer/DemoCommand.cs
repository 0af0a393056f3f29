using System.CommandLine;
using Dreamer.Artifacts;
using Dreamer.Storage;

namespace Dreamer.Cli;

/// <summary>
/// `dreamer demo`, the README's main job: collect a small dataset from the built-in game, run the demo
/// pipeline (ingest -> tokenize -> train-dynamics) on the local store exactly as nightly runs it, and say where to look.
/// Rerunning it reuses everything already committed.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var store = StoreCommands.StoreOption();
        var episodes = new Option<int>("--episodes") { Description = "gameplay episodes to collect", DefaultValueFactory = _ => 12 };
        var maxSteps = new Option<int>("--max-steps") { Description = "step cap per episode", DefaultValueFactory = _ => 300 };
        var pipeline = new Option<string>("--pipeline") { Description = "pipeline definition",
            DefaultValueFactory = _ => Path.Combine(Path.GetDirectoryName(PipelineCommands.DefaultPipeline)!, "demo.yaml") };
        var command = new Command("demo", "collect gameplay, run the pipeline on the local store, show where to look") { store, episodes, maxSteps, pipeline };
        command.SetAction(async (parse, ct) =>
        {
            var storeUri = parse.GetValue(store)!;
            Console.Error.WriteLine($"demo: 1/2 collecting {parse.GetValue(episodes)} episodes from the built-in game into raw/demo");
            var (exit, _, stderr) = await StageExecutables.RunAsync("collect", ["--store", storeUri, "--seed", "1",
                "--set", "Collect:Dataset=demo", "--set", $"Collect:Episodes={parse.GetValue(episodes)}",
                "--set", $"Collect:MaxSteps={parse.GetValue(maxSteps)}"], ct);
            if (exit != 0) { Console.Error.WriteLine($"demo: collect failed (exit {exit})"); return exit; }

            Console.Error.WriteLine("demo: 2/2 running the pipeline (each stage as its own process)");
            PipelineDefinition definition;
            try { definition = PipelineDefinition.Load(parse.GetValue(pipeline)!); }
            catch (InvalidDataException e) { Console.Error.WriteLine($"demo: {e.Message}"); return 2; }
            var (code, record) = await new NightlyRunner(definition, storeUri, line => Console.Error.WriteLine($"  {line}"))
                .RunAsync(new NightlyOptions { WaitForLock = TimeSpan.FromMinutes(1) }, ct);
            if (code != 0) { Console.Error.WriteLine($"demo: pipeline failed (exit {code}); see the stage log above"); return code; }

            using var s = BlobStores.Open(storeUri);
            var catalog = new ArtifactCatalog(s);
            Console.WriteLine();
            Console.WriteLine("Where to look:");
            Console.WriteLine($"  store            {s.DisplayUri}");
            Console.WriteLine($"  raw gameplay     {s.DisplayUri}/raw/demo/ (H.264 videos + JSON-lines action logs)");
            foreach (var stage in definition.Stages)
                if (await catalog.LatestAsync(stage.Stage, ct) is { } a)
                {
                    var m = a.Manifest;
                    var metrics = string.Join(", ", m.Metrics.OrderBy(k => k.Key).Take(6).Select(k => $"{k.Key}={k.Value:G4}"));
                    Console.WriteLine($"  {stage.Stage,-16} {s.DisplayUri}/{StorePaths.ArtifactPrefix(m.Stage, m.ArtifactId)}  {metrics}");
                    foreach (var png in m.Outputs.Where(o => o.Path.EndsWith(".png", StringComparison.Ordinal)))
                        Console.WriteLine($"  {"",16} reconstructions: {s.DisplayUri}/{StorePaths.ArtifactPrefix(m.Stage, m.ArtifactId)}{png.Path}");
                    foreach (var mp4 in m.Outputs.Where(o => o.Path.EndsWith(".mp4", StringComparison.Ordinal)))
                        Console.WriteLine($"  {"",16} rollouts (truth | imagined): {s.DisplayUri}/{StorePaths.ArtifactPrefix(m.Stage, m.ArtifactId)}{mp4.Path}");
                }
            var last = definition.Stages[^1].Stage;
            Console.WriteLine($"  lineage          ./dreamer lineage {(await catalog.LatestAsync(last, ct))?.Manifest.ArtifactId} --store {storeUri}");
            Console.WriteLine($"  status           ./dreamer status --store {storeUri}");
            Console.WriteLine($"  run record       {s.DisplayUri}/{NightlyRunner.RunsPrefix} (pipeline {record["runId"]})");
            if (definition.Stages.Any(st => st.Stage == "train-dynamics"))
                Console.WriteLine($"  play             ./dreamer play --store {storeUri}   (then open the printed http://127.0.0.1 address)");
            return 0;
        });
        return command;
    }
}
