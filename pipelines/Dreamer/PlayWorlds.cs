using Dreamer.Storage;
using Dreamer.WorldModel;

namespace Dreamer.Cli;

/// <summary>
/// Where `dreamer play` gets its world from. The learned world (tokenizer + dynamics from a
/// train-dynamics artifact) plugs in here, so the play command and server do not depend on how it loads.
/// </summary>
public static class PlayWorlds
{
    /// <summary>
    /// Opens the world of a dynamics artifact (an artifact id, or "latest") in the store. The returned world
    /// belongs to the caller, which disposes it. Null: `play` exits 2 (a build without the world model).
    /// </summary>
    public static Func<IBlobStore, string, CancellationToken, Task<IInteractiveWorld>>? Loader { get; set; } = LearnedWorld.LoadAsync;
}
