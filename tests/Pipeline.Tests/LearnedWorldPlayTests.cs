using System.Text.Json.Nodes;
using Xunit.Abstractions;
using Dreamer.Cli;
using Dreamer.Storage;

namespace Dreamer.Pipeline.Tests;

/// <summary>
/// The whole chain on a tiny dataset, each stage as its own process: collect -> ingest -> tokenize ->
/// train-dynamics through `dreamer nightly`; then the trained world loads the way `dreamer play` loads it
/// and is driven by key presses in headless Chromium.
/// </summary>
[Collection("nightly")]
public sealed class LearnedWorldPlayTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("learned-world").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task A_trained_world_model_plays_in_the_browser_and_its_lineage_reaches_the_videos()
    {
        var store = Path.Combine(_root, "store");
        var collect = await DreamerProcess.RunAsync("run", "collect", "--store", store, "--seed", "3",
            "--set", "Collect:Preset=tiny", "--set", "Collect:Episodes=4", "--set", "Collect:MaxSteps=40",
            "--set", "Collect:UnlabeledShare=0", "--set", "Collect:Dataset=tiny");
        Assert.True(collect.ExitCode == 0, collect.Stderr);
        var pipeline = TestPipeline.Write(_root, "learned-world",
            new TestStage("ingest", "raw/tiny", "ingest.yaml", "Ingest:\n  ValidationFraction: 0.3\n"),
            new TestStage("tokenize", "ingest", "tokenize.yaml", "Tokenizer:\n  Preset: tiny\n  Steps: 40\n  Threads: 1\n"),
            new TestStage("train-dynamics", "tokenize", "dynamics.yaml", "TrainDynamics:\n  Preset: tiny\n  Steps: 60\n  Threads: 1\n  LearningRate: 0.003\n"));
        var nightly = await DreamerProcess.RunAsync("nightly", "--store", store, "--pipeline", pipeline, "--json");
        Assert.True(nightly.ExitCode == 0, nightly.Stderr);
        var stages = JsonNode.Parse(nightly.Stdout)!["stages"]!.AsArray();
        var dynamicsId = stages.Single(s => s!["stage"]!.GetValue<string>() == "train-dynamics")!["artifactId"]!.GetValue<string>();

        // Lineage: the dynamics artifact reaches the raw videos through tokenize and ingest.
        var lineage = await DreamerProcess.RunAsync("lineage", dynamicsId, "--store", store);
        Assert.Equal(0, lineage.ExitCode);
        Assert.Contains("<- source raw/tiny/episode-000000.mp4", lineage.Stdout);

        using var s = new LocalFolderStore(store);
        using var world = await LearnedWorld.LoadAsync(s, "latest", CancellationToken.None);
        Assert.Equal(64, world.Width);
        Assert.NotEmpty(world.Contexts);
        await PlayChecks.AssertKeysDriveFrames(world, output.WriteLine, TimeSpan.FromSeconds(120));
    }
}
