using System.Runtime.ExceptionServices;

namespace Dreamer.Stages.Ingest;

internal static class TaskErrors
{
    /// <summary>
    /// Awaits a task that joins several (Task.WhenAll, Parallel.ForEachAsync); when it failed, rethrows the
    /// first real error rather than the cancellations it caused in the others, whichever came first in order.
    /// </summary>
    public static async Task FirstCauseAsync(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch
        {
            var cause = task.Exception?.InnerExceptions.FirstOrDefault(e => e is not OperationCanceledException);
            if (cause != null) ExceptionDispatchInfo.Throw(cause);
            throw;
        }
    }
}
