namespace Dreamer.Game;

/// <summary>
/// What a player has seen this episode: the last observed tile of every cell it has had in view,
/// the cells it mined itself, where it saw cows, and where the crafting stations are. Built only
/// from the local view, once per step.
/// </summary>
internal sealed class Memory
{
    public readonly int N;
    public readonly Tile[] Tiles;
    public readonly bool[] Seen;
    public readonly bool[] Mined;
    /// <summary>Number of known tables (furnaces) within crafting distance of each cell.</summary>
    public readonly byte[] TablesNear, FurnacesNear;
    /// <summary>Creatures in view this step: cell index and kind.</summary>
    public readonly List<(int Cell, CreatureKind Kind)> Visible = new(32);
    /// <summary>Last cells where cows were seen, forgotten once the cell is seen empty.</summary>
    public readonly List<int> CowSightings = new(16);

    public Memory(int n)
    {
        N = n;
        Tiles = new Tile[n * n];
        Seen = new bool[n * n];
        Mined = new bool[n * n];
        TablesNear = new byte[n * n];
        FurnacesNear = new byte[n * n];
    }

    public bool InBounds(int x, int y) => (uint)x < (uint)N && (uint)y < (uint)N;

    public void Observe(CraftWorld env)
    {
        Visible.Clear();
        for (int vy = 0; vy < Layout.ViewHeight; vy++)
            for (int vx = 0; vx < Layout.ViewWidth; vx++)
            {
                int x = env.X - Layout.CenterX + vx, y = env.Y - Layout.CenterY + vy;
                if (!InBounds(x, y)) continue;
                int i = y * N + x;
                Tile t = env.ViewTile(vx, vy);
                Tile before = Tiles[i];
                bool seenBefore = Seen[i];
                // A wall that turned into a path while we stood next to it was mined by us.
                if (seenBefore && t == Tile.Path && before is Tile.Stone or Tile.Coal or Tile.Iron or Tile.Diamond) Mined[i] = true;
                Tiles[i] = t;
                Seen[i] = true;
                if (t is Tile.Table or Tile.Furnace && (!seenBefore || before != t)) MarkStation(x, y, t == Tile.Table ? TablesNear : FurnacesNear);
                CreatureKind k = env.ViewCreature(vx, vy);
                if (k != CreatureKind.None) Visible.Add((i, k));
            }
        int viewLeft = env.X - Layout.CenterX, viewTop = env.Y - Layout.CenterY;
        CowSightings.RemoveAll(c => c % N - viewLeft is >= 0 and < Layout.ViewWidth && c / N - viewTop is >= 0 and < Layout.ViewHeight);
        foreach (var (cell, kind) in Visible)
            if (kind == CreatureKind.Cow) CowSightings.Add(cell);
    }

    void MarkStation(int x, int y, byte[] near)
    {
        for (int dy = -CraftWorld.NearDistance; dy <= CraftWorld.NearDistance; dy++)
            for (int dx = -CraftWorld.NearDistance; dx <= CraftWorld.NearDistance; dx++)
                if (InBounds(x + dx, y + dy)) near[(y + dy) * N + x + dx]++;
    }
}
