using System.Numerics;

namespace Dreamer.Game;

/// <summary>
/// xoshiro256** seeded through splitmix64. A fixed, documented algorithm, so a seed names the
/// same stream on every runtime (System.Random's algorithm is unspecified).
/// </summary>
public sealed class Rng
{
    ulong _s0, _s1, _s2, _s3;

    public Rng(long seed) => Reseed(seed);

    public void Reseed(long seed)
    {
        ulong x = (ulong)seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    /// <summary>One splitmix64 step: advances <paramref name="x"/> and returns a well-mixed value.</summary>
    public static ulong SplitMix(ref ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        ulong z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Derives an independent seed from a seed and a stream index (episode, worker, ...).</summary>
    public static long Derive(long seed, long stream)
    {
        ulong x = (ulong)seed ^ ((ulong)stream * 0xD1B54A32D192ED03UL);
        return (long)SplitMix(ref x);
    }

    public ulong NextUInt64()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform integer in [0, n) by multiply-shift; the bias is below 2^-32 for the small n used here.</summary>
    public int Next(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "must be positive");
        return (int)(((NextUInt64() >> 32) * (ulong)n) >> 32);
    }

    /// <summary>Uniform double in [0, 1) from the top 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    public bool Chance(double p) => NextDouble() < p;

    /// <summary>The full generator state, for determinism checks and checkpoints.</summary>
    public (ulong, ulong, ulong, ulong) State => (_s0, _s1, _s2, _s3);
}
