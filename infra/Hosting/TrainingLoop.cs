using System.Diagnostics;
using Dreamer.Storage;

namespace Dreamer.Hosting;

/// <summary>
/// The step loop of a training stage that holds its artifact's training lease: reports progress, writes a
/// checkpoint every <see cref="CheckpointEvery"/> steps and after the last one, and on cancellation (SIGTERM:
/// preemption) writes a checkpoint of the progress made before it stops, so the stage exits 130 with nothing
/// lost. A lost lease stops it: another worker has taken the training over, and no checkpoint is written.
/// </summary>
public sealed record TrainingLoop(string Title, long Steps, int CheckpointEvery, LeaseHolder Lease, string ArtifactId)
{
    /// <param name="startSeconds">Training seconds before this run (from the checkpoint it resumed).</param>
    /// <param name="step">The step the trainer has reached.</param>
    /// <param name="trainStep">One training step and whatever is due after it (an evaluation), given the training seconds
    /// clock; returns the step reached and a progress note.</param>
    /// <param name="save">Writes a complete checkpoint, given the training seconds so far, even while cancellation is pending.</param>
    /// <param name="afterStep">Called after every step (tests stop a run at a known step with it).</param>
    /// <returns>The training seconds at the end: <paramref name="startSeconds"/> plus this run's.</returns>
    public Task<double> RunAsync(double startSeconds, Func<long> step, Func<Func<double>, (long Step, string Note)> trainStep,
        Func<double, Task> save, Action<long>? afterStep, CancellationToken ct) =>
        StageProgress.RunAsync(Title, Steps, async progress =>
        {
            var saved = step();
            progress.Report(saved);
            var clock = Stopwatch.StartNew();
            double Seconds() => startSeconds + clock.Elapsed.TotalSeconds;
            async Task SaveAsync()
            {
                if (Lease.IsLost) throw new IOException($"lost the training lease of {ArtifactId}: not writing a checkpoint");
                await save(Seconds()).ConfigureAwait(false);
            }
            while (step() < Steps)
            {
                if (Lease.IsLost) throw new IOException($"lost the training lease of {ArtifactId}: another worker took over");
                if (ct.IsCancellationRequested)
                {
                    // Preemption: keep the progress made, then stop (exit 130).
                    if (step() > saved) await SaveAsync().ConfigureAwait(false);
                    ct.ThrowIfCancellationRequested();
                }
                var (reached, note) = trainStep(Seconds);
                progress.Report(reached, note);
                if (reached % CheckpointEvery == 0 || reached >= Steps)
                {
                    await SaveAsync().ConfigureAwait(false);
                    saved = step();
                }
                afterStep?.Invoke(reached);
            }
            return Seconds();
        });
}
