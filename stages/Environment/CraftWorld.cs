using System.Numerics;

namespace Dreamer.Game;

/// <summary>
/// The built-in survival-and-crafting game. One instance plays one episode at a time;
/// <see cref="Step"/> allocates nothing and renders straight into the caller's frame.
/// Rules are documented in RULES.md; this file holds the player's actions and vitals,
/// Creatures.cs the creatures, WorldGen.cs the map, Render.cs the picture.
/// </summary>
public sealed partial class CraftWorld
{
    public const int MaxStack = 9;
    public const int MaxVital = 9;
    public const int TableWood = 3;
    public const int FurnaceStone = 3;
    /// <summary>Crafting stations count as nearby within this Chebyshev distance of the player.</summary>
    public const int NearDistance = 2;
    public const double SaplingChance = 0.1;
    public const int PlantRipeSteps = 200;

    // Vital periods in steps; sleeping halves hunger and thirst.
    const int FoodPeriod = 30, DrinkPeriod = 25, EnergyPeriod = 35, SleepEnergyPeriod = 6;
    const int RecoverPeriod = 10, StarvePeriod = 8;

    readonly CraftConfig _config;
    readonly long _seed;
    readonly int _n;
    readonly Tile[] _tiles;
    readonly bool[] _tunnel;          // generated tunnels: where skeletons live
    readonly int[] _plantPos, _plantAge;
    int _plantCount;
    readonly byte[] _inventory = new byte[ItemCount];
    readonly Rng _rng = new(0);
    readonly SpriteAtlas _atlas;

    int _episode = -1;
    long _episodeSeed;
    int _px, _py;
    Direction _facing;
    bool _sleeping, _done;
    int _health, _food, _drink, _energy;
    int _hungerAcc, _thirstAcc, _fatigueAcc, _recoverAcc, _starveAcc;
    uint _achievements;
    int _step;

    const int ItemCount = 12;

    public CraftWorld(CraftConfig config, long seed)
    {
        config.Validate();
        _config = config;
        _seed = seed;
        _n = config.WorldSize;
        _tiles = new Tile[_n * _n];
        _tunnel = new bool[_n * _n];
        _plantPos = new int[_n * _n];
        _plantAge = new int[_n * _n];
        _occupant = new short[_n * _n];
        _noise = new float[_n * _n];
        _atlas = SpriteAtlas.ForUnit(Math.Min(config.Width, config.Height) / Layout.Units);
    }

    public CraftConfig Config => _config;
    public int FrameBytes => _config.Width * _config.Height * 3;
    public int WorldSize => _n;
    /// <summary>Counts resets; the k-th episode of an instance plays world <c>Rng.Derive(seed, k)</c>.</summary>
    public int Episode => _episode;
    public long EpisodeSeed => _episodeSeed;
    public int StepCount => _step;
    public bool Done => _done;
    public int X => _px;
    public int Y => _py;
    public Direction Facing => _facing;
    public bool Sleeping => _sleeping;
    public int Health => _health;
    public int Food => _food;
    public int Drink => _drink;
    public int Energy => _energy;
    public uint UnlockedAchievements => _achievements;
    public bool HasAchievement(Achievement a) => (_achievements & Achievements.Bit(a)) != 0;
    public int Count(Item item) => _inventory[(int)item];
    public int AchievementCount => BitOperations.PopCount(_achievements);

    /// <summary>Light level in [0, 1]: 1 at noon, 0 at midnight; the episode starts at noon.</summary>
    public float Daylight => DaylightAt(_step, _config.DayLength);

    public static float DaylightAt(int step, int dayLength)
    {
        double phase = (double)(step % dayLength) / dayLength;
        return (float)Math.Clamp(0.65 + 0.9 * Math.Cos(2 * Math.PI * phase), 0, 1);
    }

    /// <summary>Tile at view cell (vx, vy), vx in [0, 9), vy in [0, 7); the player stands at (4, 3).</summary>
    public Tile ViewTile(int vx, int vy) => TileAt(_px - Layout.CenterX + vx, _py - Layout.CenterY + vy);

    /// <summary>Creature at view cell (vx, vy); the player's own cell reports None.</summary>
    public CreatureKind ViewCreature(int vx, int vy) => CreatureAt(_px - Layout.CenterX + vx, _py - Layout.CenterY + vy);

    /// <summary>Starts the next episode and renders its first frame (skipped for an empty span).</summary>
    public void Reset(Span<byte> frame)
    {
        CheckFrame(frame);
        _episode++;
        _episodeSeed = Rng.Derive(_seed, _episode);
        _rng.Reseed(_episodeSeed);
        _creatureCount = 0;
        Array.Clear(_occupant);
        _plantCount = 0;
        Generate();
        Array.Clear(_inventory);
        _facing = Direction.Down;
        _sleeping = _done = false;
        _health = _food = _drink = _energy = MaxVital;
        _hungerAcc = _thirstAcc = _fatigueAcc = _recoverAcc = _starveAcc = 0;
        _achievements = 0;
        _step = 0;
        if (!frame.IsEmpty) Render(frame);
    }

    /// <summary>Plays one action and renders the next frame (skipped for an empty span).</summary>
    public StepResult Step(int action, Span<byte> frame)
    {
        if (_episode < 0) throw new InvalidOperationException("call Reset before Step");
        if (_done) throw new InvalidOperationException("the episode is over; call Reset");
        if ((uint)action >= ActionSpace.Count) throw new ArgumentOutOfRangeException(nameof(action), action, "not an action");
        CheckFrame(frame);

        _step++;
        int healthBefore = _health;
        uint before = _achievements;
        // A sleeping player does nothing until it wakes.
        if (!_sleeping) Act((GameAction)action);
        UpdateCreatures();
        UpdateVitals();
        GrowPlants();
        if (_config.Creatures) BalanceCreatures();

        uint unlocked = _achievements & ~before;
        float reward = BitOperations.PopCount(unlocked);
        if (_config.HealthReward) reward += 0.1f * (_health - healthBefore);
        bool died = _health <= 0;
        _done = died || _step >= _config.MaxSteps;
        if (!frame.IsEmpty) Render(frame);
        return new StepResult(reward, _done, died, unlocked);
    }

    void Act(GameAction action)
    {
        switch (action)
        {
            case GameAction.Noop: break;
            case GameAction.MoveLeft: case GameAction.MoveRight: case GameAction.MoveUp: case GameAction.MoveDown:
                Move((Direction)(action - GameAction.MoveLeft));
                break;
            case GameAction.Interact: Interact(); break;
            case GameAction.PlaceStone:
                if (Place(Tile.Stone, Item.Stone, 1, false, PlaceableForStone)) Unlock(Achievement.PlaceStone);
                break;
            case GameAction.PlaceTable:
                if (Place(Tile.Table, Item.Wood, TableWood, false, PlaceableGround)) Unlock(Achievement.PlaceTable);
                break;
            case GameAction.PlaceFurnace:
                if (Place(Tile.Furnace, Item.Stone, FurnaceStone, true, PlaceableGround)) Unlock(Achievement.PlaceFurnace);
                break;
            case GameAction.PlaceSapling:
                if (Place(Tile.Plant, Item.Sapling, 1, false, t => t == Tile.Grass))
                {
                    AddPlant(Front);
                    Unlock(Achievement.PlacePlant);
                }
                break;
            case GameAction.MakeWoodPickaxe: Make(Item.WoodPickaxe, false, 1, 0, 0, 0, Achievement.MakeWoodPickaxe); break;
            case GameAction.MakeStonePickaxe: Make(Item.StonePickaxe, false, 1, 1, 0, 0, Achievement.MakeStonePickaxe); break;
            case GameAction.MakeIronPickaxe: Make(Item.IronPickaxe, true, 1, 0, 1, 1, Achievement.MakeIronPickaxe); break;
            case GameAction.MakeWoodSword: Make(Item.WoodSword, false, 1, 0, 0, 0, Achievement.MakeWoodSword); break;
            case GameAction.MakeStoneSword: Make(Item.StoneSword, false, 1, 1, 0, 0, Achievement.MakeStoneSword); break;
            case GameAction.MakeIronSword: Make(Item.IronSword, true, 1, 0, 1, 1, Achievement.MakeIronSword); break;
            case GameAction.Sleep:
                if (_energy < MaxVital) _sleeping = true;
                break;
        }
    }

    int Front => Index(_px + Directions.Dx(_facing), _py + Directions.Dy(_facing));

    void Move(Direction d)
    {
        _facing = d;
        int x = _px + Directions.Dx(d), y = _py + Directions.Dy(d);
        if (!InBounds(x, y) || _occupant[Index(x, y)] != 0) return;
        Tile t = _tiles[Index(x, y)];
        if (t == Tile.Lava)
        {
            _px = x; _py = y;
            _health = 0;   // lava is walkable and deadly
            return;
        }
        if (IsWalkable(t)) { _px = x; _py = y; }
    }

    void Interact()
    {
        int x = _px + Directions.Dx(_facing), y = _py + Directions.Dy(_facing);
        if (!InBounds(x, y)) return;
        int i = Index(x, y);
        if (_occupant[i] != 0) { Attack(_occupant[i] - 1); return; }
        switch (_tiles[i])
        {
            case Tile.Tree: Collect(Item.Wood, Achievement.CollectWood); break;
            case Tile.Stone: Mine(i, Item.WoodPickaxe, Item.Stone, Achievement.CollectStone); break;
            case Tile.Coal: Mine(i, Item.WoodPickaxe, Item.Coal, Achievement.CollectCoal); break;
            case Tile.Iron: Mine(i, Item.StonePickaxe, Item.Iron, Achievement.CollectIron); break;
            case Tile.Diamond: Mine(i, Item.IronPickaxe, Item.Diamond, Achievement.CollectDiamond); break;
            case Tile.Water:
                _drink = Math.Min(MaxVital, _drink + 1);
                _thirstAcc = 0;
                Unlock(Achievement.CollectDrink);
                break;
            case Tile.Grass:
                if (_rng.Chance(SaplingChance)) Collect(Item.Sapling, Achievement.CollectSapling);
                break;
            case Tile.RipePlant:
                _food = Math.Min(MaxVital, _food + 4);
                _hungerAcc = 0;
                _tiles[i] = Tile.Plant;
                AddPlant(i);
                Unlock(Achievement.EatPlant);
                break;
        }
    }

    void Collect(Item item, Achievement a)
    {
        _inventory[(int)item] = (byte)Math.Min(MaxStack, _inventory[(int)item] + 1);
        Unlock(a);
    }

    void Mine(int i, Item tool, Item item, Achievement a)
    {
        if (_inventory[(int)tool] == 0) return;
        _tiles[i] = Tile.Path;
        Collect(item, a);
    }

    bool Place(Tile tile, Item cost, int amount, bool needsTable, Func<Tile, bool> placeable)
    {
        int x = _px + Directions.Dx(_facing), y = _py + Directions.Dy(_facing);
        if (_inventory[(int)cost] < amount || !InBounds(x, y)) return false;
        int i = Index(x, y);
        if (_occupant[i] != 0 || !placeable(_tiles[i])) return false;
        if (needsTable && !IsNear(Tile.Table)) return false;
        _inventory[(int)cost] -= (byte)amount;
        _tiles[i] = tile;
        return true;
    }

    static readonly Func<Tile, bool> PlaceableGround = t => t is Tile.Grass or Tile.Sand or Tile.Path;
    static readonly Func<Tile, bool> PlaceableForStone = t => t is Tile.Grass or Tile.Sand or Tile.Path or Tile.Water or Tile.Lava;

    void Make(Item tool, bool needsFurnace, int wood, int stone, int coal, int iron, Achievement a)
    {
        if (_inventory[(int)tool] > 0) return;   // tools do not stack
        if (!IsNear(Tile.Table) || (needsFurnace && !IsNear(Tile.Furnace))) return;
        if (Count(Item.Wood) < wood || Count(Item.Stone) < stone || Count(Item.Coal) < coal || Count(Item.Iron) < iron) return;
        _inventory[(int)Item.Wood] -= (byte)wood;
        _inventory[(int)Item.Stone] -= (byte)stone;
        _inventory[(int)Item.Coal] -= (byte)coal;
        _inventory[(int)Item.Iron] -= (byte)iron;
        _inventory[(int)tool] = 1;
        Unlock(a);
    }

    /// <summary>True when a tile of this kind lies within <see cref="NearDistance"/> (Chebyshev) of the player.</summary>
    public bool IsNear(Tile kind)
    {
        for (int dy = -NearDistance; dy <= NearDistance; dy++)
            for (int dx = -NearDistance; dx <= NearDistance; dx++)
                if (TileAt(_px + dx, _py + dy) == kind) return true;
        return false;
    }

    /// <summary>Damage of the player's best weapon.</summary>
    int AttackDamage =>
        Count(Item.IronSword) > 0 ? 5 : Count(Item.StoneSword) > 0 ? 3 : Count(Item.WoodSword) > 0 ? 2 : 1;

    void Unlock(Achievement a) => _achievements |= Achievements.Bit(a);

    void HurtPlayer(int damage)
    {
        _sleeping = false;   // pain wakes the player, without the wake_up achievement
        _health -= damage;
    }

    void UpdateVitals()
    {
        int rate = _sleeping ? 1 : 2;   // accumulators count half-steps so sleeping halves hunger and thirst
        if ((_hungerAcc += rate) >= 2 * FoodPeriod) { _hungerAcc = 0; _food = Math.Max(0, _food - 1); }
        if ((_thirstAcc += rate) >= 2 * DrinkPeriod) { _thirstAcc = 0; _drink = Math.Max(0, _drink - 1); }
        if (_sleeping)
        {
            if (++_fatigueAcc >= SleepEnergyPeriod) { _fatigueAcc = 0; _energy = Math.Min(MaxVital, _energy + 1); }
            // Waking needs rest and light: a rested player sleeps on through the night.
            if (_energy >= MaxVital && Daylight >= 0.3f)
            {
                _sleeping = false;
                _fatigueAcc = 0;
                Unlock(Achievement.WakeUp);
            }
        }
        else if (++_fatigueAcc >= EnergyPeriod) { _fatigueAcc = 0; _energy = Math.Max(0, _energy - 1); }

        int lacking = (_food == 0 ? 1 : 0) + (_drink == 0 ? 1 : 0) + (_energy == 0 ? 1 : 0);
        if (lacking == 0)
        {
            _starveAcc = 0;
            if ((_recoverAcc += _sleeping ? 2 : 1) >= RecoverPeriod) { _recoverAcc = 0; _health = Math.Min(MaxVital, _health + 1); }
        }
        else
        {
            _recoverAcc = 0;
            if ((_starveAcc += lacking) >= StarvePeriod) { _starveAcc = 0; _health -= 1; }
        }
    }

    void AddPlant(int i)
    {
        _plantPos[_plantCount] = i;
        _plantAge[_plantCount] = 0;
        _plantCount++;
    }

    void GrowPlants()
    {
        for (int k = _plantCount - 1; k >= 0; k--)
        {
            int i = _plantPos[k];
            // A plant replaced by something else (e.g. stone placed on it) stops growing.
            if (_tiles[i] != Tile.Plant) { RemovePlant(k); continue; }
            if (++_plantAge[k] >= PlantRipeSteps) { _tiles[i] = Tile.RipePlant; RemovePlant(k); }
        }
    }

    void RemovePlant(int k)
    {
        _plantCount--;
        _plantPos[k] = _plantPos[_plantCount];
        _plantAge[k] = _plantAge[_plantCount];
    }

    internal bool InBounds(int x, int y) => (uint)x < (uint)_n && (uint)y < (uint)_n;
    internal int Index(int x, int y) => y * _n + x;
    internal Tile TileAt(int x, int y) => InBounds(x, y) ? _tiles[Index(x, y)] : Tile.Void;

    public static bool IsWalkable(Tile t) => t is Tile.Grass or Tile.Sand or Tile.Path;

    // Scenario hooks for rule tests.
    internal void SetTile(int x, int y, Tile t)
    {
        _tiles[Index(x, y)] = t;
        if (t == Tile.Plant) AddPlant(Index(x, y));
    }
    internal void SetCount(Item item, int count) => _inventory[(int)item] = (byte)count;
    internal void SetPlayer(int x, int y, Direction facing) { _px = x; _py = y; _facing = facing; }
    internal void SetVitals(int health, int food, int drink, int energy) { _health = health; _food = food; _drink = drink; _energy = energy; }
}
