using Dreamer.Artifacts;
using Dreamer.Schemas;
using Dreamer.Storage;
using Microsoft.Extensions.Logging;

namespace Dreamer.Hosting;

/// <summary>
/// The lineage events of one stage run: START before the work, then COMPLETE with the committed artifact as
/// the output, or FAIL with the error. The error is rethrown; a FAIL event the store refuses is logged, never
/// thrown over the cause. A run inside a pipeline run names it as its parent.
/// </summary>
public static class StageLineage
{
    /// <param name="work">Produces (or finds committed by another worker) the artifact; receives the lineage run id.</param>
    /// <param name="sharded">Whether the START event records this worker's --shard i/N.</param>
    public static async Task<StageResult> RunAsync(StageContext ctx, IBlobStore store, string stage, string artifactId, ManifestCode code,
        IReadOnlyList<LineageDataset> inputs, bool sharded, Func<string, Task<CommittedArtifact>> work)
    {
        var lineage = new LineageRecorder(store, stage);
        var codeInfo = ManifestCodeInfo.From(code);
        var parent = ctx.Options.ParentRunId is { } parentRun ? new LineageParent(parentRun, "pipeline") : null;
        var parameters = new Dictionary<string, string> { ["artifactId"] = artifactId };
        if (sharded) parameters["shard"] = $"{ctx.Options.ShardIndex}/{ctx.Options.ShardCount}";
        await lineage.StartAsync(inputs, codeInfo, parent, parameters, ctx.Cancellation).ConfigureAwait(false);
        try
        {
            var committed = await work(lineage.RunId).ConfigureAwait(false);
            await lineage.CompleteAsync(inputs, [committed.AsLineageOutput()], codeInfo, parent, CancellationToken.None).ConfigureAwait(false);
            return new StageResult(artifactId, Reused: false, committed.Manifest.Metrics);
        }
        catch (Exception e)
        {
            try
            {
                await lineage.FailAsync(inputs, codeInfo, parent, e, CancellationToken.None).ConfigureAwait(false);
            }
            catch (BlobStoreException failure)
            {
                ctx.Log.LogWarning("could not record the FAIL lineage event: {Error}", failure.Message);
            }
            throw;
        }
    }
}
