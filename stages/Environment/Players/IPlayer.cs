namespace Dreamer.Game;

/// <summary>
/// A scripted player. It may read only what a person at the screen could know: the local view
/// (<see cref="CraftWorld.ViewTile"/>, <see cref="CraftWorld.ViewCreature"/>), the inventory and
/// vitals, its own position and facing, and whatever it chooses to remember. It must not read the
/// hidden map. A player keeps per-episode memory and notices a new episode by itself.
/// </summary>
public interface IPlayer
{
    /// <summary>Chooses the next action (an index into <see cref="ActionSpace.Names"/>).</summary>
    int Act(CraftWorld env, Rng rng);
}

/// <summary>Uniformly random actions.</summary>
public sealed class RandomPlayer : IPlayer
{
    public int Act(CraftWorld env, Rng rng) => rng.Next(ActionSpace.Count);
}

/// <summary>The named players, for collection and baselines.</summary>
public static class Players
{
    public static readonly IReadOnlyList<string> Names = ["random", "contractor", "skilled"];

    public static IPlayer Create(string name) => name switch
    {
        "random" => new RandomPlayer(),
        "contractor" => PlannerPlayer.Contractor(),
        "skilled" => PlannerPlayer.Skilled(),
        _ => throw new ArgumentException($"unknown player '{name}' (known: {string.Join(", ", Names)})", nameof(name)),
    };
}
