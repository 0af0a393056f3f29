using System.Buffers.Binary;
using System.IO.Compression;
using System.Text.Json.Nodes;
using Dreamer.Artifacts;
using Dreamer.Hosting;
using Dreamer.Parquet;
using Dreamer.Parquet.IO;
using Dreamer.Schemas;
using Dreamer.Stages.Tokenize;
using Dreamer.Storage;
using Dreamer.Torch;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dreamer.WorldModel.Tests;

using Torch = Dreamer.Torch.Torch;

/// <summary>A store in a temp folder with a frames artifact of played game episodes (3 train, 1 validation).</summary>
public sealed class FramesStore : IDisposable
{
    public FramesStore(int episodes = 4, int steps = 14, long seed = 21)
    {
        Root = Directory.CreateTempSubdirectory("tokenize-tests-").FullName;
        Episodes = GameFrames.Play(episodes, steps, seed);
        using var store = Open();
        FramesId = WriteFramesAsync(store, Episodes).GetAwaiter().GetResult();
    }

    public string Root { get; }
    public IReadOnlyList<GameEpisode> Episodes { get; }
    public string FramesId { get; }

    public IBlobStore Open() => BlobStores.Open(Root);

    public static string SplitOf(int episode) => episode == 1 ? FramesTable.ValidationSplit : FramesTable.TrainSplit;

    /// <summary>One frames part per episode, committed like ingest does.</summary>
    public static async Task<string> WriteFramesAsync(IBlobStore store, IReadOnlyList<GameEpisode> episodes)
    {
        var layout = new FramesLayout(GameFrames.Size, GameFrames.Size, 10, ActionSpaceSpec.SingleCategorical("action", Game.ActionSpace.Names));
        var id = "ingest-" + Guid.NewGuid().ToString("N")[..16];
        var writer = new ArtifactWriter(store, "ingest", id);
        for (var e = 0; e < episodes.Count; e++)
        {
            var ep = episodes[e];
            var batch = new FramesBatch(layout, ep.Length) { Count = ep.Length };
            for (var i = 0; i < ep.Length; i++)
            {
                batch.EpisodeId[i] = ep.Id;
                batch.FrameIndex[i] = i;
                ep.Frames.AsSpan(i * GameFrames.FrameBytes, GameFrames.FrameBytes).CopyTo(batch.Image(i));
                // FRAMES_TABLE.md: a row holds the action taken after seeing its frame and the reward it earned.
                var next = i + 1 < ep.Length;
                batch.Int32Action(0)[i] = next ? ep.Actions[i + 1] : 0;
                batch.HasAction[i] = next;
                batch.Reward[i] = next ? ep.Rewards[i + 1] : 0;
                batch.HasReward[i] = next;
                batch.Done[i] = i == ep.Length - 1;
                batch.SourceFile[i] = $"raw/test/{ep.Id}.mp4";
                batch.SourceOffset[i] = i;
                batch.Split[i] = SplitOf(e);
            }
            using var part = new MemoryStream();
            using (var pw = new ParquetWriter(part, layout.Schema, leaveOpen: true))
            {
                foreach (var (k, v) in layout.Metadata(id)) pw.Metadata[k] = v;
                pw.Write(batch.ToColumns());
                pw.Finish();
            }
            part.Position = 0;
            await writer.WritePartAsync($"part-{e:D5}.parquet", part, ep.Length);
        }
        await writer.CommitAsync("test-run", 1, [], [], new JsonObject(), new ManifestCode("test", null, null),
            CodeVersion.Environment(null, 1, null), new Dictionary<string, double>());
        return id;
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>One tiny-preset tokenize run on a frames store, shared by the tests that inspect its artifact.</summary>
public sealed class TokenizedStore : IDisposable
{
    public TokenizedStore()
    {
        Frames = new FramesStore();
        Result = TokenizeStage.RunAsync(TokenizeStageTests.Context(TokenizeStageTests.Args(Frames.Root))).GetAwaiter().GetResult();
    }

    public FramesStore Frames { get; }
    public StageResult Result { get; }

    public async Task<ArtifactManifest> ManifestAsync(IBlobStore store) =>
        (await new ArtifactCatalog(store).ResolveAsync(TokenizeStage.StageName, Result.ArtifactId)).Manifest;

    public void Dispose() => Frames.Dispose();
}

public sealed class TokenizeStageTests(TokenizedStore tokenized) : IClassFixture<TokenizedStore>
{
    private readonly TokenizedStore _tokenized = tokenized;

    // Fast settings: the tiny preset, one thread, a short schedule.
    internal static string[] Args(string root, params string[] extra) =>
    [
        "--store", root, "--input", "latest",
        "--set", "Tokenizer:Preset=tiny", "--set", "Tokenizer:Threads=1", "--set", "Tokenizer:Steps=12",
        "--set", "Tokenizer:EvalEvery=6", "--set", "Tokenizer:CheckpointEvery=4", "--set", "Tokenizer:SampleFrames=4",
        .. extra,
    ];

    internal static StageContext Context(string[] args, CancellationToken ct = default) =>
        new(TokenizeStage.StageName, StageOptions.Parse(args), NullLoggerFactory.Instance, ct);

    private static async Task<List<LatentsBatch>> ReadLatentsAsync(IBlobStore store, ArtifactManifest manifest)
    {
        var batches = new List<LatentsBatch>();
        foreach (var output in manifest.Outputs.Where(o => o.Path.StartsWith("latents/", StringComparison.Ordinal)))
        {
            var path = StorePaths.ArtifactPrefix(manifest.Stage, manifest.ArtifactId) + output.Path;
            using var source = await BlobSource.OpenAsync(store, path);
            using var reader = await ParquetReader.OpenAsync(source, path);
            var layout = LatentsLayout.FromMetadata(reader.KeyValueMetadata, path);
            for (var g = 0; g < reader.RowGroupCount; g++)
                batches.Add(LatentsBatch.FromColumns(layout, await reader.ReadRowGroupAsync(g)));
        }
        return batches;
    }

    [Fact]
    public async Task TrainsEvaluatesEncodesAndCommits()
    {
        var (fixture, result) = (_tokenized.Frames, _tokenized.Result);
        Assert.False(result.Reused);
        Assert.StartsWith("tokenize-", result.ArtifactId);

        using var store = fixture.Open();
        var manifest = await _tokenized.ManifestAsync(store);
        Assert.Equal(["eval.json", "latents/part-00000-of-00001.parquet", "samples.png", "tokenizer.safetensors"], manifest.Outputs.Select(o => o.Path));
        Assert.Empty(await new ArtifactCatalog(store).VerifyAsync(manifest));
        Assert.Equal(fixture.FramesId, Assert.Single(manifest.Inputs).ArtifactId);
        Assert.Equal(12, manifest.Metrics["train_steps"]);
        Assert.InRange(manifest.Metrics["psnr"], 5, 60);
        Assert.InRange(manifest.Metrics["temporal_psnr"], 5, 100);
        Assert.InRange(manifest.Metrics["raw_change_psnr"], 5, 100);
        Assert.InRange(manifest.Metrics["decoded_change_psnr"], 5, 100);
        Assert.Equal("tiny", manifest.Config["Preset"]!.GetValue<string>());

        var prefix = StorePaths.ArtifactPrefix(TokenizeStage.StageName, result.ArtifactId);
        var png = await store.ReadAllBytesAsync(prefix + "samples.png");
        Assert.Equal(0x89504E47u, BinaryPrimitives.ReadUInt32BigEndian(png));
        var eval = JsonNode.Parse(await store.ReadAllBytesAsync(prefix + "eval.json"))!;
        Assert.Equal([6L, 12L], eval["curve"]!.AsArray().Select(c => c!["step"]!.GetValue<long>()));

        var again = await TokenizeStage.RunAsync(Context(Args(fixture.Root)));
        Assert.True(again.Reused);
        Assert.Equal(result.ArtifactId, again.ArtifactId);
    }

    [Fact]
    public async Task LatentRowsCarryActionsRewardsDoneBoundariesAndSplit()
    {
        var fixture = _tokenized.Frames;
        using var store = fixture.Open();
        var rows = (await ReadLatentsAsync(store, await _tokenized.ManifestAsync(store)))
            .SelectMany(b => Enumerable.Range(0, b.Count).Select(i => (b, i))).ToList();
        Assert.Equal(fixture.Episodes.Sum(e => e.Length), rows.Count);
        Assert.Equal(2 * TokenizerPresets.Tiny.Model.Latents * TokenizerPresets.Tiny.Model.LatentDim, rows[0].b.Layout.LatentBytes); // float16
        foreach (var (b, i) in rows)
        {
            var e = fixture.Episodes.Select((ep, k) => (ep, k)).Single(x => x.ep.Id == b.EpisodeId[i]);
            var f = b.FrameIndex[i];
            var next = f + 1 < e.ep.Length;
            Assert.Equal(next ? e.ep.Actions[f + 1] : 0, b.Actions[0] is int[] a ? a[i] : -1);
            Assert.Equal(next, b.HasAction[i]);
            Assert.Equal(next ? e.ep.Rewards[f + 1] : 0, b.Reward[i]);
            Assert.Equal(!next, b.Done[i]);
            Assert.Equal(f == 0, b.IsFirst[i]);
            Assert.Equal(FramesStore.SplitOf(e.k), b.Split[i]);
        }
    }

    [Fact]
    public async Task StoredLatentsDecodeToTheSameFramesAsFreshOnes()
    {
        var fixture = _tokenized.Frames;
        using var store = fixture.Open();
        var manifest = await _tokenized.ManifestAsync(store);
        var prefix = StorePaths.ArtifactPrefix(TokenizeStage.StageName, manifest.ArtifactId);
        using var model = TokenizerFile.Load(new MemoryStream(await store.ReadAllBytesAsync(prefix + TokenizeStage.ModelFile)));
        var rows = (await ReadLatentsAsync(store, manifest)).SelectMany(b => Enumerable.Range(0, b.Count).Select(i => (b, i))).ToList();
        foreach (var episode in fixture.Episodes)
        {
            using var scope = Torch.NewDisposeScope();
            var stored = rows.Where(r => r.b.EpisodeId[r.i] == episode.Id).OrderBy(r => r.b.FrameIndex[r.i]).ToList();
            var half = stored.SelectMany(r => r.b.Latent(r.i).ToArray()).ToArray();
            var z = Tensor.FromBytes(half, DType.Float16, 1, stored.Count, model.Config.Latents, model.Config.LatentDim).To(DType.Float32);
            var frames = Tensor.From<byte>(episode.Frames, 1, episode.Length, 64, 64, 3);
            var fresh = model.EncodeSequence(frames);
            Assert.True((fresh - z).Abs().Max().ToDouble() < 2e-3, "stored latents are the fresh ones up to float16 rounding");
            var fromStored = model.DecodeSequence(z);
            var fromFresh = model.DecodeSequence(fresh);
            var diff = (fromStored - fromFresh).Abs().Max().ToDouble();
            Assert.True(diff < 2.0 / 255, $"decoded frames differ by {diff * 255:0.00}/255");
        }
    }

    [Fact]
    public async Task ResumeAfterCancellationReachesTheSameWeights()
    {
        using var fixture = new FramesStore(episodes: 3, steps: 12);
        using var reference = new FramesStore(episodes: 3, steps: 12);

        // Interrupted run: cancelled at a known step after the first checkpoint (polling the store for it raced
        // a fast run to its end), then rerun to completion.
        using var cancel = new CancellationTokenSource();
        var stage = new TokenizeStage { AfterStep = step => { if (step == 6) cancel.Cancel(); } };
        var context = Context(Args(fixture.Root), cancel.Token);
        var plan = await stage.PlanAsync(context);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stage.RunAsync(context, plan));
        using (var store = fixture.Open())
        {
            var checkpoint = await new CheckpointStore(store, TokenizeStage.StageName, plan.ArtifactId).LoadLatestAsync();
            Assert.NotNull(checkpoint);
            Assert.InRange(checkpoint.Step, 4, 11);
            Assert.False(await new ArtifactCatalog(store).IsCommittedAsync(TokenizeStage.StageName, plan.ArtifactId));
        }
        var resumed = await TokenizeStage.RunAsync(Context(Args(fixture.Root)));
        Assert.Equal(plan.ArtifactId, resumed.ArtifactId);

        // Uninterrupted run on a copy of the same frames (different frames artifact id, so compare weights, not ids).
        var straight = await TokenizeStage.RunAsync(Context(Args(reference.Root)));
        using var a = fixture.Open();
        using var b = reference.Open();
        var wa = await a.ReadAllBytesAsync(StorePaths.ArtifactPrefix(TokenizeStage.StageName, resumed.ArtifactId) + TokenizeStage.ModelFile);
        var wb = await b.ReadAllBytesAsync(StorePaths.ArtifactPrefix(TokenizeStage.StageName, straight.ArtifactId) + TokenizeStage.ModelFile);
        using var fa = Safetensors.Load(new MemoryStream(wa));
        using var fb = Safetensors.Load(new MemoryStream(wb));
        foreach (var (name, t) in fa.Tensors)
            Assert.True(t.ToBytes().AsSpan().SequenceEqual(fb.Tensors[name].ToBytes()), $"{name} differs after resume");
    }

    [Fact]
    public async Task NonFiniteLossStopsWithExitCode2AndNoCheckpointOfTheBadStep()
    {
        using var fixture = new FramesStore(episodes: 2, steps: 10);
        var stage = new TokenizeStage();
        // A learning rate this large blows the weights up after the first update.
        var args = Args(fixture.Root, "--set", "Tokenizer:LearningRate=1e30", "--set", "Tokenizer:WarmupSteps=0", "--set", "Tokenizer:CheckpointEvery=1");
        var code = await StageHost.RunAsync(TokenizeStage.StageName, args, stage.PlanAsync, stage.RunAsync);
        Assert.Equal(ExitCodes.BadInput, code);
        using var store = fixture.Open();
        var artifactId = (await stage.PlanAsync(Context(args))).ArtifactId;
        // Training stopped early; a blown-up update is caught by its loss, its gradient norm or the weight check
        // before saving, so whatever checkpoint exists holds finite weights.
        var checkpoints = new CheckpointStore(store, TokenizeStage.StageName, artifactId);
        Assert.True((await checkpoints.ListStepsAsync()).All(step => step < 12));
        if (await checkpoints.LoadLatestAsync() is { } checkpoint)
        {
            using var weights = Safetensors.Load(new MemoryStream(await checkpoint.ReadFileAsync("model.safetensors")));
            Assert.All(weights.Tensors.Values, t => Assert.All(t.ToArray<float>(), v => Assert.True(float.IsFinite(v), "a checkpoint holds non-finite weights")));
        }
        Assert.False(await new ArtifactCatalog(store).IsCommittedAsync(TokenizeStage.StageName, artifactId));
    }

    [Fact]
    public async Task TwoShardWorkersShareTheEncodingAndOneCommits()
    {
        using var fixture = new FramesStore(episodes: 4, steps: 10);
        var first = Task.Run(() => TokenizeStage.RunAsync(Context(Args(fixture.Root, "--shard", "0/2"))));
        var second = Task.Run(() => TokenizeStage.RunAsync(Context(Args(fixture.Root, "--shard", "1/2"))));
        var results = await Task.WhenAll(first, second);
        Assert.Equal(results[0].ArtifactId, results[1].ArtifactId);
        using var store = fixture.Open();
        var manifest = (await new ArtifactCatalog(store).ResolveAsync(TokenizeStage.StageName, results[0].ArtifactId)).Manifest;
        Assert.Equal(["latents/part-00000-of-00002.parquet", "latents/part-00001-of-00002.parquet"],
            manifest.Outputs.Where(o => o.Path.StartsWith("latents/", StringComparison.Ordinal)).Select(o => o.Path));
        Assert.Equal(fixture.Episodes.Sum(e => e.Length), manifest.Outputs.Sum(o => o.Rows ?? 0));
        Assert.Equal(2, manifest.Metrics["shards"]);
    }

    [Fact]
    public async Task OneFrameWindowsCommitWithoutFrameToFrameMetrics()
    {
        using var fixture = new FramesStore(episodes: 1, steps: 6);
        var result = await TokenizeStage.RunAsync(Context(Args(fixture.Root, "--set", "Tokenizer:SequenceLength=1", "--set", "Tokenizer:Steps=4",
            "--set", "Tokenizer:EvalEvery=2")));
        using var store = fixture.Open();
        var manifest = (await new ArtifactCatalog(store).TryGetAsync(TokenizeStage.StageName, result.ArtifactId))!.Manifest;
        Assert.InRange(manifest.Metrics["psnr"], 5, 60);
        Assert.False(manifest.Metrics.ContainsKey("temporal_psnr"));
    }

    [Fact]
    public async Task UnknownPresetIsABadConfiguration()
    {
        using var fixture = new FramesStore(episodes: 1, steps: 4);
        var stage = new TokenizeStage();
        var code = await StageHost.RunAsync(TokenizeStage.StageName, Args(fixture.Root, "--set", "Tokenizer:Preset=huge"), stage.PlanAsync, stage.RunAsync);
        Assert.Equal(ExitCodes.BadInput, code);
    }

    [Fact]
    public void PresetsResolveWithOverrides()
    {
        var section = new TokenizeSection { Preset = "small", Steps = 10, Model = new TokenizerModelSection { Latents = 12, Encoder = new SpaceTimeOverrides { Layers = 2 } } };
        var (model, training) = section.Resolve(32, 48);
        Assert.Equal(10, training.Steps);
        Assert.Equal(10, training.WarmupSteps); // clipped to the step count
        Assert.Equal(12, model.Latents);
        Assert.Equal(2, model.Encoder.Layers);
        Assert.Equal(TokenizerPresets.Small.Model.Decoder.Layers, model.Decoder.Layers);
        Assert.Equal((32, 48), (model.Height, model.Width));
        Assert.Empty(section.Validate());
        Assert.Contains(new TokenizeSection { Preset = "small", SequenceLength = 99 }.Validate(), p => p.Contains("ContextFrames"));
        // LatentReach: a value sets it, a negative one clears it back to the paper's masks.
        var reach = new TokenizeSection { Preset = "small", Model = new TokenizerModelSection { LatentReach = 1 } }.Resolve(null, null).Model;
        Assert.Equal(1, reach.LatentReach);
        Assert.Null(new TokenizerModelSection { LatentReach = -1 }.Apply(reach).LatentReach);
        Assert.Equal(1, new TokenizerModelSection().Apply(reach).LatentReach);
        // The preset's reach falls away where it cannot apply; set explicitly, the stage refuses it by name.
        Assert.Equal(1, TokenizerPresets.Small.Model.LatentReach);
        Assert.Null(new TokenizeSection { Preset = "small", Model = new TokenizerModelSection { LatentGrid = false } }.Resolve(null, null).Model.LatentReach);
        Assert.Null(new TokenizeSection { Preset = "small", Model = new TokenizerModelSection { Latents = 400 } }.Resolve(null, null).Model.LatentReach);
        var forced = new TokenizeSection { Preset = "small", Model = new TokenizerModelSection { LatentGrid = false, LatentReach = 1 } };
        Assert.Contains(forced.Validate(), p => p.Contains("LatentReach needs LatentGrid"));
        // The small preset trains without masking; the paper's masking is one setting away.
        Assert.Equal(0, model.MaskProbMax);
        Assert.Equal(0.9, new TokenizeSection { Preset = "small", Model = new TokenizerModelSection { MaskProbMax = 0.9 } }.Resolve(null, null).Model.MaskProbMax);
        Assert.Contains(new TokenizeSection { Preset = "small", Model = new TokenizerModelSection { MaskProbMax = 1 } }.Validate(), p => p.Contains("MaskProbMax"));
    }

    [Fact]
    public void PngRoundTripsThroughZlib()
    {
        var rgb = new byte[5 * 3 * 3];
        for (var i = 0; i < rgb.Length; i++) rgb[i] = (byte)(i * 7);
        var png = Png.EncodeRgb(rgb, 5, 3);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], png[..8]);
        // Walk the chunks: lengths, CRCs, and the IDAT payload inflates to filter byte + row for each row.
        var offset = 8;
        var idat = new MemoryStream();
        var types = new List<string>();
        while (offset < png.Length)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(offset));
            var type = System.Text.Encoding.ASCII.GetString(png, offset + 4, 4);
            types.Add(type);
            var crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(offset + 8 + length));
            Assert.Equal(Png.Crc32(0xFFFFFFFF, png.AsSpan(offset + 4, 4 + length)) ^ 0xFFFFFFFF, crc);
            if (type == "IDAT") idat.Write(png, offset + 8, length);
            offset += 12 + length;
        }
        Assert.Equal(["IHDR", "IDAT", "IEND"], types);
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        var raw = new MemoryStream();
        z.CopyTo(raw);
        var bytes = raw.ToArray();
        Assert.Equal(3 * (1 + 15), bytes.Length);
        for (var y = 0; y < 3; y++)
        {
            Assert.Equal(0, bytes[y * 16]);
            Assert.Equal(rgb.AsSpan(y * 15, 15).ToArray(), bytes.AsSpan(y * 16 + 1, 15).ToArray());
        }
        Assert.Equal(0xCBF43926u, Png.Crc32(0xFFFFFFFF, "123456789"u8) ^ 0xFFFFFFFF);
    }
}
