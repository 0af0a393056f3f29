namespace Dreamer.Game;

public sealed partial class CraftWorld
{
    /// <summary>
    /// Renders the current state as HWC RGB bytes: the 9x7 view (darkened by night and sleep) above
    /// the 9x2 inventory strip, the 9x9-unit layout centred in the frame with black margins.
    /// </summary>
    public void Render(Span<byte> frame)
    {
        if (frame.IsEmpty) throw new ArgumentException("frame is empty", nameof(frame));
        CheckFrame(frame);
        int u = _atlas.Unit, w = _config.Width;
        int ox = (w - Layout.Units * u) / 2, oy = (_config.Height - Layout.Units * u) / 2;
        if (ox > 0 || oy > 0) frame.Clear();

        int level = BrightnessLevel();
        for (int vy = 0; vy < Layout.ViewHeight; vy++)
            for (int vx = 0; vx < Layout.ViewWidth; vx++)
            {
                int x = _px - Layout.CenterX + vx, y = _py - Layout.CenterY + vy;
                Tile t = TileAt(x, y);
                Sprite s = x == _px && y == _py ? PlayerSprite() : SpriteOf(CreatureAt(x, y), x, y);
                Blit(_atlas.View(level, t, s), frame, ox + vx * u, oy + vy * u, u, w);
            }

        for (int slot = 0; slot < Slots.Count; slot++)
        {
            int count = slot switch
            {
                Slots.Health => Math.Clamp(_health, 0, MaxVital),
                Slots.Food => _food,
                Slots.Drink => _drink,
                Slots.Energy => _energy,
                _ => _inventory[slot - Slots.FirstItem],
            };
            int col = slot % Layout.Units, row = Layout.ViewHeight + slot / Layout.Units;
            Blit(_atlas.Inventory(slot, count), frame, ox + col * u, oy + row * u, u, w);
        }
    }

    /// <summary>Quantised brightness: daylight maps to levels 5..15; sleeping shows an almost black view.</summary>
    int BrightnessLevel()
    {
        if (_sleeping) return 2;
        return (int)MathF.Round((0.3f + 0.7f * Daylight) * (SpriteAtlas.Levels - 1));
    }

    /// <summary>An empty frame means "do not render"; any other size must match the configuration.</summary>
    void CheckFrame(ReadOnlySpan<byte> frame)
    {
        if (!frame.IsEmpty && frame.Length != FrameBytes)
            throw new ArgumentException($"frame must hold {_config.Width}x{_config.Height}x3 = {FrameBytes} bytes (got {frame.Length})", nameof(frame));
    }

    Sprite PlayerSprite() => _sleeping ? Sprite.PlayerSleeping : Sprite.PlayerLeft + (byte)_facing;

    Sprite SpriteOf(CreatureKind k, int x, int y) => k switch
    {
        CreatureKind.Cow => Sprite.Cow,
        CreatureKind.Zombie => Sprite.Zombie,
        CreatureKind.Skeleton => Sprite.Skeleton,
        CreatureKind.Arrow => Sprite.ArrowLeft + (byte)_creatures[_occupant[Index(x, y)] - 1].Dir,
        _ => Sprite.None,
    };

    static void Blit(ReadOnlySpan<byte> cell, Span<byte> frame, int x0, int y0, int u, int width)
    {
        int row = u * 3;
        for (int r = 0; r < u; r++)
            cell.Slice(r * row, row).CopyTo(frame.Slice(((y0 + r) * width + x0) * 3, row));
    }
}
