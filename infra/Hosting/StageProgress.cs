using Spectre.Console;

namespace Dreamer.Hosting;

/// <summary>Where a long job reports how far it is.</summary>
public interface IProgressSink
{
    void Report(double done, string? status = null);
}

/// <summary>
/// Progress for long work: a Spectre.Console bar on a terminal, plain lines every few seconds otherwise
/// (CI, Kubernetes logs), so output stays readable when redirected.
/// </summary>
public static class StageProgress
{
    public static bool Interactive => AnsiConsole.Profile.Capabilities.Interactive && !Console.IsErrorRedirected;

    public static async Task<T> RunAsync<T>(string description, double total, Func<IProgressSink, Task<T>> work)
    {
        if (!Interactive)
        {
            var sink = new PlainSink(description, total);
            var result = await work(sink).ConfigureAwait(false);
            sink.Finish();
            return result;
        }
        T value = default!;
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(description), maxValue: Math.Max(total, 1));
                value = await work(new SpectreSink(task, description)).ConfigureAwait(false);
                task.Value = task.MaxValue;
            }).ConfigureAwait(false);
        return value;
    }

    private sealed class SpectreSink(ProgressTask task, string description) : IProgressSink
    {
        public void Report(double done, string? status)
        {
            task.Value = done;
            if (status != null) task.Description = Markup.Escape($"{description} {status}");
        }
    }

    private sealed class PlainSink(string description, double total) : IProgressSink
    {
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
        private TimeSpan? _lastPrint;
        private double _done;
        private string? _status;

        public void Report(double done, string? status)
        {
            _done = done;
            _status = status ?? _status;
            if (_lastPrint is { } last && _clock.Elapsed - last < TimeSpan.FromSeconds(5)) return;
            _lastPrint = _clock.Elapsed;
            Print();
        }

        public void Finish() { _done = total; Print(); }

        private void Print() => Console.Error.WriteLine(
            $"[{_clock.Elapsed:hh\\:mm\\:ss}] {description}: {_done:0}/{total:0} ({100 * _done / Math.Max(total, 1):0.0}%){(_status != null ? " " + _status : "")}");
    }
}
