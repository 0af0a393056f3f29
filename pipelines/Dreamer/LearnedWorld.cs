using Dreamer.Artifacts;
using Dreamer.Stages.TrainDynamics;
using Dreamer.Storage;
using Dreamer.Torch;
using Dreamer.WorldModel;

namespace Dreamer.Cli;

/// <summary>
/// The learned world of a train-dynamics artifact: its dynamics weights, the tokenizer of the tokenize
/// artifact it was trained on (to decode), and that artifact's validation episodes as starting contexts.
/// </summary>
public static class LearnedWorld
{
    public const string DynamicsStage = "train-dynamics";
    public const string DynamicsFileName = "dynamics.safetensors";
    public const string TokenizerFileName = "tokenizer.safetensors";

    /// <param name="dynamicsArtifact">A train-dynamics artifact id, or "latest".</param>
    public static async Task<IInteractiveWorld> LoadAsync(IBlobStore store, string dynamicsArtifact, CancellationToken ct)
    {
        try
        {
            return await OpenAsync(store, dynamicsArtifact, ct).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            // No such artifact, or one the session cannot start from: a bad input, not a crash.
            throw new InvalidDataException(e.Message, e);
        }
    }

    private static async Task<IInteractiveWorld> OpenAsync(IBlobStore store, string dynamicsArtifact, CancellationToken ct)
    {
        var catalog = new ArtifactCatalog(store);
        var dynamics = await catalog.ResolveAsync(DynamicsStage, dynamicsArtifact, ct).ConfigureAwait(false);
        var input = dynamics.Manifest.Inputs.SingleOrDefault(i => i.Name == TrainDynamicsStage.InputBinding)
                    ?? throw new InvalidDataException($"{DynamicsStage} artifact {dynamics.Manifest.ArtifactId}: no '{TrainDynamicsStage.InputBinding}' input in its manifest");
        var tokenize = await catalog.ResolveAsync(input.Stage, input.ArtifactId, ct).ConfigureAwait(false);
        var dynamicsPrefix = StorePaths.ArtifactPrefix(DynamicsStage, dynamics.Manifest.ArtifactId);
        var tokenizePrefix = StorePaths.ArtifactPrefix(input.Stage, input.ArtifactId);

        DynamicsModel? model = null;
        CausalTokenizer? tokenizer = null;
        LatentsData? data = null;
        try
        {
            model = DynamicsFile.Load(new MemoryStream(await store.ReadAllBytesAsync(dynamicsPrefix + DynamicsFileName, ct).ConfigureAwait(false)));
            tokenizer = TokenizerFile.Load(new MemoryStream(await store.ReadAllBytesAsync(tokenizePrefix + TokenizerFileName, ct).ConfigureAwait(false)));
            data = await LatentsData.LoadAsync(store, tokenize.Manifest, ct).ConfigureAwait(false);
            // Start from episodes the model never trained on when there are any.
            var contexts = data.Validation ?? data.Train;
            if (contexts != data.Train) data.Train.Dispose();
            var evalContext = dynamics.Manifest.Config["Training"]?["EvalContext"]?.GetValue<int>() ?? 4;
            var world = new WorldSession(model, tokenizer, contexts, contextFrames: evalContext, steps: 4, seed: 0);
            (model, tokenizer, data) = (null, null, null); // the session owns them now
            return world;
        }
        catch
        {
            model?.Dispose();
            tokenizer?.Dispose();
            data?.Dispose();
            throw;
        }
    }
}
