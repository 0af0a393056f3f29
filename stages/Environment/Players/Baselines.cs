using System.Globalization;
using System.Numerics;
using System.Text;

namespace Dreamer.Game;

/// <summary>One player's results over a set of episodes.</summary>
public sealed record BaselineRow(string Player, int Episodes, IReadOnlyList<double> AchievementRates, double MeanReturn, double MeanLength)
{
    public double DiamondRate => AchievementRates[(int)Achievement.CollectDiamond];
    public double MeanAchievements => AchievementRates.Sum();
}

/// <summary>Achievement success rates of the scripted players: the reference every agent is compared with.</summary>
public static class Baselines
{
    /// <summary>
    /// Plays <paramref name="episodes"/> episodes per named player (see <see cref="Players"/>) in
    /// parallel. Episode i of every player uses the same world, so players are compared on equal
    /// maps; results do not depend on the degree of parallelism.
    /// </summary>
    public static IReadOnlyList<BaselineRow> Run(IEnumerable<string> players, int episodes, CraftConfig? config = null,
        long seed = 0, int maxParallelism = -1)
    {
        config ??= new CraftConfig();
        var rows = new List<BaselineRow>();
        foreach (string name in players)
        {
            var unlocked = new uint[episodes];
            var returns = new double[episodes];
            var lengths = new int[episodes];
            Parallel.For(0, episodes, new ParallelOptions { MaxDegreeOfParallelism = maxParallelism }, i =>
            {
                (unlocked[i], returns[i], lengths[i]) = PlayEpisode(config, Rng.Derive(seed, i), Players.Create(name), Rng.Derive(~seed, i));
            });
            var rates = new double[Achievements.Count];
            for (int a = 0; a < rates.Length; a++)
                rates[a] = unlocked.Count(u => (u & (1u << a)) != 0) / (double)episodes;
            rows.Add(new BaselineRow(name, episodes, rates, returns.Average(), lengths.Average()));
        }
        return rows;
    }

    /// <summary>Plays one episode without rendering; returns the unlocked achievement bits, the return and the length.</summary>
    public static (uint Unlocked, double Return, int Length) PlayEpisode(CraftConfig config, long worldSeed, IPlayer player, long playerSeed)
    {
        var env = new CraftWorld(config, worldSeed);
        var rng = new Rng(playerSeed);
        env.Reset(Span<byte>.Empty);
        double total = 0;
        StepResult r;
        do
        {
            r = env.Step(player.Act(env, rng), Span<byte>.Empty);
            total += r.Reward;
        } while (!r.Done);
        return (env.UnlockedAchievements, total, env.StepCount);
    }

    /// <summary>A Markdown table: one row per achievement (success rate in percent), one column per player.</summary>
    public static string ToMarkdown(IReadOnlyList<BaselineRow> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append("| achievement |");
        foreach (var r in rows) sb.Append(inv, $" {r.Player} |");
        sb.Append("\n|---|");
        foreach (var _ in rows) sb.Append("---:|");
        sb.Append('\n');
        for (int a = 0; a < Achievements.Count; a++)
        {
            sb.Append(inv, $"| {Achievements.Names[a]} |");
            foreach (var r in rows) sb.Append(inv, $" {100 * r.AchievementRates[a]:F0}% |");
            sb.Append('\n');
        }
        void Line(string label, Func<BaselineRow, string> value)
        {
            sb.Append(inv, $"| **{label}** |");
            foreach (var r in rows) sb.Append(inv, $" {value(r)} |");
            sb.Append('\n');
        }
        Line("diamond rate", r => (100 * r.DiamondRate).ToString("F0", inv) + "%");
        Line("mean return", r => r.MeanReturn.ToString("F2", inv));
        Line("mean achievements", r => r.MeanAchievements.ToString("F2", inv));
        Line("mean episode length", r => r.MeanLength.ToString("F0", inv));
        Line("episodes", r => r.Episodes.ToString(inv));
        return sb.ToString();
    }
}
