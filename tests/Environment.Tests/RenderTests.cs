using Dreamer.Game;

namespace Dreamer.Environment.Tests;

public class RenderTests
{
    const int Unit = 7;   // 64 / 9

    static bool SameRegion(byte[] a, byte[] b, int y0, int y1, int width = 64)
    {
        for (int y = y0; y < y1; y++)
            if (!a.AsSpan(y * width * 3, width * 3).SequenceEqual(b.AsSpan(y * width * 3, width * 3))) return false;
        return true;
    }

    [Fact]
    public void EveryTileAndSpriteLooksDifferent()
    {
        var atlas = SpriteAtlas.ForUnit(Unit);
        var pictures = new List<(string Name, byte[] Pixels)>();
        foreach (Tile t in Enum.GetValues<Tile>())
            pictures.Add((t.ToString(), atlas.View(SpriteAtlas.Levels - 1, t, Sprite.None).ToArray()));
        foreach (Sprite s in Enum.GetValues<Sprite>())
            if (s != Sprite.None) pictures.Add((s.ToString(), atlas.View(SpriteAtlas.Levels - 1, Tile.Path, s).ToArray()));
        for (int i = 0; i < pictures.Count; i++)
            for (int j = i + 1; j < pictures.Count; j++)
            {
                int differing = 0;
                for (int k = 0; k < pictures[i].Pixels.Length; k += 3)
                    if (pictures[i].Pixels.AsSpan(k, 3).SequenceEqual(pictures[j].Pixels.AsSpan(k, 3)) == false) differing++;
                Assert.True(differing >= 5, $"{pictures[i].Name} and {pictures[j].Name} differ in only {differing} pixels");
            }
    }

    [Fact]
    public void InventoryIconsAndCountsAreDistinct()
    {
        var atlas = SpriteAtlas.ForUnit(Unit);
        var seen = new HashSet<string>();
        for (int slot = 0; slot < Slots.Count; slot++)
            for (int count = slot < Slots.FirstItem ? 0 : 1; count <= CraftWorld.MaxStack; count++)
            {
                bool tool = slot >= Slots.FirstItem + (int)Item.WoodPickaxe;
                if (tool && count > 1) break;
                Assert.True(seen.Add(Convert.ToHexString(atlas.Inventory(slot, count))), $"slot {slot} count {count} repeats another cell");
            }
    }

    [Fact]
    public void TileChangeInViewChangesOnlyTheView()
    {
        var s = new Scenario();
        s.Env.Render(s.Frame);
        byte[] before = s.Frame.ToArray();
        s.Put(2, 1, Tile.Diamond);
        s.Env.Render(s.Frame);
        Assert.False(SameRegion(before, s.Frame, 0, 7 * Unit));
        Assert.True(SameRegion(before, s.Frame, 7 * Unit, 64));
    }

    [Fact]
    public void InventoryChangeChangesOnlyTheStrip()
    {
        var s = new Scenario();
        s.Env.Render(s.Frame);
        byte[] before = s.Frame.ToArray();
        s.Env.SetCount(Item.Wood, 3);
        s.Env.Render(s.Frame);
        byte[] three = s.Frame.ToArray();
        Assert.True(SameRegion(before, three, 0, 7 * Unit));
        Assert.False(SameRegion(before, three, 7 * Unit, 64));
        s.Env.SetCount(Item.Wood, 4);
        s.Env.Render(s.Frame);
        Assert.False(SameRegion(three, s.Frame, 7 * Unit, 64));
    }

    [Fact]
    public void FacingAndNightChangeThePicture()
    {
        var s = new Scenario();
        s.Env.Render(s.Frame);
        byte[] right = s.Frame.ToArray();
        s.Env.SetPlayer(s.X, s.Y, Direction.Left);
        s.Env.Render(s.Frame);
        Assert.False(SameRegion(right, s.Frame, 0, 64));

        long Brightness(byte[] f) { long sum = 0; for (int i = 0; i < 7 * Unit * 64 * 3; i++) sum += f[i]; return sum; }
        long day = Brightness(s.Frame);
        for (int i = 0; i < 150; i++) s.Do(GameAction.Noop);   // midnight of a 300-step day
        s.Env.SetPlayer(s.X, s.Y, Direction.Left);
        s.Env.Render(s.Frame);
        Assert.True(Brightness(s.Frame) < day * 0.6, $"night {Brightness(s.Frame)} vs day {day}");
    }

    [Fact]
    public void RenderIsRepeatableAndSizeIsConfigurable()
    {
        var env = new CraftWorld(new CraftConfig { Width = 96, Height = 80 }, 3);
        var a = new byte[env.FrameBytes];
        var b = new byte[env.FrameBytes];
        env.Reset(a);
        env.Render(b);
        Assert.Equal(96 * 80 * 3, a.Length);
        Assert.Equal(a, b);
        // 80 / 9 = 8-pixel tiles: the unused left columns stay black.
        Assert.All(Enumerable.Range(0, 80), y => Assert.Equal(0, a[(y * 96) * 3]));
        Assert.Contains(a, v => v != 0);
    }
}
