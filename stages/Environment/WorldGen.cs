namespace Dreamer.Game;

public sealed partial class CraftWorld
{
    readonly float[] _noise;   // mountain height per cell, kept for the resource guarantees

    /// <summary>
    /// Builds the map from layered value noise: lakes ringed by sand, mountains of stone holding ores,
    /// lava and tunnels, and grassland with forests. A clearing surrounds the spawn in the centre, and
    /// minimum counts of each resource are guaranteed so every world can be finished.
    /// </summary>
    void Generate()
    {
        ulong waterSeed = _rng.NextUInt64(), mountainSeed = _rng.NextUInt64(), tunnelSeed = _rng.NextUInt64();
        ulong caveSeed = _rng.NextUInt64(), lavaSeed = _rng.NextUInt64(), treeSeed = _rng.NextUInt64();
        int c = _n / 2;
        _px = c; _py = c;
        for (int y = 0; y < _n; y++)
        {
            for (int x = 0; x < _n; x++)
            {
                int i = Index(x, y);
                float dist = MathF.Sqrt((x - c) * (x - c) + (y - c) * (y - c));
                float nearSpawn = Math.Max(0, 1 - dist / 12);
                float water = Noise.Fbm(waterSeed, x, y, 10, 3) - 0.8f * nearSpawn;
                float mountain = Noise.Fbm(mountainSeed, x, y, 14, 3) - 0.8f * nearSpawn;
                _noise[i] = mountain;
                _tunnel[i] = false;
                double r = _rng.NextDouble();
                Tile t;
                if (dist < 4) t = Tile.Grass;
                else if (mountain > 0.15f)
                {
                    if ((mountain > 0.2f && Math.Abs(Noise.Fbm(tunnelSeed, x, y, 7, 2)) < 0.045f) ||
                        (mountain > 0.25f && Noise.Fbm(caveSeed, x, y, 5, 2) > 0.4f))
                    {
                        t = Tile.Path;
                        _tunnel[i] = true;
                    }
                    else if (mountain > 0.3f && Noise.Fbm(lavaSeed, x, y, 6, 2) > 0.35f) t = Tile.Lava;
                    else if (mountain > 0.38f && r < 0.012) t = Tile.Diamond;
                    else if (mountain > 0.22f && r < 0.04) t = Tile.Iron;
                    else if (r < 0.09) t = Tile.Coal;
                    else t = Tile.Stone;
                }
                else if (water > 0.3f) t = Tile.Water;
                else if (water > 0.2f) t = Tile.Sand;
                else if ((Noise.Fbm(treeSeed, x, y, 6, 2) > 0.1f && r < 0.5) || r < 0.03) t = Tile.Tree;
                else t = Tile.Grass;
                _tiles[i] = t;
            }
        }
        // Guarantees, each on cells that fit the feature, chosen by the episode's generator.
        Guarantee(Tile.Stone, 40, i => _tiles[i] == Tile.Grass && Math.Abs(i % _n - c) + Math.Abs(i / _n - c) > 8);
        Guarantee(Tile.Tree, 12, i => _tiles[i] == Tile.Grass);
        Guarantee(Tile.Water, 8, i => _tiles[i] is Tile.Grass or Tile.Sand);
        Guarantee(Tile.Coal, 10, i => _tiles[i] == Tile.Stone);
        Guarantee(Tile.Iron, 6, i => _tiles[i] == Tile.Stone && _noise[i] > 0.2f);
        Guarantee(Tile.Diamond, 3, i => _tiles[i] == Tile.Stone && _noise[i] > 0.3f);
        Guarantee(Tile.Diamond, 3, i => _tiles[i] == Tile.Stone);

        if (!_config.Creatures) return;
        for (int i = 0; i < _tiles.Length; i++)
        {
            int x = i % _n, y = i / _n;
            int d = Math.Abs(x - c) + Math.Abs(y - c);
            if (d < 6) continue;
            double r = _rng.NextDouble();
            if (_tiles[i] == Tile.Grass)
            {
                if (r < 0.012) Spawn(CreatureKind.Cow, x, y);
                else if (r < 0.014 && d >= 12) Spawn(CreatureKind.Zombie, x, y);
            }
            else if (_tunnel[i] && r < 0.04) Spawn(CreatureKind.Skeleton, x, y);
        }
    }

    /// <summary>Converts random candidate cells into <paramref name="tile"/> until the map holds at least <paramref name="min"/> of it.</summary>
    void Guarantee(Tile tile, int min, Func<int, bool> candidate)
    {
        int have = 0;
        foreach (Tile t in _tiles) if (t == tile) have++;
        for (int attempt = 0; have < min && attempt < 20 * _tiles.Length; attempt++)
        {
            int i = _rng.Next(_tiles.Length);
            if (!candidate(i)) continue;
            _tiles[i] = tile;
            have++;
        }
    }
}

/// <summary>Seeded 2D value noise on an integer lattice with smoothstep interpolation.</summary>
internal static class Noise
{
    static float Lattice(ulong seed, int x, int y)
    {
        ulong h = seed ^ ((ulong)(uint)x * 0x9E3779B97F4A7C15UL) ^ ((ulong)(uint)y * 0xC2B2AE3D27D4EB4FUL);
        h = Rng.SplitMix(ref h);
        return (h >> 40) * (2f / (1 << 24)) - 1f;
    }

    static float Value(ulong seed, float x, float y)
    {
        int x0 = (int)MathF.Floor(x), y0 = (int)MathF.Floor(y);
        float fx = x - x0, fy = y - y0;
        fx = fx * fx * (3 - 2 * fx);
        fy = fy * fy * (3 - 2 * fy);
        float a = Lattice(seed, x0, y0), b = Lattice(seed, x0 + 1, y0);
        float c = Lattice(seed, x0, y0 + 1), d = Lattice(seed, x0 + 1, y0 + 1);
        return (a + (b - a) * fx) + ((c + (d - c) * fx) - (a + (b - a) * fx)) * fy;
    }

    /// <summary>Fractal sum of <paramref name="octaves"/> layers, features about <paramref name="scale"/> cells wide, roughly in [-1, 1].</summary>
    public static float Fbm(ulong seed, int x, int y, float scale, int octaves)
    {
        float sum = 0, amplitude = 1, norm = 0, f = 1 / scale;
        for (int o = 0; o < octaves; o++)
        {
            sum += amplitude * Value(seed + (ulong)o * 0x632BE59BD9B4E019UL, x * f, y * f);
            norm += amplitude;
            amplitude *= 0.5f;
            f *= 2;
        }
        return sum / norm;
    }
}
