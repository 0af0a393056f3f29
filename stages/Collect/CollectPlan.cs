using Dreamer.Game;

namespace Dreamer.Stages.Collect;

/// <summary>One episode to record: who plays it, on which world, and whether its log is written.</summary>
public sealed record EpisodePlan(int Index, string Name, string Player, long WorldSeed, long PlayerSeed, bool Labeled);

/// <summary>
/// Which player plays which episode and which episodes stay unlabeled, decided up front from the seed
/// alone, so a collection is reproducible whatever the parallelism.
/// </summary>
public static class CollectPlan
{
    // Rng.Derive stream ids of the plan's own draws, apart from the per-episode streams 0..N-1.
    const long PlayerStream = -1, LabelStream = -2;

    public static string EpisodeName(int index) => $"episode-{index:D6}";

    public static IReadOnlyList<EpisodePlan> Create(CollectSettings settings, long seed)
    {
        int n = settings.Episodes;
        var players = new List<string>(n);
        foreach (var (name, count) in Apportion(settings.Players, n))
            players.AddRange(Enumerable.Repeat(name, count));
        Shuffle(players, new Rng(Rng.Derive(seed, PlayerStream)));

        int unlabeled = (int)Math.Round(settings.UnlabeledShare * n, MidpointRounding.AwayFromZero);
        var order = Enumerable.Range(0, n).ToList();
        Shuffle(order, new Rng(Rng.Derive(seed, LabelStream)));
        var unlabeledSet = order.Take(unlabeled).ToHashSet();

        return Enumerable.Range(0, n)
            .Select(i => new EpisodePlan(i, EpisodeName(i), players[i], Rng.Derive(seed, i), Rng.Derive(~seed, i), !unlabeledSet.Contains(i)))
            .ToList();
    }

    /// <summary>Largest-remainder apportionment of n episodes by share; names in ordinal order so ties break the same way everywhere.</summary>
    static List<(string Name, int Count)> Apportion(IReadOnlyDictionary<string, double> shares, int n)
    {
        var positive = shares.Where(s => s.Value > 0).OrderBy(s => s.Key, StringComparer.Ordinal).ToList();
        double total = positive.Sum(s => s.Value);
        var exact = positive.Select(s => (s.Key, Quota: s.Value / total * n)).ToList();
        var counts = exact.Select(e => (e.Key, Count: (int)Math.Floor(e.Quota))).ToList();
        int left = n - counts.Sum(c => c.Count);
        foreach (int i in Enumerable.Range(0, exact.Count).OrderByDescending(i => exact[i].Quota - Math.Floor(exact[i].Quota)).ThenBy(i => i).Take(left))
            counts[i] = (counts[i].Key, counts[i].Count + 1);
        return counts;
    }

    static void Shuffle<T>(List<T> items, Rng rng)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}

/// <summary>
/// Plays one planned episode step by step, rendering each frame into the caller's buffer. Collect
/// records with it; tests replay with it to get the exact frames and actions a video should hold.
/// </summary>
public sealed class EpisodeRun
{
    readonly CraftWorld _env;
    readonly IPlayer _player;
    readonly Rng _rng;

    public EpisodeRun(EpisodePlan plan, CraftConfig game, double contractorEpsilon)
    {
        Plan = plan;
        _env = new CraftWorld(game, plan.WorldSeed);
        _player = plan.Player == "contractor" ? PlannerPlayer.Contractor(contractorEpsilon) : Players.Create(plan.Player);
        _rng = new Rng(plan.PlayerSeed);
    }

    public EpisodePlan Plan { get; }
    public CraftWorld World => _env;
    public int FrameBytes => _env.FrameBytes;

    /// <summary>Renders frame 0.</summary>
    public void Reset(Span<byte> frame) => _env.Reset(frame);

    /// <summary>The player acts on the current frame; the next frame is rendered into frame.</summary>
    public (int Action, StepResult Result) Step(Span<byte> frame)
    {
        int action = _player.Act(_env, _rng);
        return (action, _env.Step(action, frame));
    }
}
