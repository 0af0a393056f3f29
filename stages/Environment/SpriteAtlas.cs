using System.Collections.Concurrent;

namespace Dreamer.Game;

/// <summary>
/// Every picture the renderer can blit, painted once per tile size and shared by all worlds:
/// each (tile, sprite) pair at each brightness level, and each inventory slot at each count.
/// Rendering a frame is then only row copies.
/// </summary>
internal sealed class SpriteAtlas
{
    public const int Levels = 16;
    const int TileKinds = (int)Tile.RipePlant + 1;
    const int SpriteKinds = (int)Sprite.ArrowDown + 1;

    static readonly ConcurrentDictionary<int, SpriteAtlas> Cache = new();

    public readonly int Unit;
    readonly int _cell;
    readonly byte[] _view;
    readonly byte[] _inventory;

    public static SpriteAtlas ForUnit(int unit) => Cache.GetOrAdd(unit, u => new SpriteAtlas(u));

    SpriteAtlas(int unit)
    {
        Unit = unit;
        _cell = unit * unit * 3;
        _view = new byte[Levels * TileKinds * SpriteKinds * _cell];
        _inventory = new byte[Slots.Count * (CraftWorld.MaxStack + 1) * _cell];
        var bright = new byte[_cell];
        for (int t = 0; t < TileKinds; t++)
            for (int s = 0; s < SpriteKinds; s++)
            {
                Textures.PaintTile((Tile)t, unit, bright);
                Textures.PaintSprite((Sprite)s, unit, bright);
                for (int level = 0; level < Levels; level++)
                    Darken(bright, level, _view.AsSpan(ViewOffset(level, (Tile)t, (Sprite)s), _cell));
            }
        for (int slot = 0; slot < Slots.Count; slot++)
            for (int count = 0; count <= CraftWorld.MaxStack; count++)
            {
                Span<byte> cell = _inventory.AsSpan(InventoryOffset(slot, count), _cell);
                // Items show only when held; vitals always show, with their value.
                bool vital = slot < Slots.FirstItem;
                if (count == 0 && !vital) continue;
                // Counted things share the cell with their digit; tools (held or not) fill it.
                bool tool = slot >= Slots.FirstItem + (int)Item.WoodPickaxe;
                int digitWidth = 3 * Textures.DigitScale(unit);
                Textures.PaintIcon(slot, unit, tool ? unit : unit - digitWidth - 1, cell);
                if (!tool) Textures.PaintDigit(count, unit, cell);
            }
    }

    /// <summary>Scales towards black with a slight blue cast: level 15 is full daylight.</summary>
    static void Darken(ReadOnlySpan<byte> src, int level, Span<byte> dst)
    {
        float f = level / (float)(Levels - 1);
        for (int i = 0; i < src.Length; i += 3)
        {
            dst[i] = (byte)(src[i] * f);
            dst[i + 1] = (byte)(src[i + 1] * f);
            dst[i + 2] = (byte)Math.Min(255f, src[i + 2] * f + 24 * (1 - f));
        }
    }

    int ViewOffset(int level, Tile t, Sprite s) => ((level * TileKinds + (int)t) * SpriteKinds + (int)s) * _cell;
    int InventoryOffset(int slot, int count) => (slot * (CraftWorld.MaxStack + 1) + count) * _cell;

    public ReadOnlySpan<byte> View(int level, Tile t, Sprite s) => _view.AsSpan(ViewOffset(level, t, s), _cell);
    public ReadOnlySpan<byte> Inventory(int slot, int count) => _inventory.AsSpan(InventoryOffset(slot, count), _cell);
}
