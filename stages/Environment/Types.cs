using System.Collections.Immutable;

namespace Dreamer.Game;

/// <summary>World tiles. <see cref="Void"/> is outside the map and is rendered black.</summary>
public enum Tile : byte
{
    Void, Grass, Sand, Water, Tree, Stone, Coal, Iron, Diamond, Lava, Path, Table, Furnace, Plant, RipePlant,
}

/// <summary>Inventory items; counts are capped at <see cref="CraftWorld.MaxStack"/>, tools at one.</summary>
public enum Item : byte
{
    Sapling, Wood, Stone, Coal, Iron, Diamond,
    WoodPickaxe, StonePickaxe, IronPickaxe, WoodSword, StoneSword, IronSword,
}

/// <summary>The 17 discrete actions, in the order of <see cref="ActionSpace.Names"/>.</summary>
public enum GameAction : byte
{
    Noop, MoveLeft, MoveRight, MoveUp, MoveDown, Interact,
    PlaceStone, PlaceTable, PlaceFurnace, PlaceSapling,
    MakeWoodPickaxe, MakeStonePickaxe, MakeIronPickaxe,
    MakeWoodSword, MakeStoneSword, MakeIronSword,
    Sleep,
}

/// <summary>Facing directions, in the same order as the move actions.</summary>
public enum Direction : byte { Left, Right, Up, Down }

public enum CreatureKind : byte { None, Cow, Zombie, Skeleton, Arrow }

/// <summary>Achievements; each unlocks at most once per episode and pays +1 then.</summary>
public enum Achievement : byte
{
    CollectCoal, CollectDiamond, CollectDrink, CollectIron, CollectSapling, CollectStone, CollectWood,
    DefeatSkeleton, DefeatZombie, EatCow, EatPlant,
    MakeIronPickaxe, MakeIronSword, MakeStonePickaxe, MakeStoneSword, MakeWoodPickaxe, MakeWoodSword,
    PlaceFurnace, PlacePlant, PlaceStone, PlaceTable, WakeUp,
}

/// <summary>Static descriptor of the action space: one categorical component.</summary>
public static class ActionSpace
{
    public const int Count = 17;

    public static readonly ImmutableArray<string> Names =
    [
        "noop", "move_left", "move_right", "move_up", "move_down", "interact",
        "place_stone", "place_table", "place_furnace", "place_sapling",
        "make_wood_pickaxe", "make_stone_pickaxe", "make_iron_pickaxe",
        "make_wood_sword", "make_stone_sword", "make_iron_sword",
        "sleep",
    ];
}

public static class Achievements
{
    public const int Count = 22;

    public static readonly ImmutableArray<string> Names =
    [
        "collect_coal", "collect_diamond", "collect_drink", "collect_iron", "collect_sapling", "collect_stone", "collect_wood",
        "defeat_skeleton", "defeat_zombie", "eat_cow", "eat_plant",
        "make_iron_pickaxe", "make_iron_sword", "make_stone_pickaxe", "make_stone_sword", "make_wood_pickaxe", "make_wood_sword",
        "place_furnace", "place_plant", "place_stone", "place_table", "wake_up",
    ];

    public static uint Bit(Achievement a) => 1u << (int)a;
}

public static class Directions
{
    public static int Dx(Direction d) => d switch { Direction.Left => -1, Direction.Right => 1, _ => 0 };
    public static int Dy(Direction d) => d switch { Direction.Up => -1, Direction.Down => 1, _ => 0 };
    public static Direction Opposite(Direction d) => (Direction)((int)d ^ 1);
    public static GameAction Move(Direction d) => GameAction.MoveLeft + (byte)d;
}

/// <summary>Outcome of one step. <see cref="Unlocked"/> is the bit set (<see cref="Achievements.Bit"/>) of achievements unlocked by this step.</summary>
public readonly record struct StepResult(float Reward, bool Done, bool Died, uint Unlocked);

/// <summary>Game settings. Defaults are the documented rules in RULES.md.</summary>
public sealed record CraftConfig
{
    /// <summary>Rendered frame width in pixels; the 9x9-unit layout is centred, so 64 gives 7-pixel tiles.</summary>
    public int Width { get; init; } = 64;
    public int Height { get; init; } = 64;
    /// <summary>Side of the square world in tiles.</summary>
    public int WorldSize { get; init; } = 64;
    /// <summary>Episode step cap (truncation).</summary>
    public int MaxSteps { get; init; } = 10_000;
    /// <summary>Steps in one day/night cycle.</summary>
    public int DayLength { get; init; } = 300;
    /// <summary>Adds 0.1 per health point gained and -0.1 per point lost to the reward.</summary>
    public bool HealthReward { get; init; }
    /// <summary>When false no creature is generated or spawned (used for rule tests).</summary>
    public bool Creatures { get; init; } = true;

    public const int MinUnit = 6;

    public void Validate()
    {
        if (Math.Min(Width, Height) / Layout.Units < MinUnit)
            throw new ArgumentException($"Width and Height must be at least {Layout.Units * MinUnit} pixels (got {Width}x{Height})");
        if (WorldSize < 16 || WorldSize > 1024) throw new ArgumentException($"WorldSize must be in [16, 1024] (got {WorldSize})");
        if (MaxSteps < 1) throw new ArgumentException($"MaxSteps must be positive (got {MaxSteps})");
        if (DayLength < 10) throw new ArgumentException($"DayLength must be at least 10 (got {DayLength})");
    }
}

/// <summary>Screen layout in tile units: a 9x7 local view above a 9x2 inventory strip.</summary>
public static class Layout
{
    public const int Units = 9;
    public const int ViewWidth = 9, ViewHeight = 7, InventoryRows = 2;
    /// <summary>Player's cell inside the view.</summary>
    public const int CenterX = ViewWidth / 2, CenterY = ViewHeight / 2;
}
