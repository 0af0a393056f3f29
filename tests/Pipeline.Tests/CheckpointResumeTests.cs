using System.Diagnostics;
using Dreamer.Artifacts;
using Dreamer.Storage;

namespace Dreamer.Pipeline.Tests;

public class CheckpointResumeTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("resume-tests").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private const int TrainingSteps = 150;

    private static readonly string[] Training = ["--steps", TrainingSteps.ToString(), "--checkpoint-every", "3", "--threads", "1", "--seed", "3"];

    private static async Task<Schemas.ArtifactManifest> CommittedAsync(string store, string artifactId)
    {
        using var s = new LocalFolderStore(store);
        var artifact = await new ArtifactCatalog(s).TryGetAsync("smoke", artifactId);
        Assert.NotNull(artifact);
        Assert.Empty(await new ArtifactCatalog(s).VerifyAsync(artifact!.Manifest));
        return artifact.Manifest;
    }

    [Fact]
    public async Task Resuming_after_ten_sigkills_gives_bit_identical_weights()
    {
        var straightStore = Path.Combine(_root, "straight");
        var clock = Stopwatch.StartNew();
        var straight = await DreamerProcess.RunAsync(["smoke", "--store", straightStore, .. Training]);
        // Startup included: an upper bound, which only widens the random part of a kill's moment below.
        var stepTime = clock.Elapsed / TrainingSteps;
        Assert.True(straight.ExitCode == 0, straight.Stderr);
        var artifactId = straight.Stdout.Trim();
        var expected = (await CommittedAsync(straightStore, artifactId)).Outputs.Single(o => o.Path == "model.safetensors").Sha256;

        var killedStore = Path.Combine(_root, "killed");
        using var killedFolder = new LocalFolderStore(killedStore);
        var checkpoints = new CheckpointStore(killedFolder, "smoke", artifactId);
        async Task<long> LatestCheckpointStepAsync() => (await checkpoints.ListStepsAsync()).DefaultIfEmpty(0).Max();
        var random = new Random(20261121);
        var kills = 0;
        for (var attempt = 0; kills < 10 && attempt < 20; attempt++)
        {
            // The kill moments follow the run's own checkpoints, so a busy machine cannot finish training before the tenth kill:
            // each waits for a later checkpoint than the one before (steps 6 .. ~130 of 150), then a random part of a few
            // steps more, so it lands mid-step or mid-checkpoint write with training still left.
            var target = 6 + 13 * kills + random.Next(0, 8);
            var startStep = await LatestCheckpointStepAsync();
            using var process = await DreamerProcess.StartAndWaitForAsync("smoke training", TimeSpan.FromMinutes(1), ["smoke", "--store", killedStore, .. Training]);
            var deadline = Stopwatch.StartNew();
            var reached = startStep;
            while (!process.HasExited && (reached = await LatestCheckpointStepAsync()) < target && deadline.Elapsed < TimeSpan.FromMinutes(2))
                await Task.Delay(10);
            // This run's own pace bounds the random part too: when the straight run paid a busy machine's startup and
            // this one runs fast, the straight estimate alone spans tens of steps and training can end before the kill.
            var pace = reached > startStep ? deadline.Elapsed / (reached - startStep) : stepTime;
            await Task.Delay((pace < stepTime ? pace : stepTime) * (3 * random.NextDouble()));
            var killed = !process.HasExited;
            if (killed)
            {
                process.Kill(entireProcessTree: true); // SIGKILL: no chance to clean up
                kills++;
            }
            await process.WaitForExitAsync();
            // A run that ends by itself must have finished cleanly: a resume that crashes is what this test is for.
            Assert.True(killed || process.ExitCode == 0, $"run {attempt + 1} exited with code {process.ExitCode} on its own (from checkpoint step {startStep})");
        }
        Assert.True(kills == 10, $"only {kills} runs could be killed mid-training: the test did not exercise resume");

        var resumed = await DreamerProcess.RunAsync(["smoke", "--store", killedStore, .. Training]);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Equal(artifactId, resumed.Stdout.Trim());
        var manifest = await CommittedAsync(killedStore, artifactId);
        Assert.Equal(expected, manifest.Outputs.Single(o => o.Path == "model.safetensors").Sha256);
        Assert.True(manifest.Metrics["resumed_from_step"] > 0, "the final run did not resume from a checkpoint");
    }

    [Fact]
    public async Task Sigterm_checkpoints_and_exits_130_then_a_rerun_finishes()
    {
        var store = Path.Combine(_root, "term");
        using var process = await DreamerProcess.StartAndWaitForAsync("smoke training", TimeSpan.FromMinutes(1),
            ["smoke", "--store", store, "--steps", "400", "--checkpoint-every", "1000", "--threads", "1"]);
        // Training is under way (no checkpoint is due before step 400): a SIGTERM must write one.
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(process.HasExited);
        Process.Start("kill", ["-TERM", process.Id.ToString()])!.WaitForExit();
        await process.WaitForExitAsync();
        Assert.Equal(130, process.ExitCode);

        using var s = new LocalFolderStore(store);
        var latest = new List<BlobItem>();
        await foreach (var b in s.ListAllAsync("checkpoints/smoke/")) latest.Add(b);
        Assert.Contains(latest, b => b.Path.EndsWith("/LATEST"));
    }

    [Fact]
    public async Task Bad_arguments_exit_2()
    {
        var result = await DreamerProcess.RunAsync("smoke", "--store", Path.Combine(_root, "x"), "--steps", "0");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--steps", result.Stderr);
    }
}
