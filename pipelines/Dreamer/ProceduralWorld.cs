using Dreamer.WorldModel;

namespace Dreamer.Cli;

/// <summary>
/// A deterministic stand-in for the learned world (`dreamer play --test-world`): a coloured square on a
/// patterned background, moved by the built-in game's movement classes, "interact" toggling its colour.
/// It needs no trained model, so the play UI and its tests run anywhere; "noop" leaves the frame as is.
/// </summary>
public sealed class ProceduralWorld : IInteractiveWorld
{
    public const int Size = 64;
    private const int Square = 8;
    private const int Speed = 4;

    private static readonly ActionComponentSpec ActionSpec =
        new("action", ActionKind.Categorical, ["noop", "move_left", "move_right", "move_up", "move_down", "interact"]);

    // (name, start x, start y, background tint): each context starts somewhere else and looks different.
    private static readonly (string Name, int X, int Y, byte Tint)[] Starts =
    [
        ("centre", (Size - Square) / 2, (Size - Square) / 2, 40),
        ("top-left", 4, 4, 90),
        ("bottom-right", Size - Square - 4, Size - Square - 4, 140),
    ];

    private int _context, _x, _y;
    private bool _alternate;

    public int Width => Size;
    public int Height => Size;
    public IReadOnlyList<ActionComponentSpec> Actions { get; } = [ActionSpec];
    public IReadOnlyList<string> Contexts { get; } = Starts.Select(s => s.Name).ToArray();

    public byte[] Reset(int context = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(context);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(context, Starts.Length);
        (_context, _x, _y, _alternate) = (context, Starts[context].X, Starts[context].Y, false);
        return Render();
    }

    public byte[] Step(double[] action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (action.Length != 1) throw new ArgumentException($"expected 1 action column, got {action.Length}", nameof(action));
        switch ((int)action[0])
        {
            case 1: _x -= Speed; break;
            case 2: _x += Speed; break;
            case 3: _y -= Speed; break;
            case 4: _y += Speed; break;
            case 5: _alternate = !_alternate; break;
        }
        _x = Math.Clamp(_x, 0, Size - Square);
        _y = Math.Clamp(_y, 0, Size - Square);
        return Render();
    }

    private byte[] Render()
    {
        var rgb = new byte[Size * Size * 3];
        var tint = Starts[_context].Tint;
        for (var y = 0; y < Size; y++)
        for (var x = 0; x < Size; x++)
        {
            var i = (y * Size + x) * 3;
            var inSquare = x >= _x && x < _x + Square && y >= _y && y < _y + Square;
            if (inSquare)
            {
                (rgb[i], rgb[i + 1], rgb[i + 2]) = _alternate ? ((byte)40, (byte)200, (byte)255) : ((byte)255, (byte)210, (byte)40);
                continue;
            }
            // A checkerboard of 8-pixel cells makes movement easy to see even when upscaled.
            var cell = ((x / 8) + (y / 8)) % 2 == 0 ? 0 : 16;
            rgb[i] = (byte)(tint / 2 + cell);
            rgb[i + 1] = (byte)(tint / 3 + cell);
            rgb[i + 2] = (byte)(tint + cell);
        }
        return rgb;
    }

    public void Dispose() { }
}
