namespace Dreamer.Game;

public sealed partial class CraftWorld
{
    const int MaxCreatures = 96;

    struct Creature
    {
        public CreatureKind Kind;
        public int X, Y, Health, Cooldown;
        public Direction Dir;   // arrows: flight direction
    }

    readonly Creature[] _creatures = new Creature[MaxCreatures];
    int _creatureCount;
    readonly short[] _occupant;   // creature index + 1 per cell, 0 when free

    /// <summary>Creatures currently alive (including arrows in flight).</summary>
    public int CreatureCount => _creatureCount;

    internal CreatureKind CreatureAt(int x, int y)
    {
        if (!InBounds(x, y)) return CreatureKind.None;
        int o = _occupant[Index(x, y)];
        return o == 0 ? CreatureKind.None : _creatures[o - 1].Kind;
    }

    static int MaxHealth(CreatureKind k) => k switch { CreatureKind.Zombie => 5, CreatureKind.Cow => 3, CreatureKind.Skeleton => 3, _ => 1 };

    /// <summary>Zombies and cows walk on the surface, skeletons and arrows keep to paths and tunnels.</summary>
    static bool CanStand(CreatureKind k, Tile t) => k switch
    {
        CreatureKind.Zombie or CreatureKind.Cow => t is Tile.Grass or Tile.Sand,
        CreatureKind.Skeleton => t == Tile.Path,
        _ => t is Tile.Path or Tile.Grass or Tile.Sand,
    };

    internal bool Spawn(CreatureKind kind, int x, int y)
    {
        if (_creatureCount == MaxCreatures || !InBounds(x, y) || (x == _px && y == _py)) return false;
        int i = Index(x, y);
        if (_occupant[i] != 0 || !CanStand(kind, _tiles[i])) return false;
        _creatures[_creatureCount] = new Creature { Kind = kind, X = x, Y = y, Health = MaxHealth(kind) };
        _occupant[i] = (short)(++_creatureCount);
        return true;
    }

    void Attack(int c)
    {
        ref Creature cr = ref _creatures[c];
        cr.Health -= AttackDamage;
        if (cr.Health > 0) return;
        switch (cr.Kind)
        {
            case CreatureKind.Cow:
                _food = Math.Min(MaxVital, _food + 6);
                _hungerAcc = 0;
                Unlock(Achievement.EatCow);
                break;
            case CreatureKind.Zombie: Unlock(Achievement.DefeatZombie); break;
            case CreatureKind.Skeleton: Unlock(Achievement.DefeatSkeleton); break;
        }
        // Dead creatures are removed after the creature update so indices stay stable during it.
        _occupant[Index(cr.X, cr.Y)] = 0;
        cr.Kind = CreatureKind.None;
    }

    void UpdateCreatures()
    {
        // Arrows fired in this step start moving next step.
        int count = _creatureCount;
        for (int c = 0; c < count; c++)
        {
            switch (_creatures[c].Kind)
            {
                case CreatureKind.Cow:
                    if (_rng.Chance(0.3)) TryMove(c, (Direction)_rng.Next(4));
                    break;
                case CreatureKind.Zombie: UpdateZombie(c); break;
                case CreatureKind.Skeleton: UpdateSkeleton(c); break;
                case CreatureKind.Arrow: UpdateArrow(c); break;
            }
        }
        Compact();
    }

    void UpdateZombie(int c)
    {
        ref Creature z = ref _creatures[c];
        int dx = _px - z.X, dy = _py - z.Y;
        if (z.Cooldown > 0) z.Cooldown--;
        if (Math.Abs(dx) + Math.Abs(dy) == 1)
        {
            if (z.Cooldown == 0)
            {
                HurtPlayer(_sleeping ? 4 : 2);
                z.Cooldown = 5;
            }
            return;
        }
        if (Math.Max(Math.Abs(dx), Math.Abs(dy)) <= 6 && _rng.Chance(0.6)) Chase(c, dx, dy);
        else if (_rng.Chance(0.4)) TryMove(c, (Direction)_rng.Next(4));
    }

    void UpdateSkeleton(int c)
    {
        ref Creature s = ref _creatures[c];
        int dx = _px - s.X, dy = _py - s.Y;
        int dist = Math.Abs(dx) + Math.Abs(dy);
        if (s.Cooldown > 0) s.Cooldown--;
        if (dist == 1)
        {
            if (s.Cooldown == 0 && _rng.Chance(0.5)) { HurtPlayer(2); s.Cooldown = 4; }
            return;
        }
        if ((dx == 0 || dy == 0) && dist <= 4 && s.Cooldown == 0 && _rng.Chance(0.4))
        {
            Direction d = Toward(dx, dy);
            if (Spawn(CreatureKind.Arrow, s.X + Directions.Dx(d), s.Y + Directions.Dy(d)))
                _creatures[_creatureCount - 1].Dir = d;
            s.Cooldown = 4;
            return;
        }
        if (dist <= 6 && _rng.Chance(0.3)) Chase(c, dx, dy);
        else if (_rng.Chance(0.2)) TryMove(c, (Direction)_rng.Next(4));
    }

    void UpdateArrow(int c)
    {
        ref Creature a = ref _creatures[c];
        int x = a.X + Directions.Dx(a.Dir), y = a.Y + Directions.Dy(a.Dir);
        if (x == _px && y == _py) { HurtPlayer(2); Kill(c); return; }
        if (!TryMove(c, a.Dir)) Kill(c);
    }

    static Direction Toward(int dx, int dy) =>
        Math.Abs(dx) >= Math.Abs(dy) ? (dx < 0 ? Direction.Left : Direction.Right) : (dy < 0 ? Direction.Up : Direction.Down);

    /// <summary>Steps along the longer axis toward the player, falling back to the other axis when blocked.</summary>
    void Chase(int c, int dx, int dy)
    {
        Direction h = dx < 0 ? Direction.Left : Direction.Right, v = dy < 0 ? Direction.Up : Direction.Down;
        bool horizontalFirst = Math.Abs(dx) > Math.Abs(dy) || (Math.Abs(dx) == Math.Abs(dy) && _rng.Chance(0.5));
        Direction first = horizontalFirst ? h : v, second = horizontalFirst ? v : h;
        bool secondUseful = horizontalFirst ? dy != 0 : dx != 0;
        if (!TryMove(c, first) && secondUseful) TryMove(c, second);
    }

    bool TryMove(int c, Direction d)
    {
        ref Creature cr = ref _creatures[c];
        int x = cr.X + Directions.Dx(d), y = cr.Y + Directions.Dy(d);
        if (!InBounds(x, y) || (x == _px && y == _py)) return false;
        int to = Index(x, y);
        if (_occupant[to] != 0 || !CanStand(cr.Kind, _tiles[to])) return false;
        _occupant[Index(cr.X, cr.Y)] = 0;
        _occupant[to] = (short)(c + 1);
        cr.X = x; cr.Y = y;
        return true;
    }

    void Kill(int c)
    {
        ref Creature cr = ref _creatures[c];
        _occupant[Index(cr.X, cr.Y)] = 0;
        cr.Kind = CreatureKind.None;
    }

    /// <summary>Drops dead creatures, keeping survivors in order so the update order stays deterministic.</summary>
    void Compact()
    {
        int w = 0;
        for (int r = 0; r < _creatureCount; r++)
        {
            if (_creatures[r].Kind == CreatureKind.None) continue;
            if (w != r)
            {
                _creatures[w] = _creatures[r];
                _occupant[Index(_creatures[w].X, _creatures[w].Y)] = (short)(w + 1);
            }
            w++;
        }
        _creatureCount = w;
    }

    /// <summary>Keeps creature numbers near the player steady: zombies more in darkness, cows on grass, skeletons in tunnels.</summary>
    void BalanceCreatures()
    {
        float dark = 1 - Daylight;
        int zombies = 0, cows = 0, skeletons = 0;
        for (int c = 0; c < _creatureCount; c++)
        {
            ref Creature cr = ref _creatures[c];
            int d = Math.Max(Math.Abs(cr.X - _px), Math.Abs(cr.Y - _py));
            switch (cr.Kind)
            {
                case CreatureKind.Zombie:
                    // Far zombies wander off, and daylight thins them out.
                    if (d > 16 ? _rng.Chance(0.1) : d > 6 && dark < 0.3f && _rng.Chance(0.01)) Kill(c);
                    else if (d <= 12) zombies++;
                    break;
                case CreatureKind.Cow: if (d <= 16) cows++; break;
                case CreatureKind.Skeleton:
                    if (d > 20 && _rng.Chance(0.05)) Kill(c);
                    else if (d <= 10) skeletons++;
                    break;
            }
        }
        if (zombies < 1 + (int)(dark * 4) && _rng.Chance(0.01 + 0.05 * dark)) SpawnNear(CreatureKind.Zombie, 5, 12);
        if (cows < 4 && _rng.Chance(0.02)) SpawnNear(CreatureKind.Cow, 6, 16);
        if (skeletons < 2 && _rng.Chance(0.05)) SpawnNear(CreatureKind.Skeleton, 4, 10);
        Compact();
    }

    /// <summary>One spawn attempt at a random cell between Chebyshev distances min and max from the player.</summary>
    void SpawnNear(CreatureKind kind, int min, int max)
    {
        int x = _px + _rng.Next(2 * max + 1) - max, y = _py + _rng.Next(2 * max + 1) - max;
        if (Math.Max(Math.Abs(x - _px), Math.Abs(y - _py)) < min || !InBounds(x, y)) return;
        if (kind == CreatureKind.Skeleton && !_tunnel[Index(x, y)]) return;
        Spawn(kind, x, y);
    }
}
