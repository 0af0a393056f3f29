using Dreamer.Game;

namespace Dreamer.Environment.Tests;

/// <summary>A creature-free world with a cleared 11x11 grass arena around the player, for rule tests.</summary>
internal sealed class Scenario
{
    public readonly CraftWorld Env;
    public readonly byte[] Frame;
    public int X => Env.X;
    public int Y => Env.Y;

    public Scenario(int maxSteps = 10_000, bool creatures = false)
    {
        Env = new CraftWorld(new CraftConfig { Creatures = creatures, MaxSteps = maxSteps }, 7);
        Frame = new byte[Env.FrameBytes];
        Env.Reset(Frame);
        for (int dy = -5; dy <= 5; dy++)
            for (int dx = -5; dx <= 5; dx++)
                Env.SetTile(X + dx, Y + dy, Tile.Grass);
        Env.SetPlayer(X, Y, Direction.Right);
    }

    /// <summary>Puts a tile at an offset from the player.</summary>
    public void Put(int dx, int dy, Tile t) => Env.SetTile(X + dx, Y + dy, t);

    public Tile At(int dx, int dy) => Env.TileAt(X + dx, Y + dy);

    public StepResult Do(GameAction a) => Env.Step((int)a, Frame);

    /// <summary>Faces a tile to the right of the player and interacts with it once.</summary>
    public StepResult UseRight(Tile t)
    {
        Put(1, 0, t);
        Env.SetPlayer(X, Y, Direction.Right);
        return Do(GameAction.Interact);
    }
}
