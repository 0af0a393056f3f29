using System.Diagnostics;
using Dreamer.Artifacts;
using Dreamer.Storage;

namespace Dreamer.Pipeline.Tests;

public class CheckpointResumeTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("resume-tests").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static readonly string[] Training = ["--steps", "24", "--checkpoint-every", "2", "--threads", "1", "--seed", "3"];

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
        var straight = await DreamerProcess.RunAsync(["smoke", "--store", straightStore, .. Training]);
        Assert.True(straight.ExitCode == 0, straight.Stderr);
        var artifactId = straight.Stdout.Trim();
        var expected = (await CommittedAsync(straightStore, artifactId)).Outputs.Single(o => o.Path == "model.safetensors").Sha256;

        var killedStore = Path.Combine(_root, "killed");
        var random = new Random(20261121);
        var killedMidway = 0;
        for (var attempt = 0; attempt < 10; attempt++)
        {
            using var process = DreamerProcess.Start(["smoke", "--store", killedStore, .. Training]);
            // Kill at a random moment: during startup, mid-step or mid-checkpoint write.
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(600, 3500)));
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true); // SIGKILL: no chance to clean up
                killedMidway++;
            }
            await process.WaitForExitAsync();
        }
        Assert.True(killedMidway >= 5, $"only {killedMidway} of 10 runs were still going when killed: the test did not exercise resume");

        var resumed = await DreamerProcess.RunAsync(["smoke", "--store", killedStore, .. Training]);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Equal(artifactId, resumed.Stdout.Trim());
        var manifest = await CommittedAsync(killedStore, artifactId);
        Assert.Equal(expected, manifest.Outputs.Single(o => o.Path == "model.safetensors").Sha256);
    }

    [Fact]
    public async Task Sigterm_checkpoints_and_exits_130_then_a_rerun_finishes()
    {
        var store = Path.Combine(_root, "term");
        using var process = DreamerProcess.Start(["smoke", "--store", store, "--steps", "400", "--checkpoint-every", "1000", "--threads", "1"]);
        // Wait until training has started (the first checkpoint directory appears only on SIGTERM).
        await Task.Delay(TimeSpan.FromSeconds(3));
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
