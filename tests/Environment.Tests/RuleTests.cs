using Dreamer.Game;

namespace Dreamer.Environment.Tests;

public class RuleTests
{
    [Fact]
    public void ActionSpaceDescriptorMatchesEnum()
    {
        Assert.Equal(ActionSpace.Count, ActionSpace.Names.Length);
        Assert.Equal(ActionSpace.Count, Enum.GetValues<GameAction>().Length);
        Assert.Equal("sleep", ActionSpace.Names[(int)GameAction.Sleep]);
        Assert.Equal(Achievements.Count, Achievements.Names.Length);
        Assert.Equal(Achievements.Count, Enum.GetValues<Achievement>().Length);
    }

    [Fact]
    public void TreeGivesWoodAndRewardsOnlyTheFirstTime()
    {
        var s = new Scenario();
        StepResult first = s.UseRight(Tile.Tree);
        StepResult second = s.Do(GameAction.Interact);
        Assert.Equal(2, s.Env.Count(Item.Wood));
        Assert.Equal(1f, first.Reward);
        Assert.Equal(Achievements.Bit(Achievement.CollectWood), first.Unlocked);
        Assert.Equal(0f, second.Reward);
        Assert.Equal(0u, second.Unlocked);
        Assert.Equal(Tile.Tree, s.At(1, 0));
    }

    [Fact]
    public void StoneNeedsWoodPickaxe()
    {
        var s = new Scenario();
        s.UseRight(Tile.Stone);
        Assert.Equal(0, s.Env.Count(Item.Stone));
        Assert.Equal(Tile.Stone, s.At(1, 0));

        s.Env.SetCount(Item.WoodPickaxe, 1);
        StepResult r = s.Do(GameAction.Interact);
        Assert.Equal(1, s.Env.Count(Item.Stone));
        Assert.Equal(Tile.Path, s.At(1, 0));
        Assert.True(s.Env.HasAchievement(Achievement.CollectStone));
        Assert.Equal(1f, r.Reward);
    }

    [Theory]
    [InlineData(Tile.Coal, Item.WoodPickaxe, Item.Coal)]
    [InlineData(Tile.Iron, Item.StonePickaxe, Item.Iron)]
    [InlineData(Tile.Diamond, Item.IronPickaxe, Item.Diamond)]
    public void OresNeedTheRightPickaxe(Tile ore, Item tool, Item yield)
    {
        var s = new Scenario();
        // Every lesser pickaxe fails.
        foreach (Item lesser in new[] { Item.WoodPickaxe, Item.StonePickaxe, Item.IronPickaxe })
        {
            if (lesser == tool) break;
            s.Env.SetCount(lesser, 1);
        }
        s.UseRight(ore);
        Assert.Equal(0, s.Env.Count(yield));
        Assert.Equal(ore, s.At(1, 0));

        s.Env.SetCount(tool, 1);
        s.Do(GameAction.Interact);
        Assert.Equal(1, s.Env.Count(yield));
        Assert.Equal(Tile.Path, s.At(1, 0));
    }

    [Fact]
    public void TableCostsWoodAndCraftingNeedsItNearby()
    {
        var s = new Scenario();
        s.Env.SetCount(Item.Wood, CraftWorld.TableWood - 1);
        s.Do(GameAction.PlaceTable);
        Assert.Equal(Tile.Grass, s.At(1, 0));

        s.Env.SetCount(Item.Wood, CraftWorld.TableWood + 1);
        s.Do(GameAction.MakeWoodPickaxe);
        Assert.Equal(0, s.Env.Count(Item.WoodPickaxe));   // no table yet

        StepResult placed = s.Do(GameAction.PlaceTable);
        Assert.Equal(Tile.Table, s.At(1, 0));
        Assert.Equal(1, s.Env.Count(Item.Wood));
        Assert.Equal(1f, placed.Reward);

        // Three steps away the table is no longer nearby.
        s.Env.SetPlayer(s.X - 3, s.Y, Direction.Left);
        s.Do(GameAction.MakeWoodPickaxe);
        Assert.Equal(0, s.Env.Count(Item.WoodPickaxe));

        s.Env.SetPlayer(s.X + 2, s.Y, Direction.Left);
        StepResult made = s.Do(GameAction.MakeWoodPickaxe);
        Assert.Equal(1, s.Env.Count(Item.WoodPickaxe));
        Assert.Equal(0, s.Env.Count(Item.Wood));
        Assert.Equal(1f, made.Reward);
    }

    [Fact]
    public void FurnaceNeedsTableAndStone()
    {
        var s = new Scenario();
        s.Env.SetCount(Item.Stone, CraftWorld.FurnaceStone);
        s.Do(GameAction.PlaceFurnace);
        Assert.Equal(Tile.Grass, s.At(1, 0));   // no table nearby

        s.Put(0, 2, Tile.Table);
        s.Env.SetCount(Item.Stone, CraftWorld.FurnaceStone - 1);
        s.Do(GameAction.PlaceFurnace);
        Assert.Equal(Tile.Grass, s.At(1, 0));   // too little stone

        s.Env.SetCount(Item.Stone, CraftWorld.FurnaceStone);
        s.Do(GameAction.PlaceFurnace);
        Assert.Equal(Tile.Furnace, s.At(1, 0));
        Assert.True(s.Env.HasAchievement(Achievement.PlaceFurnace));
    }

    [Fact]
    public void IronToolsNeedFurnaceAndMaterials()
    {
        var s = new Scenario();
        s.Put(0, 2, Tile.Table);
        s.Env.SetCount(Item.Wood, 1);
        s.Env.SetCount(Item.Coal, 1);
        s.Env.SetCount(Item.Iron, 1);
        s.Do(GameAction.MakeIronPickaxe);
        Assert.Equal(0, s.Env.Count(Item.IronPickaxe));   // table but no furnace

        s.Put(0, -2, Tile.Furnace);
        s.Env.SetCount(Item.Coal, 0);
        s.Do(GameAction.MakeIronPickaxe);
        Assert.Equal(0, s.Env.Count(Item.IronPickaxe));   // no coal

        s.Env.SetCount(Item.Coal, 1);
        StepResult r = s.Do(GameAction.MakeIronPickaxe);
        Assert.Equal(1, s.Env.Count(Item.IronPickaxe));
        Assert.Equal(0, s.Env.Count(Item.Wood) + s.Env.Count(Item.Coal) + s.Env.Count(Item.Iron));
        Assert.Equal(1f, r.Reward);

        // Tools do not stack: a second attempt costs nothing.
        s.Env.SetCount(Item.Wood, 1); s.Env.SetCount(Item.Coal, 1); s.Env.SetCount(Item.Iron, 1);
        s.Do(GameAction.MakeIronPickaxe);
        Assert.Equal(1, s.Env.Count(Item.Wood));
    }

    [Fact]
    public void WholeTechTreeIsReachableByAScriptedSequence()
    {
        var s = new Scenario();
        float total = 0;
        StepResult R(GameAction a) { var r = s.Do(a); total += r.Reward; return r; }

        s.Put(1, 0, Tile.Tree);
        for (int i = 0; i < 7; i++) R(GameAction.Interact);
        s.Env.SetPlayer(s.X, s.Y, Direction.Up);
        R(GameAction.PlaceTable);
        R(GameAction.MakeWoodPickaxe);
        R(GameAction.MakeWoodSword);
        for (int i = 0; i < 6; i++) { s.Put(-1, 0, Tile.Stone); s.Env.SetPlayer(s.X, s.Y, Direction.Left); R(GameAction.Interact); }
        R(GameAction.MakeStonePickaxe);
        s.Env.SetPlayer(s.X, s.Y, Direction.Down);
        R(GameAction.PlaceFurnace);
        s.Env.SetPlayer(s.X, s.Y, Direction.Left);
        R(GameAction.PlaceStone);
        s.Put(-1, 0, Tile.Coal); R(GameAction.Interact);
        s.Put(-1, 0, Tile.Iron); R(GameAction.Interact);
        R(GameAction.MakeIronPickaxe);
        s.Put(-1, 0, Tile.Diamond); R(GameAction.Interact);

        Achievement[] chain =
        [
            Achievement.CollectWood, Achievement.PlaceTable, Achievement.MakeWoodPickaxe, Achievement.MakeWoodSword,
            Achievement.CollectStone, Achievement.MakeStonePickaxe, Achievement.PlaceFurnace, Achievement.PlaceStone,
            Achievement.CollectCoal, Achievement.CollectIron, Achievement.MakeIronPickaxe, Achievement.CollectDiamond,
        ];
        foreach (Achievement a in chain) Assert.True(s.Env.HasAchievement(a), a.ToString());
        Assert.Equal(chain.Length, s.Env.AchievementCount);
        Assert.Equal(chain.Length, total);
    }

    [Fact]
    public void WaterQuenchesThirst()
    {
        var s = new Scenario();
        s.Env.SetVitals(9, 9, 3, 9);
        StepResult r = s.UseRight(Tile.Water);
        Assert.Equal(4, s.Env.Drink);
        Assert.Equal(1f, r.Reward);
    }

    [Fact]
    public void VitalsDecayOverTime()
    {
        var s = new Scenario();
        for (int i = 0; i < 100; i++) s.Do(GameAction.Noop);
        Assert.True(s.Env.Food < 9, $"food {s.Env.Food}");
        Assert.True(s.Env.Drink < s.Env.Food, $"drink {s.Env.Drink} should fall faster than food {s.Env.Food}");
        Assert.True(s.Env.Energy < 9, $"energy {s.Env.Energy}");
        Assert.Equal(9, s.Env.Health);
    }

    [Fact]
    public void StarvationKillsAndEndsTheEpisode()
    {
        var s = new Scenario();
        s.Env.SetVitals(2, 0, 0, 0);
        StepResult last = default;
        int steps = 0;
        while (!last.Done && steps < 100) { last = s.Do(GameAction.Noop); steps++; }
        Assert.True(last.Done);
        Assert.True(last.Died);
        Assert.True(steps < 20, $"took {steps} steps");
        Assert.Throws<InvalidOperationException>(() => s.Do(GameAction.Noop));
    }

    [Fact]
    public void HealthRecoversWhenNeedsAreMet()
    {
        var s = new Scenario();
        s.Env.SetVitals(3, 9, 9, 9);
        for (int i = 0; i < 30; i++) s.Do(GameAction.Noop);
        Assert.True(s.Env.Health > 3);
    }

    [Fact]
    public void WalkingIntoLavaIsDeath()
    {
        var s = new Scenario();
        s.Put(1, 0, Tile.Lava);
        StepResult r = s.Do(GameAction.MoveRight);
        Assert.True(r.Died);
        Assert.True(r.Done);
    }

    [Fact]
    public void StepCapTruncatesWithoutDeath()
    {
        var s = new Scenario(maxSteps: 5);
        StepResult r = default;
        for (int i = 0; i < 5; i++) r = s.Do(GameAction.Noop);
        Assert.True(r.Done);
        Assert.False(r.Died);
    }

    [Fact]
    public void MovingChangesFacingAndBlockedMovesOnlyTurn()
    {
        var s = new Scenario();
        int x = s.X, y = s.Y;
        s.Do(GameAction.MoveLeft);
        Assert.Equal((x - 1, y), (s.X, s.Y));
        Assert.Equal(Direction.Left, s.Env.Facing);
        s.Put(0, -1, Tile.Stone);
        s.Do(GameAction.MoveUp);
        Assert.Equal((x - 1, y), (s.X, s.Y));
        Assert.Equal(Direction.Up, s.Env.Facing);
    }

    [Fact]
    public void SleepRestoresEnergyAndWakesWithAchievement()
    {
        var s = new Scenario();
        s.Do(GameAction.Sleep);
        Assert.False(s.Env.Sleeping);   // a rested player cannot sleep
        s.Env.SetVitals(9, 9, 9, 2);
        s.Do(GameAction.Sleep);
        Assert.True(s.Env.Sleeping);
        int x = s.X;
        float reward = 0;
        for (int i = 0; i < 200 && s.Env.Sleeping; i++) reward += s.Do(GameAction.MoveLeft).Reward;
        Assert.False(s.Env.Sleeping);
        Assert.Equal(x, s.X);   // actions are ignored while asleep
        Assert.Equal(9, s.Env.Energy);
        Assert.True(s.Env.HasAchievement(Achievement.WakeUp));
        Assert.Equal(1f, reward);
    }

    [Fact]
    public void SaplingGrowsIntoFood()
    {
        var s = new Scenario();
        s.Env.SetCount(Item.Sapling, 1);
        s.Do(GameAction.PlaceSapling);
        Assert.Equal(Tile.Plant, s.At(1, 0));
        Assert.True(s.Env.HasAchievement(Achievement.PlacePlant));
        s.Do(GameAction.Interact);   // unripe: nothing to eat
        Assert.False(s.Env.HasAchievement(Achievement.EatPlant));
        for (int i = 0; i < CraftWorld.PlantRipeSteps; i++) s.Do(GameAction.Noop);
        Assert.Equal(Tile.RipePlant, s.At(1, 0));
        s.Env.SetVitals(9, 2, 9, 9);
        s.Do(GameAction.Interact);
        Assert.Equal(6, s.Env.Food);
        Assert.True(s.Env.HasAchievement(Achievement.EatPlant));
        Assert.Equal(Tile.Plant, s.At(1, 0));
    }

    [Fact]
    public void GrassSometimesGivesSaplings()
    {
        var s = new Scenario();
        s.Put(1, 0, Tile.Grass);
        for (int i = 0; i < 200; i++) s.Do(GameAction.Interact);
        Assert.InRange(s.Env.Count(Item.Sapling), 1, CraftWorld.MaxStack);
        Assert.True(s.Env.HasAchievement(Achievement.CollectSapling));
    }

    [Fact]
    public void ZombieAttacksAndCanBeDefeated()
    {
        var s = new Scenario();
        Assert.True(s.Env.Spawn(CreatureKind.Zombie, s.X + 1, s.Y));
        s.Env.SetPlayer(s.X, s.Y, Direction.Right);
        s.Do(GameAction.Noop);
        Assert.Equal(7, s.Env.Health);
        s.Env.SetCount(Item.StoneSword, 1);   // 3 damage: two hits kill 5 health
        s.Do(GameAction.Interact);
        Assert.Equal(CreatureKind.Zombie, s.Env.CreatureAt(s.X + 1, s.Y));
        StepResult r = s.Do(GameAction.Interact);
        Assert.Equal(CreatureKind.None, s.Env.CreatureAt(s.X + 1, s.Y));
        Assert.True(s.Env.HasAchievement(Achievement.DefeatZombie));
        Assert.Equal(1f, r.Reward);
    }

    [Fact]
    public void OptionalHealthRewardFollowsDamage()
    {
        var env = new CraftWorld(new CraftConfig { Creatures = false, HealthReward = true }, 7);
        env.Reset(Span<byte>.Empty);
        env.SetPlayer(env.X, env.Y, Direction.Right);
        env.SetTile(env.X + 1, env.Y, Tile.Grass);
        Assert.True(env.Spawn(CreatureKind.Zombie, env.X + 1, env.Y));
        StepResult hit = env.Step((int)GameAction.Noop, Span<byte>.Empty);
        Assert.Equal(-0.2f, hit.Reward, 5);
    }

    [Fact]
    public void CowIsFood()
    {
        var s = new Scenario();
        // Wall the cow in so it cannot wander off between hits.
        s.Put(2, 0, Tile.Stone); s.Put(1, -1, Tile.Stone); s.Put(1, 1, Tile.Stone);
        Assert.True(s.Env.Spawn(CreatureKind.Cow, s.X + 1, s.Y));
        s.Env.SetVitals(9, 1, 9, 9);
        for (int i = 0; i < 3; i++) s.Do(GameAction.Interact);
        Assert.Equal(7, s.Env.Food);
        Assert.True(s.Env.HasAchievement(Achievement.EatCow));
    }

    [Fact]
    public void PlacedStoneBridgesWater()
    {
        var s = new Scenario();
        s.Put(1, 0, Tile.Water);
        s.Env.SetCount(Item.Stone, 2);
        StepResult r = s.Do(GameAction.PlaceStone);
        Assert.Equal(Tile.Stone, s.At(1, 0));
        Assert.Equal(1, s.Env.Count(Item.Stone));
        Assert.Equal(1f, r.Reward);
        s.Env.SetCount(Item.Stone, 1);
        s.Put(1, 0, Tile.Tree);
        s.Do(GameAction.PlaceStone);
        Assert.Equal(Tile.Tree, s.At(1, 0));
        Assert.Equal(1, s.Env.Count(Item.Stone));
    }

    [Fact]
    public void DaylightCyclesAndStartsAtNoon()
    {
        Assert.Equal(1f, CraftWorld.DaylightAt(0, 300));
        Assert.Equal(0f, CraftWorld.DaylightAt(150, 300));
        Assert.Equal(1f, CraftWorld.DaylightAt(300, 300));
    }

    [Fact]
    public void InvalidUseIsRejected()
    {
        var env = new CraftWorld(new CraftConfig(), 1);
        Assert.Throws<InvalidOperationException>(() => env.Step(0, new byte[env.FrameBytes]));
        env.Reset(Span<byte>.Empty);
        Assert.Throws<ArgumentOutOfRangeException>(() => env.Step(ActionSpace.Count, Span<byte>.Empty));
        Assert.Throws<ArgumentException>(() => env.Step(0, new byte[10]));
        Assert.Throws<ArgumentException>(() => new CraftWorld(new CraftConfig { Width = 32 }, 1));
    }
}
