using Dreamer.Hosting;
using Dreamer.Stages.Tokenize;
using Dreamer.Stages.TrainDynamics;
using Dreamer.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dreamer.WorldModel.Tests;

/// <summary>
/// One tiny tokenize artifact (played game episodes, 3 train and 1 validation, through the tokenize stage),
/// made once; every test gets its own copy of the store, so runs in one copy never see another's artifacts
/// and two copies give the same artifact ids (same tokenize artifact, same config).
/// </summary>
public sealed class DynamicsStageFixture : IDisposable
{
    private readonly List<string> _copies = [];

    public DynamicsStageFixture()
    {
        Frames = new FramesStore();
        Tokenize = TokenizeStage.RunAsync(TokenizeStageTests.Context(TokenizeStageTests.Args(Frames.Root))).GetAwaiter().GetResult();
    }

    public FramesStore Frames { get; }
    public StageResult Tokenize { get; }

    /// <summary>A fresh copy of the store holding the frames and tokenize artifacts (and nothing else).</summary>
    public string NewStore()
    {
        var root = Directory.CreateTempSubdirectory("train-dynamics-tests-").FullName;
        lock (_copies) _copies.Add(root);
        foreach (var dir in Directory.EnumerateDirectories(Frames.Root, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(root, Path.GetRelativePath(Frames.Root, dir)));
        foreach (var file in Directory.EnumerateFiles(Frames.Root, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(root, Path.GetRelativePath(Frames.Root, file)));
        return root;
    }

    public static IBlobStore Open(string root) => BlobStores.Open(root);

    /// <summary>Fast settings: the tiny preset on one thread.</summary>
    public static string[] Args(string root, params string[] extra) =>
    [
        "--store", root, "--input", "latest",
        "--set", "TrainDynamics:Preset=tiny", "--set", "TrainDynamics:Threads=1",
        .. extra,
    ];

    public static StageContext Context(string[] args, CancellationToken ct = default) =>
        new(TrainDynamicsStage.StageName, StageOptions.Parse(args), NullLoggerFactory.Instance, ct);

    public void Dispose()
    {
        Frames.Dispose();
        foreach (var root in _copies)
        {
            try { Directory.Delete(root, recursive: true); }
            catch (IOException) { }
        }
    }
}
