namespace Dreamer.Game;

/// <summary>Sprites drawn over a tile: the player in each pose, creatures, arrows in each direction.</summary>
internal enum Sprite : byte
{
    None, PlayerLeft, PlayerRight, PlayerUp, PlayerDown, PlayerSleeping,
    Cow, Zombie, Skeleton, ArrowLeft, ArrowRight, ArrowUp, ArrowDown,
}

/// <summary>Inventory strip slots: four vitals, then every item in <see cref="Item"/> order.</summary>
internal static class Slots
{
    public const int Health = 0, Food = 1, Drink = 2, Energy = 3, FirstItem = 4;
    public const int Count = FirstItem + 12;
}

/// <summary>
/// Procedural pixel art. Every picture is a function of normalised pixel-centre coordinates
/// (fx, fy in (0, 1)) plus a per-pixel hash, so sprites can be painted at any tile size and the
/// shapes were chosen to stay legible at 7 pixels. Colours differ strongly between kinds.
/// </summary>
internal static class Textures
{
    readonly record struct Rgb(byte R, byte G, byte B);

    static Rgb C(int r, int g, int b) => new((byte)r, (byte)g, (byte)b);

    static float Hash(int x, int y, int salt)
    {
        ulong h = ((ulong)(uint)x << 32 | (uint)y) ^ ((ulong)salt * 0x9E3779B97F4A7C15UL);
        return (Rng.SplitMix(ref h) >> 40) * (1f / (1 << 24));
    }

    static bool Circle(float fx, float fy, float cx, float cy, float r) => (fx - cx) * (fx - cx) + (fy - cy) * (fy - cy) < r * r;
    static bool Box(float fx, float fy, float x0, float y0, float x1, float y1) => fx >= x0 && fx < x1 && fy >= y0 && fy < y1;
    static float Frac(float v) => v - MathF.Floor(v);

    /// <summary>Distance from (fx, fy) to the segment (ax, ay)-(bx, by).</summary>
    static float Segment(float fx, float fy, float ax, float ay, float bx, float by)
    {
        float vx = bx - ax, vy = by - ay;
        float t = Math.Clamp(((fx - ax) * vx + (fy - ay) * vy) / (vx * vx + vy * vy), 0, 1);
        float dx = fx - ax - t * vx, dy = fy - ay - t * vy;
        return MathF.Sqrt(dx * dx + dy * dy);
    }

    public static void PaintTile(Tile tile, int u, Span<byte> rgb)
    {
        for (int y = 0; y < u; y++)
            for (int x = 0; x < u; x++)
            {
                Rgb c = TileColor(tile, (x + 0.5f) / u, (y + 0.5f) / u, Hash(x, y, (int)tile + 1));
                int o = (y * u + x) * 3;
                rgb[o] = c.R; rgb[o + 1] = c.G; rgb[o + 2] = c.B;
            }
    }

    static Rgb Grass(float n) => n < 0.15f ? C(46, 122, 44) : n > 0.92f ? C(112, 190, 78) : C(70, 158, 58);
    static Rgb Stone(float n) => n < 0.12f ? C(96, 96, 102) : n > 0.9f ? C(158, 158, 164) : C(126, 126, 132);

    static Rgb TileColor(Tile t, float fx, float fy, float n) => t switch
    {
        Tile.Void => C(0, 0, 0),
        Tile.Grass => Grass(n),
        Tile.Sand => n < 0.12f ? C(196, 170, 108) : C(224, 206, 142),
        Tile.Water => Frac(fy * 3 + 0.15f * MathF.Sin(fx * 6.283f)) < 0.2f ? C(92, 150, 232) : C(36, 88, 196),
        Tile.Tree => Box(fx, fy, 0.4f, 0.62f, 0.6f, 1f) ? C(104, 68, 34)
            : Circle(fx, fy, 0.5f, 0.4f, 0.38f) ? (n < 0.22f ? C(58, 138, 52) : C(24, 96, 36))
            : Grass(n),
        Tile.Stone => Stone(n),
        Tile.Coal => Circle(fx, fy, 0.3f, 0.3f, 0.15f) || Circle(fx, fy, 0.68f, 0.5f, 0.15f) || Circle(fx, fy, 0.36f, 0.74f, 0.13f)
            ? C(26, 26, 28) : Stone(n),
        Tile.Iron => Circle(fx, fy, 0.32f, 0.34f, 0.16f) || Circle(fx, fy, 0.66f, 0.66f, 0.16f)
            ? C(218, 148, 98) : Circle(fx, fy, 0.7f, 0.25f, 0.09f) ? C(186, 112, 70) : Stone(n),
        Tile.Diamond => Math.Abs(fx - 0.5f) + Math.Abs(fy - 0.5f) < 0.14f ? C(244, 255, 255)
            : Math.Abs(fx - 0.5f) + Math.Abs(fy - 0.5f) < 0.32f ? C(120, 232, 236) : Stone(n),
        Tile.Lava => Frac((fx + fy) * 2.5f) < 0.22f ? C(255, 214, 80) : n < 0.25f ? C(250, 160, 40) : C(212, 62, 20),
        Tile.Path => n < 0.15f ? C(72, 60, 50) : C(94, 80, 66),
        Tile.Table => Box(fx, fy, 0.05f, 0.12f, 0.95f, 0.46f)
                ? (Math.Abs(fx - 0.36f) < 0.05f || Math.Abs(fx - 0.64f) < 0.05f || Math.Abs(fy - 0.29f) < 0.04f ? C(118, 76, 38) : C(172, 116, 58))
            : Box(fx, fy, 0.1f, 0.46f, 0.28f, 0.95f) || Box(fx, fy, 0.72f, 0.46f, 0.9f, 0.95f) ? C(118, 76, 38)
            : C(56, 46, 38),
        Tile.Furnace => Box(fx, fy, 0.28f, 0.52f, 0.72f, 0.88f) ? (Circle(fx, fy, 0.5f, 0.74f, 0.12f) ? C(255, 226, 96) : C(246, 132, 30))
            : Frac(fy * 4) < 0.14f ? C(52, 52, 58) : C(82, 82, 90),
        Tile.Plant => Box(fx, fy, 0.43f, 0.45f, 0.57f, 0.95f) ? C(60, 186, 72)
            : Circle(fx, fy, 0.34f, 0.5f, 0.13f) || Circle(fx, fy, 0.66f, 0.4f, 0.13f) ? C(128, 226, 96)
            : Grass(n),
        Tile.RipePlant => Circle(fx, fy, 0.3f, 0.42f, 0.1f) || Circle(fx, fy, 0.64f, 0.36f, 0.1f) || Circle(fx, fy, 0.5f, 0.7f, 0.1f)
                ? C(228, 36, 52)
            : Circle(fx, fy, 0.5f, 0.55f, 0.4f) ? C(34, 110, 44)
            : Grass(n),
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, null),
    };

    /// <summary>Paints a sprite over an existing tile picture; pixels outside the shape keep the tile.</summary>
    public static void PaintSprite(Sprite s, int u, Span<byte> rgb)
    {
        if (s == Sprite.None) return;
        for (int y = 0; y < u; y++)
            for (int x = 0; x < u; x++)
            {
                Rgb? c = SpriteColor(s, (x + 0.5f) / u, (y + 0.5f) / u);
                if (c is not { } v) continue;
                int o = (y * u + x) * 3;
                rgb[o] = v.R; rgb[o + 1] = v.G; rgb[o + 2] = v.B;
            }
    }

    static Rgb? SpriteColor(Sprite s, float fx, float fy)
    {
        switch (s)
        {
            case Sprite.PlayerLeft: case Sprite.PlayerRight: case Sprite.PlayerUp: case Sprite.PlayerDown:
            {
                Direction d = (Direction)(s - Sprite.PlayerLeft);
                // A yellow marker on the facing side tells the four poses apart.
                int dx = Directions.Dx(d), dy = Directions.Dy(d);
                if (Circle(fx, fy, 0.5f + 0.34f * dx, 0.5f + 0.34f * dy, 0.17f)) return C(255, 232, 48);
                if (Circle(fx, fy, 0.5f + 0.12f * dx, 0.3f, 0.2f)) return C(240, 196, 150);
                if (Box(fx, fy, 0.28f, 0.46f, 0.72f, 0.92f)) return C(48, 66, 206);
                return null;
            }
            case Sprite.PlayerSleeping:
                if (Circle(fx, fy, 0.22f, 0.55f, 0.17f)) return C(240, 196, 150);
                if (Box(fx, fy, 0.36f, 0.45f, 0.92f, 0.72f)) return C(48, 66, 206);
                if (Box(fx, fy, 0.6f, 0.12f, 0.85f, 0.3f)) return C(235, 235, 255);
                return null;
            case Sprite.Cow:
                if (Circle(fx, fy, 0.82f, 0.4f, 0.15f)) return C(238, 238, 232);
                if (Box(fx, fy, 0.2f, 0.7f, 0.32f, 0.95f) || Box(fx, fy, 0.62f, 0.7f, 0.74f, 0.95f)) return C(70, 50, 40);
                if ((fx - 0.46f) * (fx - 0.46f) / 0.14f + (fy - 0.55f) * (fy - 0.55f) / 0.06f < 1)
                    return Circle(fx, fy, 0.36f, 0.5f, 0.13f) || Circle(fx, fy, 0.6f, 0.62f, 0.1f) ? C(28, 28, 28) : C(238, 238, 232);
                return null;
            case Sprite.Zombie:
                if (Box(fx, fy, 0.28f, 0.2f, 0.45f, 0.38f) || Box(fx, fy, 0.55f, 0.2f, 0.72f, 0.38f)) return C(236, 20, 20);
                if (Circle(fx, fy, 0.5f, 0.3f, 0.24f)) return C(96, 168, 128);
                if (Box(fx, fy, 0.25f, 0.5f, 0.75f, 0.95f)) return C(34, 92, 84);
                if (Box(fx, fy, 0.05f, 0.5f, 0.95f, 0.64f)) return C(96, 168, 128);
                return null;
            case Sprite.Skeleton:
                if (Box(fx, fy, 0.3f, 0.2f, 0.45f, 0.36f) || Box(fx, fy, 0.55f, 0.2f, 0.7f, 0.36f)) return C(10, 10, 10);
                if (Circle(fx, fy, 0.5f, 0.28f, 0.22f)) return C(232, 230, 214);
                if (Box(fx, fy, 0.3f, 0.5f, 0.7f, 0.95f) && Frac(fy * 5) < 0.55f) return C(232, 230, 214);
                if (Box(fx, fy, 0.45f, 0.5f, 0.55f, 0.95f)) return C(232, 230, 214);
                return null;
            case Sprite.ArrowLeft: case Sprite.ArrowRight: case Sprite.ArrowUp: case Sprite.ArrowDown:
            {
                Direction d = (Direction)(s - Sprite.ArrowLeft);
                int dx = Directions.Dx(d), dy = Directions.Dy(d);
                if (Segment(fx, fy, 0.5f + 0.2f * dx, 0.5f + 0.2f * dy, 0.5f + 0.42f * dx, 0.5f + 0.42f * dy) < 0.12f) return C(210, 210, 220);
                if (Segment(fx, fy, 0.5f - 0.4f * dx, 0.5f - 0.4f * dy, 0.5f + 0.2f * dx, 0.5f + 0.2f * dy) < 0.08f) return C(150, 100, 50);
                return null;
            }
            default: return null;
        }
    }

    /// <summary>Paints an inventory icon on black into the left <paramref name="width"/> columns of the cell.</summary>
    public static void PaintIcon(int slot, int u, int width, Span<byte> rgb)
    {
        rgb.Clear();
        for (int y = 0; y < u; y++)
            for (int x = 0; x < width; x++)
            {
                Rgb c = IconColor(slot, (x + 0.5f) / width, (y + 0.5f) / u) ?? C(0, 0, 0);
                int o = (y * u + x) * 3;
                rgb[o] = c.R; rgb[o + 1] = c.G; rgb[o + 2] = c.B;
            }
    }

    static Rgb Material(Item tool) => tool switch
    {
        Item.WoodPickaxe or Item.WoodSword => C(186, 132, 72),
        Item.StonePickaxe or Item.StoneSword => C(150, 150, 158),
        _ => C(226, 226, 240),
    };

    static Rgb? IconColor(int slot, float fx, float fy)
    {
        switch (slot)
        {
            case Slots.Health:
                return Circle(fx, fy, 0.32f, 0.36f, 0.2f) || Circle(fx, fy, 0.68f, 0.36f, 0.2f)
                       || (fy > 0.36f && Math.Abs(fx - 0.5f) < 0.85f - fy) ? C(222, 30, 44) : null;
            case Slots.Food:
                if (Segment(fx, fy, 0.62f, 0.62f, 0.85f, 0.85f) < 0.09f) return C(240, 234, 214);
                return Circle(fx, fy, 0.42f, 0.42f, 0.3f) ? C(196, 96, 44) : null;
            case Slots.Drink:
                return Circle(fx, fy, 0.5f, 0.62f, 0.28f) || (fy > 0.12f && fy < 0.62f && Math.Abs(fx - 0.5f) < (fy - 0.12f) * 0.56f)
                    ? C(60, 140, 240) : null;
            case Slots.Energy:
                return Segment(fx, fy, 0.66f, 0.08f, 0.36f, 0.52f) < 0.11f || Segment(fx, fy, 0.36f, 0.52f, 0.64f, 0.48f) < 0.11f
                       || Segment(fx, fy, 0.64f, 0.48f, 0.34f, 0.92f) < 0.11f ? C(250, 222, 40) : null;
        }
        var item = (Item)(slot - Slots.FirstItem);
        switch (item)
        {
            case Item.Sapling:
                if (Box(fx, fy, 0.43f, 0.45f, 0.57f, 0.95f)) return C(60, 186, 72);
                return Circle(fx, fy, 0.34f, 0.45f, 0.15f) || Circle(fx, fy, 0.66f, 0.35f, 0.15f) ? C(128, 226, 96) : null;
            case Item.Wood:
                if (Circle(fx, fy, 0.78f, 0.5f, 0.2f)) return Circle(fx, fy, 0.78f, 0.5f, 0.08f) ? C(150, 100, 50) : C(214, 172, 112);
                return Box(fx, fy, 0.1f, 0.3f, 0.78f, 0.7f) ? C(128, 82, 38) : null;
            case Item.Stone:
                return Circle(fx, fy, 0.5f, 0.55f, 0.34f) ? (Circle(fx, fy, 0.4f, 0.45f, 0.1f) ? C(170, 170, 176) : C(128, 128, 134)) : null;
            case Item.Coal:
                return Circle(fx, fy, 0.5f, 0.55f, 0.32f) ? (Circle(fx, fy, 0.4f, 0.45f, 0.08f) ? C(90, 90, 96) : C(24, 24, 26)) : null;
            case Item.Iron:
                return Box(fx, fy, 0.15f, 0.35f, 0.85f, 0.75f) && Math.Abs(fx - 0.5f) < 0.35f - (0.75f - fy) * 0.3f ? C(214, 150, 104) : null;
            case Item.Diamond:
                return Math.Abs(fx - 0.5f) + Math.Abs(fy - 0.5f) < 0.38f ? (Math.Abs(fx - 0.5f) + Math.Abs(fy - 0.5f) < 0.15f ? C(244, 255, 255) : C(120, 232, 236)) : null;
            case Item.WoodPickaxe: case Item.StonePickaxe: case Item.IronPickaxe:
                if (Segment(fx, fy, 0.2f, 0.3f, 0.85f, 0.2f) < 0.1f) return Material(item);
                return Segment(fx, fy, 0.5f, 0.25f, 0.35f, 0.9f) < 0.08f ? C(112, 72, 36) : null;
            case Item.WoodSword: case Item.StoneSword: case Item.IronSword:
                if (Segment(fx, fy, 0.38f, 0.62f, 0.88f, 0.12f) < 0.09f) return Material(item);
                if (Segment(fx, fy, 0.18f, 0.5f, 0.5f, 0.82f) < 0.07f) return C(90, 60, 30);
                return Segment(fx, fy, 0.12f, 0.88f, 0.34f, 0.66f) < 0.08f ? C(112, 72, 36) : null;
            default: throw new ArgumentOutOfRangeException(nameof(slot), slot, null);
        }
    }

    // 3x5 digit glyphs, one row of three bits per entry, top row first.
    static readonly ushort[] Digits =
    [
        0b111_101_101_101_111, 0b010_110_010_010_111, 0b111_001_111_100_111, 0b111_001_011_001_111, 0b101_101_111_001_001,
        0b111_100_111_001_111, 0b111_100_111_101_111, 0b111_001_010_010_010, 0b111_101_111_101_111, 0b111_101_111_001_111,
    ];

    /// <summary>Glyph scale for a tile size: digits are 3x5 cells of this many pixels.</summary>
    public static int DigitScale(int u) => Math.Max(1, u / 7);

    /// <summary>Draws a white digit in the right <c>3 * DigitScale</c> columns of the cell, vertically centred.</summary>
    public static void PaintDigit(int digit, int u, Span<byte> rgb)
    {
        int s = DigitScale(u);
        int x0 = u - 3 * s, y0 = (u - 5 * s + 1) / 2;
        for (int gy = 0; gy < 5; gy++)
            for (int gx = 0; gx < 3; gx++)
            {
                if (((Digits[digit] >> (14 - (gy * 3 + gx))) & 1) == 0) continue;
                for (int py = 0; py < s; py++)
                    for (int px = 0; px < s; px++)
                    {
                        int o = ((y0 + gy * s + py) * u + x0 + gx * s + px) * 3;
                        rgb[o] = 255; rgb[o + 1] = 255; rgb[o + 2] = 255;
                    }
            }
    }
}
