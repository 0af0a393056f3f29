using Spectre.Console;

namespace Dreamer.Bench;

/// <summary>A benchmark's table and GOAL lines, printed the same way by every benchmark.</summary>
public sealed class BenchReport(string title)
{
    private readonly List<string[]> _rows = [];
    private readonly List<string> _goals = [];
    private string[] _columns = ["measure", "ours", "peer", "ratio"];

    public BenchReport Columns(params string[] columns) { _columns = columns; return this; }

    public void Row(params string[] cells) => _rows.Add(cells);

    /// <summary>One goal: metric name, measured value, target such as "&lt;=1.0" or "&gt;=0.95".</summary>
    public void Goal(string metric, double value, string target) =>
        _goals.Add(FormattableString.Invariant($"GOAL {metric} {value:0.###} {target}"));

    public void Print()
    {
        var table = new Table().Title(title).Border(TableBorder.Simple);
        foreach (var c in _columns) table.AddColumn(c);
        foreach (var r in _rows) table.AddRow(r.Select(Markup.Escape).ToArray());
        AnsiConsole.Write(table);
        foreach (var g in _goals) Console.WriteLine(g);
    }
}
