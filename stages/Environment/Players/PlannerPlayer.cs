namespace Dreamer.Game;

/// <summary>How a <see cref="PlannerPlayer"/> plays: its noise and its survival habits.</summary>
public sealed record PlannerSettings
{
    /// <summary>Probability of a uniformly random action instead of the planned one (a mistake).</summary>
    public double Epsilon { get; init; } = 0.2;
    /// <summary>Go drinking when drink falls below this (and drink until full).</summary>
    public int DrinkBelow { get; init; } = 3;
    /// <summary>Go eating when food falls below this (and eat until nearly full).</summary>
    public int FoodBelow { get; init; } = 3;
    /// <summary>Sleep when energy falls below this.</summary>
    public int SleepBelow { get; init; } = 2;
    /// <summary>Dig into rock, away from grass where zombies walk, before sleeping; and sleep through nights there.</summary>
    public bool SafeSleep { get; init; }
    /// <summary>Never make the mistake of stepping into lava.</summary>
    public bool AvoidLethalMistakes { get; init; }
    /// <summary>Also pursue the side achievements (saplings, plants, place stone, iron sword, skeletons).</summary>
    public bool SideQuests { get; init; }
    /// <summary>Walk back to known crafting stations up to this many steps away rather than building new ones.</summary>
    public int StationReach { get; init; } = 30;
}

/// <summary>
/// Pursues the tech tree with a goal planner over its memory of what it has seen: BFS on the
/// remembered map (tunnelling through rock it can mine) toward the resource the next craft needs,
/// crafting at stations when possible, and breaking off to drink, eat, sleep and fight.
/// </summary>
public sealed class PlannerPlayer(PlannerSettings settings) : IPlayer
{
    /// <summary>A noisy player that knows the goal but makes many mistakes and takes few precautions.</summary>
    public static PlannerPlayer Contractor(double epsilon = 0.2) => new(new PlannerSettings { Epsilon = epsilon });

    /// <summary>A careful player with little noise: keeps its vitals high, sleeps in rock, does side quests.</summary>
    public static PlannerPlayer Skilled() => new(new PlannerSettings
    {
        Epsilon = 0.03, DrinkBelow = 5, FoodBelow = 5, SleepBelow = 3,
        SafeSleep = true, AvoidLethalMistakes = true, SideQuests = true,
    });

    public PlannerSettings Settings => settings;

    const int Noop = (int)GameAction.Noop, Interact = (int)GameAction.Interact;

    CraftWorld? _env;
    int _episode = -1;
    Memory _memory = new(1);
    int[] _dist = [], _first = [], _queue = [];
    bool[] _blocked = [], _goal = [];
    bool _thirsty, _hungry, _sleepy;
    int _n, _here;

    public int Act(CraftWorld env, Rng rng)
    {
        if (!ReferenceEquals(env, _env) || env.Episode != _episode) Begin(env);
        _memory.Observe(env);
        if (env.Sleeping) return Noop;
        int planned = Decide(env, rng);
        if (!rng.Chance(settings.Epsilon)) return planned;
        int mistake = rng.Next(ActionSpace.Count);
        return settings.AvoidLethalMistakes && IsLethal(env, mistake) ? planned : mistake;
    }

    void Begin(CraftWorld env)
    {
        _env = env;
        _episode = env.Episode;
        _n = env.WorldSize;
        if (_memory.N != _n)
        {
            _memory = new Memory(_n);
            _dist = new int[_n * _n];
            _first = new int[_n * _n];
            _queue = new int[_n * _n];
            _blocked = new bool[_n * _n];
            _goal = new bool[_n * _n];
        }
        else
        {
            Array.Clear(_memory.Tiles); Array.Clear(_memory.Seen); Array.Clear(_memory.Mined);
            Array.Clear(_memory.TablesNear); Array.Clear(_memory.FurnacesNear);
            _memory.CowSightings.Clear();
        }
        _thirsty = _hungry = _sleepy = false;
    }

    bool IsLethal(CraftWorld env, int action)
    {
        if (action < (int)GameAction.MoveLeft || action > (int)GameAction.MoveDown) return false;
        var d = (Direction)(action - (int)GameAction.MoveLeft);
        int x = env.X + Directions.Dx(d), y = env.Y + Directions.Dy(d);
        return _memory.InBounds(x, y) && _memory.Tiles[y * _n + x] == Tile.Lava;
    }

    int Decide(CraftWorld env, Rng rng)
    {
        _here = env.Y * _n + env.X;
        Search(env);

        // Hit anything hostile standing next to us.
        for (int d = 0; d < 4; d++)
        {
            CreatureKind k = CreatureAt(Neighbour(_here, (Direction)d));
            if (k is CreatureKind.Zombie or CreatureKind.Skeleton) return Face(env, (Direction)d, Interact);
        }

        if (env.Drink < settings.DrinkBelow) _thirsty = true;
        if (_thirsty)
        {
            if (env.Drink >= CraftWorld.MaxVital) _thirsty = false;
            else if (TryUse(env, Mark(t => t == Tile.Water), out int a)) return a;
            else return Explore(env, rng);
        }

        if (env.Food < settings.FoodBelow) _hungry = true;
        if (_hungry)
        {
            if (env.Food >= CraftWorld.MaxVital - 1) _hungry = false;
            else return Eat(env, rng);
        }

        bool night = env.Daylight < 0.3f;
        if (env.Energy < settings.SleepBelow || (settings.SafeSleep && night && env.Energy < CraftWorld.MaxVital - 2)) _sleepy = true;
        if (_sleepy)
        {
            if (env.Energy >= CraftWorld.MaxVital && !night) _sleepy = false;
            else if (env.Energy < CraftWorld.MaxVital) return Sleep(env, rng);
        }

        return Progress(env, rng);
    }

    /// <summary>The next tech-tree step, then side quests, then exploration.</summary>
    int Progress(CraftWorld env, Rng rng)
    {
        bool side = settings.SideQuests;
        if (!Has(env, Item.WoodPickaxe)) return Craft(env, rng, GameAction.MakeWoodPickaxe, 1, 0, 0, 0, false);
        if (!Has(env, Item.WoodSword)) return Craft(env, rng, GameAction.MakeWoodSword, 1, 0, 0, 0, false);
        if (side && !env.HasAchievement(Achievement.PlacePlant)) return Plant(env, rng);
        if (!Has(env, Item.StonePickaxe)) return Craft(env, rng, GameAction.MakeStonePickaxe, 1, 1, 0, 0, false);
        if (!Has(env, Item.StoneSword)) return Craft(env, rng, GameAction.MakeStoneSword, 1, 1, 0, 0, false);
        if (side && !env.HasAchievement(Achievement.PlaceStone) && env.Count(Item.Stone) > 0)
            return PlaceAhead(env, rng, GameAction.PlaceStone, t => t is Tile.Grass or Tile.Sand or Tile.Path);
        if (!Has(env, Item.IronPickaxe)) return Craft(env, rng, GameAction.MakeIronPickaxe, 1, 0, 1, 1, true);
        if (!env.HasAchievement(Achievement.CollectDiamond)) return Gather(env, rng, Tile.Diamond);
        if (side)
        {
            if (!Has(env, Item.IronSword)) return Craft(env, rng, GameAction.MakeIronSword, 1, 0, 1, 1, true);
            if (!env.HasAchievement(Achievement.EatPlant) && TryUse(env, Mark(t => t == Tile.RipePlant), out int a)) return a;
            if (!env.HasAchievement(Achievement.DefeatSkeleton) && env.Health > 5 && TryUse(env, MarkCreatures(CreatureKind.Skeleton), out a)) return a;
        }
        if (env.Count(Item.Diamond) < CraftWorld.MaxStack) return Gather(env, rng, Tile.Diamond);
        return Explore(env, rng);
    }

    static bool Has(CraftWorld env, Item tool) => env.Count(tool) > 0;

    /// <summary>
    /// Makes a tool: gathers its materials plus whatever stations it must build, then crafts at a
    /// known station within reach or builds a table (and furnace) where it stands.
    /// </summary>
    int Craft(CraftWorld env, Rng rng, GameAction make, int wood, int stone, int coal, int iron, bool furnace)
    {
        bool nearTable = _memory.TablesNear[_here] > 0, nearFurnace = _memory.FurnacesNear[_here] > 0;
        bool ready = nearTable && (!furnace || nearFurnace);
        int spot = ready ? _here : Nearest(MarkSpots(furnace));
        bool spotInReach = spot >= 0 && _dist[spot] <= settings.StationReach;
        int table = nearTable ? _here : Nearest(MarkSpots(false));
        bool tableInReach = table >= 0 && _dist[table] <= settings.StationReach;
        bool buildTable = !ready && !spotInReach && !tableInReach;
        bool buildFurnace = furnace && !ready && !spotInReach;
        int needWood = wood + (buildTable ? CraftWorld.TableWood : 0);
        int needStone = stone + (buildFurnace ? CraftWorld.FurnaceStone : 0);

        if (env.Count(Item.Wood) < needWood) return Gather(env, rng, Tile.Tree);
        if (env.Count(Item.Stone) < needStone) return Gather(env, rng, Tile.Stone);
        if (env.Count(Item.Coal) < coal) return Gather(env, rng, Tile.Coal);
        if (env.Count(Item.Iron) < iron) return Gather(env, rng, Tile.Iron);

        if (ready) return (int)make;
        if (spotInReach) return StepTo(env, spot);
        if (buildTable) return PlaceAhead(env, rng, GameAction.PlaceTable, t => t is Tile.Grass or Tile.Sand or Tile.Path);
        if (!nearTable) return StepTo(env, table);
        return PlaceAhead(env, rng, GameAction.PlaceFurnace, t => t is Tile.Grass or Tile.Sand or Tile.Path);
    }

    /// <summary>Interacts with the nearest known tile of a kind, or explores to find one.</summary>
    int Gather(CraftWorld env, Rng rng, Tile kind) =>
        TryUse(env, Mark(t => t == kind), out int a) ? a : Explore(env, rng);

    int Eat(CraftWorld env, Rng rng)
    {
        if (TryUse(env, Mark(t => t == Tile.RipePlant), out int a)) return a;
        if (TryUse(env, MarkCreatures(CreatureKind.Cow), out a)) return a;
        Array.Clear(_goal);
        foreach (int cell in _memory.CowSightings) _goal[cell] = true;
        int sighting = Nearest(_goal);
        return sighting >= 0 && sighting != _here ? StepTo(env, sighting) : Explore(env, rng);
    }

    /// <summary>Collects a sapling from grass and plants it, for place_plant now and eat_plant later.</summary>
    int Plant(CraftWorld env, Rng rng)
    {
        if (env.Count(Item.Sapling) > 0) return PlaceAhead(env, rng, GameAction.PlaceSapling, t => t == Tile.Grass);
        return TryUse(env, Mark(t => t == Tile.Grass), out int a) ? a : Explore(env, rng);
    }

    int Sleep(CraftWorld env, Rng rng)
    {
        if (!settings.SafeSleep) return (int)GameAction.Sleep;
        Array.Clear(_goal);
        for (int i = 0; i < _goal.Length; i++) _goal[i] = _dist[i] >= 0 && IsBed(env, i);
        int bed = Nearest(_goal);
        if (bed == _here) return (int)GameAction.Sleep;
        // With no bed in reach, or too tired to walk, sleep where we are.
        if (bed < 0 || env.Energy == 0) return (int)GameAction.Sleep;
        return StepTo(env, bed);
    }

    /// <summary>A cell in rock (or our own tunnel) whose neighbours keep zombies and skeletons from standing next to us.</summary>
    bool IsBed(CraftWorld env, int cell)
    {
        Tile t = _memory.Tiles[cell];
        if (!(t == Tile.Path && _memory.Mined[cell]) && !CanMine(env, t)) return false;
        for (int d = 0; d < 4; d++)
        {
            int n = Neighbour(cell, (Direction)d);
            if (n < 0) continue;
            if (!_memory.Seen[n]) return false;
            Tile nt = _memory.Tiles[n];
            if (nt is Tile.Grass or Tile.Sand or Tile.Lava) return false;
            if (nt == Tile.Path && !_memory.Mined[n]) return false;
        }
        return true;
    }

    int Explore(CraftWorld env, Rng rng)
    {
        Array.Clear(_goal);
        for (int i = 0; i < _goal.Length; i++)
        {
            if (_dist[i] <= 0) continue;
            for (int d = 0; d < 4; d++)
            {
                int n = Neighbour(i, (Direction)d);
                if (n >= 0 && !_memory.Seen[n]) { _goal[i] = true; break; }
            }
        }
        int frontier = Nearest(_goal);
        if (frontier >= 0) return StepTo(env, frontier);
        // Everything reachable is known: wander.
        return (int)GameAction.MoveLeft + rng.Next(4);
    }

    /// <summary>Places something on the facing tile, first stepping so that a suitable tile is in front.</summary>
    int PlaceAhead(CraftWorld env, Rng rng, GameAction place, Func<Tile, bool> fits)
    {
        if (Fits(Neighbour(_here, env.Facing), fits)) return (int)place;
        for (int d = 0; d < 4; d++)
        {
            int n = Neighbour(_here, (Direction)d);
            if (n >= 0 && Walkable(n) && Fits(Neighbour(n, (Direction)d), fits)) return (int)GameAction.MoveLeft + d;
        }
        return (int)GameAction.MoveLeft + rng.Next(4);
    }

    bool Fits(int cell, Func<Tile, bool> fits) => cell >= 0 && fits(_memory.Tiles[cell]) && CreatureAt(cell) == CreatureKind.None;

    /// <summary>Marks the known cells of a tile kind.</summary>
    bool[] Mark(Func<Tile, bool> kind)
    {
        for (int i = 0; i < _goal.Length; i++) _goal[i] = _memory.Seen[i] && kind(_memory.Tiles[i]);
        return _goal;
    }

    bool[] MarkCreatures(CreatureKind kind)
    {
        Array.Clear(_goal);
        foreach (var (cell, k) in _memory.Visible) if (k == kind) _goal[cell] = true;
        return _goal;
    }

    /// <summary>Marks reachable cells where a table (and a furnace) are within crafting distance.</summary>
    bool[] MarkSpots(bool furnace)
    {
        for (int i = 0; i < _goal.Length; i++)
            _goal[i] = _dist[i] >= 0 && _memory.TablesNear[i] > 0 && (!furnace || _memory.FurnacesNear[i] > 0);
        return _goal;
    }

    /// <summary>
    /// Walks next to the nearest marked target and interacts with it. False when no target is
    /// reachable. Targets are things one faces (trees, water, ores, creatures), never walked onto.
    /// </summary>
    bool TryUse(CraftWorld env, bool[] targets, out int action)
    {
        action = Noop;
        for (int d = 0; d < 4; d++)
        {
            int n = Neighbour(_here, (Direction)d);
            if (n >= 0 && targets[n] && !Walkable(n)) { action = Face(env, (Direction)d, Interact); return true; }
            // Grass is walkable: face it only if we already do.
            if (n >= 0 && targets[n] && (Direction)d == env.Facing) { action = Interact; return true; }
        }
        int best = -1;
        for (int i = 0; i < targets.Length; i++)
        {
            if (!targets[i]) continue;
            for (int d = 0; d < 4; d++)
            {
                int n = Neighbour(i, (Direction)d);
                if (n >= 0 && n != _here && _dist[n] > 0 && (best < 0 || _dist[n] < _dist[best])) best = n;
            }
        }
        if (best < 0) return false;
        action = StepTo(env, best);
        return true;
    }

    /// <summary>Turns toward a direction (a move into a blocked cell only turns) and then does the action.</summary>
    static int Face(CraftWorld env, Direction d, int action) =>
        env.Facing == d ? action : (int)GameAction.MoveLeft + (int)d;

    /// <summary>First step of the shortest path to a cell, mining through rock on the way.</summary>
    int StepTo(CraftWorld env, int cell)
    {
        if (cell == _here) return Noop;
        var d = (Direction)_first[cell];
        int n = Neighbour(_here, d);
        return CanMine(env, _memory.Tiles[n]) ? Face(env, d, Interact) : (int)GameAction.MoveLeft + (int)d;
    }

    int Nearest(bool[] goal)
    {
        int best = -1;
        for (int i = 0; i < goal.Length; i++)
            if (goal[i] && _dist[i] >= 0 && (best < 0 || _dist[i] < _dist[best])) best = i;
        return best;
    }

    /// <summary>Breadth-first search from the player over remembered cells that are walkable or minable.</summary>
    void Search(CraftWorld env)
    {
        Array.Fill(_dist, -1);
        foreach (var (cell, _) in _memory.Visible) _blocked[cell] = true;
        int head = 0, tail = 0;
        _dist[_here] = 0;
        _queue[tail++] = _here;
        while (head < tail)
        {
            int c = _queue[head++];
            for (int d = 0; d < 4; d++)
            {
                int n = Neighbour(c, (Direction)d);
                if (n < 0 || _dist[n] >= 0 || _blocked[n] || !_memory.Seen[n]) continue;
                Tile t = _memory.Tiles[n];
                if (!CraftWorld.IsWalkable(t) && !CanMine(env, t)) continue;
                _dist[n] = _dist[c] + 1;
                _first[n] = c == _here ? d : _first[c];
                _queue[tail++] = n;
            }
        }
        foreach (var (cell, _) in _memory.Visible) _blocked[cell] = false;
    }

    static bool CanMine(CraftWorld env, Tile t) => t switch
    {
        Tile.Stone or Tile.Coal => env.Count(Item.WoodPickaxe) > 0,
        Tile.Iron => env.Count(Item.StonePickaxe) > 0,
        Tile.Diamond => env.Count(Item.IronPickaxe) > 0,
        _ => false,
    };

    bool Walkable(int cell) => CraftWorld.IsWalkable(_memory.Tiles[cell]) && CreatureAt(cell) == CreatureKind.None;

    CreatureKind CreatureAt(int cell)
    {
        if (cell < 0) return CreatureKind.None;
        foreach (var (c, k) in _memory.Visible) if (c == cell) return k;
        return CreatureKind.None;
    }

    int Neighbour(int cell, Direction d)
    {
        int x = cell % _n + Directions.Dx(d), y = cell / _n + Directions.Dy(d);
        return _memory.InBounds(x, y) ? y * _n + x : -1;
    }
}
