using Dreamer.Game;

namespace Dreamer.WorldModel.Tests;

/// <summary>One played episode of the built-in game: frames and what was done in them.</summary>
public sealed record GameEpisode(string Id, byte[] Frames, int[] Actions, float[] Rewards, bool[] Done)
{
    public int Length => Actions.Length;
}

/// <summary>Game frames for tests, played directly (no ingest): contractor and random players, seeded.</summary>
public static class GameFrames
{
    public const int Size = 64;
    public const int FrameBytes = Size * Size * 3;

    /// <summary>Episodes of at most <paramref name="steps"/> frames; frame i shows the state after action i (action 0 for the reset frame).</summary>
    public static IReadOnlyList<GameEpisode> Play(int episodes, int steps, long seed)
    {
        var result = new List<GameEpisode>();
        var config = new CraftConfig();
        for (var e = 0; e < episodes; e++)
        {
            var env = new CraftWorld(config, seed + e);
            var player = Players.Create(e % 3 == 2 ? "random" : "contractor");
            var rng = new Rng(seed * 7919 + e);
            var frames = new byte[steps * FrameBytes];
            var actions = new List<int> { 0 };
            var rewards = new List<float> { 0 };
            var done = new List<bool> { false };
            env.Reset(frames.AsSpan(0, FrameBytes));
            for (var t = 1; t < steps; t++)
            {
                var action = player.Act(env, rng);
                var r = env.Step(action, frames.AsSpan(t * FrameBytes, FrameBytes));
                actions.Add(action);
                rewards.Add(r.Reward);
                done.Add(r.Done);
                if (r.Done) break;
            }
            var n = actions.Count;
            result.Add(new GameEpisode($"game-{seed}-{e}", frames[..(n * FrameBytes)], [.. actions], [.. rewards], [.. done]));
        }
        return result;
    }

    public static FrameSet ToFrameSet(IReadOnlyList<GameEpisode> episodes)
    {
        var pixels = episodes.SelectMany(e => e.Frames).ToArray();
        var ids = episodes.SelectMany((e, i) => Enumerable.Repeat(i, e.Length)).ToArray();
        return FrameSet.FromBytes(pixels, Size, Size, 3, ids);
    }

    public static FrameSet Make(int episodes, int steps, long seed) => ToFrameSet(Play(episodes, steps, seed));
}
