using System.Diagnostics;
using Dreamer.Artifacts;
using Dreamer.Hosting;
using Dreamer.Parquet;
using Dreamer.Schemas;
using Dreamer.Stages.Collect;
using Dreamer.Stages.Ingest;
using Dreamer.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dreamer.Ingest.Tests;

/// <summary>A frames table row, read back through <see cref="FramesBatch"/> like tokenize will.</summary>
public sealed record FrameRow(string EpisodeId, int FrameIndex, byte[] Image, int? Action, float? Reward, bool Done,
    string SourceFile, int SourceOffset, string Split);

/// <summary>A store in a temp folder, removed after the test.</summary>
public sealed class TempStore : IDisposable
{
    public TempStore() => Root = Directory.CreateTempSubdirectory("ingest-tests-").FullName;

    public string Root { get; }

    public IBlobStore Open() => BlobStores.Open(Root);

    public string PathOf(string blob) => Path.Combine([Root, .. blob.Split('/')]);

    /// <summary>Copies a raw dataset folder (from another store) under raw/&lt;name&gt;/ of this one.</summary>
    public void CopyRaw(string fromRoot, string fromDataset, string toDataset)
    {
        var source = Path.Combine(fromRoot, "raw", fromDataset);
        var target = Path.Combine(Root, "raw", toDataset);
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(source)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
    }
}

public static class Stages
{
    public static StageContext Context(string stage, string[] args, CancellationToken ct = default) =>
        new(stage, StageOptions.Parse(args), NullLoggerFactory.Instance, ct);

    public static Task<StageResult> CollectAsync(params string[] args) =>
        CollectStage.RunAsync(Context(CollectStage.StageName, args));

    public static Task<StageResult> IngestAsync(params string[] args) =>
        IngestStage.RunAsync(Context(IngestStage.StageName, args));

    /// <summary>The exit code the executable would return (its Program: StageHost with plan and run), in process.</summary>
    public static Task<int> IngestExitCodeAsync(params string[] args)
    {
        var stage = new IngestStage();
        return StageHost.RunAsync(IngestStage.StageName, args, stage.PlanAsync, stage.RunAsync);
    }

    /// <summary>Starts `dotnet dreamer-ingest.dll ...` as a child process, as a pipeline runner would.</summary>
    public static Process StartIngestProcess(params string[] args) => StartIngestProcess(args, scratchRoot: null);

    /// <param name="scratchRoot">Parent of the process's scratch folders (DREAMER_SCRATCH) instead of the system temp folder.</param>
    public static Process StartIngestProcess(string[] args, string? scratchRoot)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (scratchRoot != null) psi.Environment["DREAMER_SCRATCH"] = scratchRoot;
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "dreamer-ingest.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunIngestProcessAsync(params string[] args)
    {
        using var process = StartIngestProcess(args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}

public static class Frames
{
    /// <summary>Every row of a committed frames artifact, in part then row order.</summary>
    public static async Task<List<FrameRow>> ReadAsync(TempStore store, ArtifactManifest manifest)
    {
        var rows = new List<FrameRow>();
        foreach (var output in manifest.Outputs)
        {
            var path = store.PathOf(StorePaths.ArtifactPrefix(manifest.Stage, manifest.ArtifactId) + output.Path);
            using var reader = await ParquetReader.OpenFileAsync(path);
            var layout = FramesLayout.FromMetadata(reader.KeyValueMetadata, path);
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                var batch = FramesBatch.FromColumns(layout, await reader.ReadRowGroupAsync(g));
                int[]? actions = layout.ActionSpace.Columns.Count > 0 ? batch.Int32Action(0) : null;
                for (int i = 0; i < batch.Count; i++)
                    rows.Add(new FrameRow(batch.EpisodeId[i], batch.FrameIndex[i], batch.Image(i).ToArray(),
                        actions != null && batch.HasAction[i] ? actions[i] : null,
                        batch.HasReward[i] ? batch.Reward[i] : null, batch.Done[i],
                        batch.SourceFile[i], batch.SourceOffset[i], batch.Split[i]));
            }
        }
        return rows;
    }

    public static double Psnr(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        double se = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = a[i] - b[i];
            se += d * d;
        }
        return se == 0 ? double.PositiveInfinity : 10 * Math.Log10(255.0 * 255.0 * a.Length / se);
    }
}

/// <summary>
/// The tiny preset collected once (4 short episodes, one unlabeled) for the whole test run; tests copy
/// its raw folder into their own stores.
/// </summary>
public sealed class TinyDataset : IAsyncLifetime
{
    public const string Name = "craftworld-tiny";
    public const long Seed = 7;
    public TempStore Store { get; } = new();
    public CollectSettings Settings { get; } = new CollectSection { Preset = "tiny" }.Resolve();

    public async Task InitializeAsync() =>
        await Stages.CollectAsync("--store", Store.Root, "--seed", Seed.ToString(), "--set", "Collect:Preset=tiny");

    public Task DisposeAsync()
    {
        Store.Dispose();
        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class TinyCollection : ICollectionFixture<TinyDataset>
{
    public const string Name = "tiny dataset";
}
