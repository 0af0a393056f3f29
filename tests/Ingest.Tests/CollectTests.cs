using Dreamer.Artifacts;
using Dreamer.Hosting;
using Dreamer.Schemas;
using Dreamer.Stages.Collect;

namespace Dreamer.Ingest.Tests;

public sealed class CollectTests : IDisposable
{
    readonly TempStore _a = new(), _b = new();

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    static string[] Small(TempStore store, long seed, params string[] more) =>
        ["--store", store.Root, "--seed", seed.ToString(), "--set", "Collect:Preset=tiny", "--set", "Collect:Episodes=3",
            "--set", "Collect:MaxSteps=20", "--set", "Collect:Dataset=small", .. more];

    static Dictionary<string, string> Hashes(TempStore store) =>
        Directory.GetFiles(Path.Combine(store.Root, "raw", "small"))
            .ToDictionary(f => Path.GetFileName(f), f => Hashing.Sha256Hex(File.ReadAllBytes(f)));

    [Fact]
    public async Task Collection_is_deterministic_for_a_seed_whatever_the_parallelism()
    {
        var first = await Stages.CollectAsync(Small(_a, 11));
        Assert.Equal("raw/small", first.ArtifactId);
        await Stages.CollectAsync(Small(_b, 11, "--set", "Collect:Parallelism=1"));
        var hashes = Hashes(_a);
        Assert.Equal(hashes, Hashes(_b));
        // 3 episodes, 1 unlabeled (round(0.25 * 3) = 1), and dataset.json.
        Assert.Equal(3 + 2 + 1, hashes.Count);

        var info = RawDatasetInfo.Parse(File.ReadAllBytes(Path.Combine(_a.Root, "raw", "small", "dataset.json")), "dataset.json");
        Assert.Equal((15.0, 64, 64), (info.Fps, info.Width, info.Height));
        Assert.Equal(Dreamer.Game.ActionSpace.Names, Assert.Single(info.ActionSpace.Components).Classes);
        var episodes = info.Producer!["episodes"]!.AsArray();
        Assert.Equal(3, episodes.Count);
        Assert.All(episodes, e => Assert.Equal(21, e!["frames"]!.GetValue<int>()));

        // Rerunning is a no-op; another seed is refused rather than mixed in.
        Assert.True((await Stages.CollectAsync(Small(_a, 11))).Reused);
        var error = await Assert.ThrowsAsync<StageInputException>(() => Stages.CollectAsync(Small(_a, 12)));
        Assert.Contains("raw/small/dataset.json already exists", error.Message);
        await Stages.CollectAsync(Small(_b, 12, "--set", "Collect:Dataset=other"));
        Assert.NotEqual(hashes["episode-000000.mp4"],
            Hashing.Sha256Hex(File.ReadAllBytes(Path.Combine(_b.Root, "raw", "other", "episode-000000.mp4"))));
    }

    [Fact]
    public void The_plan_follows_the_player_shares_and_unlabeled_share()
    {
        var settings = new CollectSection
        {
            Preset = "tiny", Episodes = 10, UnlabeledShare = 0.3,
            Players = new() { ["contractor"] = 0.5, ["random"] = 0.3, ["skilled"] = 0.2 },
        }.Resolve();
        var plan = CollectPlan.Create(settings, 5);
        Assert.Equal(5, plan.Count(e => e.Player == "contractor"));
        Assert.Equal(3, plan.Count(e => e.Player == "random"));
        Assert.Equal(2, plan.Count(e => e.Player == "skilled"));
        Assert.Equal(3, plan.Count(e => !e.Labeled));
        Assert.Equal(plan, CollectPlan.Create(settings, 5));
        Assert.NotEqual(plan.Select(e => e.WorldSeed), CollectPlan.Create(settings, 6).Select(e => e.WorldSeed));
    }

    [Theory]
    [InlineData("Collect:Bogus=1")]
    [InlineData("Collect:Players:wizard=1")]
    [InlineData("Collect:Preset=huge")]
    [InlineData("Collect:Crf=99")]
    [InlineData("Collect:PixelFormat=rgb48")]
    public async Task Configuration_errors_exit_2(string set)
    {
        var code = await StageHost.RunAsync(CollectStage.StageName, ["--store", _a.Root, "--set", set], async ctx => await CollectStage.RunAsync(ctx));
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.False(Directory.Exists(Path.Combine(_a.Root, "raw")));
    }
}
