namespace Dreamer.WorldModel;

/// <summary>
/// A world one can play in frame by frame: the learned world model (tokenizer + dynamics) behind
/// `dreamer play`, or any other source of frames with the same contract.
/// </summary>
public interface IInteractiveWorld : IDisposable
{
    int Width { get; }
    int Height { get; }

    /// <summary>The action space; an action is one double per column (<see cref="ActionComponentSpec.Columns"/>, in order).</summary>
    IReadOnlyList<ActionComponentSpec> Actions { get; }

    /// <summary>Names of the starting contexts Reset can pick (e.g. validation episodes).</summary>
    IReadOnlyList<string> Contexts { get; }

    /// <summary>Starts over from a context (index into Contexts); returns its last frame, RGB24 row-major (H*W*3 bytes).</summary>
    byte[] Reset(int context = 0);

    /// <summary>Imagines the frame that follows the given action; RGB24 row-major.</summary>
    byte[] Step(double[] action);
}
