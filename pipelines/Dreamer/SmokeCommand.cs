using System.CommandLine;
using Dreamer.Artifacts;
using Dreamer.Hosting;
using Dreamer.Storage;

namespace Dreamer.Cli;

/// <summary>
/// `dreamer smoke`: the engine smoke run: the reference space-time transformer trained for a few steps,
/// checkpointed (exact resume after a kill), committed as an artifact with lineage.
/// </summary>
internal static class SmokeCommand
{
    public static Command Create()
    {
        var store = StoreCommands.StoreOption();
        var steps = new Option<int>("--steps") { Description = "training steps", DefaultValueFactory = _ => 30 };
        var every = new Option<int>("--checkpoint-every") { Description = "steps between checkpoints", DefaultValueFactory = _ => 10 };
        var seed = new Option<long>("--seed") { Description = "seed for initialisation and data", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "intra-op threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("smoke", "engine smoke run: train the reference transformer a few steps, checkpoint, commit") { store, steps, every, seed, threads };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(store)!,
            new SmokeSettings(parse.GetValue(steps), parse.GetValue(every), parse.GetValue(seed), parse.GetValue(threads)), ct));
        return command;
    }

    /// <param name="cancel">cancelled by SIGINT/SIGTERM: finish the current step, write its checkpoint, exit 130</param>
    private static async Task<int> RunAsync(string storeUri, SmokeSettings settings, CancellationToken cancel)
    {
        if (settings.Steps < 1 || settings.CheckpointEvery < 1 || settings.Threads < 1)
        {
            Console.Error.WriteLine("smoke: --steps, --checkpoint-every and --threads must be positive");
            return ExitCodes.BadInput;
        }
        return await StoreCommands.WithStore(storeUri, async store =>
        {
            try
            {
                var result = await SmokeTraining.RunAsync(store, settings, line => Console.Error.WriteLine($"smoke: {line}"), cancel);
                var manifest = (await new ArtifactCatalog(store).TryGetAsync(SmokeTraining.Stage, result.ArtifactId))!.Manifest;
                Console.Error.WriteLine($"smoke: final loss {result.Metrics!["final_loss"]:0.0000}");
                Console.Error.WriteLine($"smoke: weights   {store.DisplayUri}/{StorePaths.ArtifactPrefix(SmokeTraining.Stage, result.ArtifactId)}model.safetensors (sha256 {manifest.Outputs[0].Sha256})");
                Console.Error.WriteLine($"smoke: checkpoints {store.DisplayUri}/{StorePaths.CheckpointPrefix(SmokeTraining.Stage, result.ArtifactId)}");
                Console.Error.WriteLine($"smoke: lineage   {store.DisplayUri}/lineage/events/");
                Console.WriteLine(result.ArtifactId);
                return ExitCodes.Done;
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                Console.Error.WriteLine("smoke: cancelled after a clean checkpoint; rerun to resume");
                return ExitCodes.Cancelled;
            }
            catch (InvalidDataException e)
            {
                Console.Error.WriteLine($"smoke: {e.Message}");
                return ExitCodes.BadInput;
            }
        });
    }
}
