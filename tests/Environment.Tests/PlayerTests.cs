using Dreamer.Game;
using Xunit.Abstractions;

namespace Dreamer.Environment.Tests;

public class PlayerTests(ITestOutputHelper output)
{
    [Fact]
    public void SkilledPlayerBeatsRandomOnAchievements()
    {
        var config = new CraftConfig { MaxSteps = 2_000 };
        var rows = Baselines.Run(["random", "skilled"], 6, config, seed: 3);
        output.WriteLine(Baselines.ToMarkdown(rows));
        BaselineRow random = rows[0], skilled = rows[1];
        Assert.True(skilled.MeanAchievements >= random.MeanAchievements + 8,
            $"skilled {skilled.MeanAchievements:F2} vs random {random.MeanAchievements:F2}");
        Assert.True(skilled.AchievementRates[(int)Achievement.MakeStonePickaxe] >= 0.5);
        Assert.Equal(skilled.MeanAchievements, skilled.MeanReturn, 6);   // reward is exactly one per unlock
    }

    [Fact]
    public void BaselineReportIsDeterministicAndCoversEveryPlayer()
    {
        var config = new CraftConfig { MaxSteps = 300 };
        var a = Baselines.Run(Players.Names, 4, config, seed: 8, maxParallelism: 1);
        var b = Baselines.Run(Players.Names, 4, config, seed: 8, maxParallelism: 4);
        Assert.Equal(Baselines.ToMarkdown(a), Baselines.ToMarkdown(b));
        Assert.Equal(Players.Names, a.Select(r => r.Player));
        Assert.All(a, r => Assert.InRange(r.MeanLength, 1, 300));
        string table = Baselines.ToMarkdown(a);
        foreach (string name in Achievements.Names) Assert.Contains(name, table);
    }

    [Fact]
    public void PlannerReadsOnlyTheViewAndStartsFreshEachEpisode()
    {
        // Two worlds that agree on everything in view but differ beyond it must get the same first action.
        var env1 = new CraftWorld(new CraftConfig { Creatures = false }, 4);
        var env2 = new CraftWorld(new CraftConfig { Creatures = false }, 4);
        env1.Reset(Span<byte>.Empty);
        env2.Reset(Span<byte>.Empty);
        for (int y = 0; y < env2.WorldSize; y++)
            for (int x = 0; x < env2.WorldSize; x++)
                if (Math.Abs(x - env2.X) > Layout.CenterX || Math.Abs(y - env2.Y) > Layout.CenterY) env2.SetTile(x, y, Tile.Water);
        var p1 = new PlannerPlayer(new PlannerSettings { Epsilon = 0 });
        var p2 = new PlannerPlayer(new PlannerSettings { Epsilon = 0 });
        for (int i = 0; i < 3; i++)
        {
            int a1 = p1.Act(env1, new Rng(1)), a2 = p2.Act(env2, new Rng(1));
            Assert.Equal(a1, a2);
            env1.Step(a1, Span<byte>.Empty);
            env2.Step(a2, Span<byte>.Empty);
            if (env1.X != env2.X || env1.Y != env2.Y) break;
        }
        // The same player object can play a new episode.
        env1.Reset(Span<byte>.Empty);
        Assert.InRange(p1.Act(env1, new Rng(1)), 0, ActionSpace.Count - 1);
    }

    [Fact]
    public void ContractorMistakeRateIsConfigurable()
    {
        var env = new CraftWorld(new CraftConfig(), 2);
        env.Reset(Span<byte>.Empty);
        var careful = PlannerPlayer.Contractor(epsilon: 0);
        var sloppy = PlannerPlayer.Contractor(epsilon: 1);
        Assert.Equal(0, careful.Settings.Epsilon);
        var rng = new Rng(5);
        var actions = new HashSet<int>();
        for (int i = 0; i < 200; i++) actions.Add(sloppy.Act(env, rng));
        Assert.True(actions.Count > 12, $"fully random play used only {actions.Count} actions");
        Assert.Throws<ArgumentException>(() => Players.Create("expert"));
    }
}
