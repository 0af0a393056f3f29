using System.Diagnostics;
using System.Text.Json.Nodes;
using Dreamer.Storage.Emulator;

namespace Dreamer.Pipeline.Tests;

/// <summary>
/// The nightly pipeline end to end, each stage as its own process: memoisation, reruns of exactly the
/// changed stage and its downstream, resume after a kill, mutual exclusion, and the same flow on Azurite.
/// </summary>
[Collection("nightly")]
public class NightlyTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("nightly-tests").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Store => Path.Combine(_root, "store");

    /// <summary>A tiny pipeline: 3 short episodes -> ingest -> tokenize (tiny preset).</summary>
    private string WritePipeline(int tokenizerSteps = 30) => TestPipeline.Write(_root, "nightly",
        new TestStage("ingest", "raw/tiny", "ingest.yaml", "Ingest:\n  ValidationFraction: 0.34\n"),
        new TestStage("tokenize", "ingest", "tokenize.yaml",
            $"Tokenizer:\n  Preset: tiny\n  Steps: {tokenizerSteps}\n  CheckpointEvery: 5\n  EvalEvery: 15\n  Threads: 1\n"));

    private static async Task CollectAsync(string store)
    {
        var (exit, _, stderr) = await DreamerProcess.RunAsync("run", "collect", "--store", store, "--seed", "5",
            "--set", "Collect:Preset=tiny", "--set", "Collect:Episodes=3", "--set", "Collect:MaxSteps=24", "--set", "Collect:Dataset=tiny");
        Assert.True(exit == 0, stderr);
    }

    private static async Task<JsonObject> NightlyAsync(string store, string pipeline, params string[] more)
    {
        var (exit, stdout, stderr) = await DreamerProcess.RunAsync(["nightly", "--store", store, "--pipeline", pipeline, "--json", .. more]);
        Assert.True(exit == 0, $"nightly exited {exit}: {stderr}");
        return JsonNode.Parse(stdout)!.AsObject();
    }

    private static Dictionary<string, (string Action, string? Id)> Stages(JsonObject record) =>
        record["stages"]!.AsArray().ToDictionary(s => s!["stage"]!.GetValue<string>(),
            s => (s!["action"]!.GetValue<string>(), s["artifactId"]?.GetValue<string>()));

    [Fact]
    public async Task Second_run_reuses_everything_and_a_config_change_reruns_exactly_that_stage()
    {
        await CollectAsync(Store);
        var pipeline = WritePipeline();
        var first = Stages(await NightlyAsync(Store, pipeline));
        Assert.Equal("ran", first["ingest"].Action);
        Assert.Equal("ran", first["tokenize"].Action);

        var second = Stages(await NightlyAsync(Store, pipeline));
        Assert.Equal(("reused", first["ingest"].Id), second["ingest"]);
        Assert.Equal(("reused", first["tokenize"].Id), second["tokenize"]);

        // Dry run after a config change: says what would run and why, runs nothing.
        WritePipeline(tokenizerSteps: 20);
        var dry = await NightlyAsync(Store, pipeline, "--dry-run");
        var plan = Stages(dry);
        Assert.Equal("would-reuse", plan["ingest"].Action);
        Assert.Equal("would-run", plan["tokenize"].Action);
        var reasons = dry["stages"]!.AsArray().Single(s => s!["stage"]!.GetValue<string>() == "tokenize")!["reasons"]!.ToJsonString();
        Assert.Contains("Steps", reasons);

        var third = Stages(await NightlyAsync(Store, pipeline));
        Assert.Equal(("reused", first["ingest"].Id), third["ingest"]);
        Assert.Equal("ran", third["tokenize"].Action);
        Assert.NotEqual(first["tokenize"].Id, third["tokenize"].Id);
        Assert.Equal(plan["tokenize"].Id, third["tokenize"].Id);

        // --force ingest: a fresh ingest artifact, and so a fresh tokenize downstream.
        var forced = Stages(await NightlyAsync(Store, pipeline, "--force", "ingest"));
        Assert.Equal("ran", forced["ingest"].Action);
        Assert.NotEqual(first["ingest"].Id, forced["ingest"].Id);
        Assert.Equal("ran", forced["tokenize"].Action);

        var status = await DreamerProcess.RunAsync("status", "--store", Store);
        Assert.Contains(forced["tokenize"].Id!, status.Stdout);
        Assert.Contains("succeeded", status.Stdout);

        // Lineage from the tokenizer artifact reaches the raw videos by content hash.
        var lineage = await DreamerProcess.RunAsync("lineage", forced["tokenize"].Id!, "--store", Store);
        Assert.Equal(0, lineage.ExitCode);
        Assert.Contains(forced["ingest"].Id!, lineage.Stdout);
        Assert.Contains("<- source raw/tiny/episode-000000.mp4", lineage.Stdout);
        var downstream = await DreamerProcess.RunAsync("lineage", "raw/tiny/episode-000000.mp4", "--downstream", "--store", Store);
        Assert.Contains(forced["tokenize"].Id!, downstream.Stdout);
    }

    [Fact]
    public async Task A_stage_killed_midway_resumes_on_the_next_nightly()
    {
        await CollectAsync(Store);
        var pipeline = WritePipeline(tokenizerSteps: 120);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { DreamerProcess.Dll, "nightly", "--store", Store, "--pipeline", pipeline }) psi.ArgumentList.Add(a);
        using (var nightly = Process.Start(psi)!)
        {
            nightly.BeginOutputReadLine();
            nightly.BeginErrorReadLine();
            // Wait for the tokenizer's first checkpoint, then kill the whole tree (the stage with it).
            var deadline = DateTime.UtcNow.AddMinutes(3);
            while (!Directory.Exists(Path.Combine(Store, "checkpoints", "tokenize")) || Directory.GetFiles(Path.Combine(Store, "checkpoints", "tokenize"), "LATEST", SearchOption.AllDirectories).Length == 0)
            {
                Assert.True(DateTime.UtcNow < deadline && !nightly.HasExited, "the tokenizer never wrote a checkpoint");
                await Task.Delay(200);
            }
            nightly.Kill(entireProcessTree: true);
            await nightly.WaitForExitAsync();
        }
        // The killed run's pipeline lease is still live for up to 15 s: wait it out, as a retrying scheduler would.
        var resumed = await DreamerProcess.RunAsync("nightly", "--store", Store, "--pipeline", pipeline, "--json", "--wait-minutes", "1");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Contains("resum", resumed.Stderr, StringComparison.OrdinalIgnoreCase);
        var stages = Stages(JsonNode.Parse(resumed.Stdout)!.AsObject());
        Assert.Equal("reused", stages["ingest"].Action);
        Assert.Equal("ran", stages["tokenize"].Action);
    }

    [Fact]
    public async Task Two_concurrent_runs_never_both_write_the_second_exits_with_a_clear_message()
    {
        await CollectAsync(Store);
        var pipeline = WritePipeline(tokenizerSteps: 200);
        var first = DreamerProcess.RunAsync("nightly", "--store", Store, "--pipeline", pipeline, "--json");
        await Task.Delay(TimeSpan.FromSeconds(4)); // the first holds the pipeline lease by now
        var second = await DreamerProcess.RunAsync("nightly", "--store", Store, "--pipeline", pipeline);
        Assert.Equal(3, second.ExitCode);
        Assert.Contains("another 'nightly' run holds", second.Stderr);
        var done = await first;
        Assert.True(done.ExitCode == 0, done.Stderr);
    }

    [Fact]
    public async Task The_same_flow_runs_against_azurite()
    {
        await using var azurite = await AzuriteProcess.StartAsync();
        var store = $"{azurite.BlobEndpoint}/nightly/team";
        var env = new Dictionary<string, string> { ["AZURE_STORAGE_KEY"] = Dreamer.Storage.Azure.AzureStorageAccount.DevelopmentAccountKey };
        var collect = await DreamerProcess.RunAsync(env, "run", "collect", "--store", store, "--seed", "5",
            "--set", "Collect:Preset=tiny", "--set", "Collect:Episodes=2", "--set", "Collect:MaxSteps=16", "--set", "Collect:Dataset=tiny");
        Assert.True(collect.ExitCode == 0, collect.Stderr);
        var pipeline = WritePipeline(tokenizerSteps: 10);
        var first = await DreamerProcess.RunAsync(env, "nightly", "--store", store, "--pipeline", pipeline, "--json");
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.All(Stages(JsonNode.Parse(first.Stdout)!.AsObject()).Values, s => Assert.Equal("ran", s.Action));
        var second = await DreamerProcess.RunAsync(env, "nightly", "--store", store, "--pipeline", pipeline, "--json");
        Assert.True(second.ExitCode == 0, second.Stderr);
        Assert.All(Stages(JsonNode.Parse(second.Stdout)!.AsObject()).Values, s => Assert.Equal("reused", s.Action));
    }
}
