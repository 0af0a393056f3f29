using Dreamer.Torch;
using Dreamer.Torch.NN;

namespace Dreamer.WorldModel.Tests;

using Torch = Dreamer.Torch.Torch;

public sealed class TokenizerTests
{
    private static TokenizerConfig Tiny => TokenizerPresets.Tiny.Model;

    private static CausalTokenizer NewTokenizer(TokenizerConfig? config = null, ulong seed = 1)
    {
        using var g = new Generator(seed);
        return new CausalTokenizer(config ?? Tiny, new ParamOptions(Generator: g));
    }

    private static float MaxAbsDiff(Tensor a, Tensor b)
    {
        using var d = (a - b).Abs().Max();
        return d.ToSingle();
    }

    [Fact]
    public void PatchifyRoundTrips()
    {
        using var scope = Torch.NewDisposeScope();
        using var tok = NewTokenizer();
        var x = Torch.Rand([2, 3, 64, 64, 3]);
        var p = tok.Patchify(x);
        Assert.Equal([2L, 3, 16, 16 * 16 * 3], p.Shape);
        Assert.Equal(0f, MaxAbsDiff(tok.Unpatchify(p), x));
        // Patch 1 is the top row's second 16x16 block.
        Assert.Equal(0f, MaxAbsDiff(p.Select(1, 0).Select(1, 1).View(2, 16, 16, 3), x.Select(1, 0).Narrow(1, 0, 16).Narrow(2, 16, 16)));
    }

    /// <summary>A patch size that does not divide the frame pads it with zeros at the bottom and right.</summary>
    [Fact]
    public void PatchifyPadsFramesThatPatchesDoNotDivide()
    {
        using var scope = Torch.NewDisposeScope();
        var config = Tiny with { PatchSize = 7 };
        Assert.Equal((10, 10, 100), (config.PatchRows, config.PatchCols, config.Patches));
        using var tok = NewTokenizer(config);
        var x = Torch.Rand([2, 3, 64, 64, 3]);
        var p = tok.Patchify(x);
        Assert.Equal([2L, 3, 100, 7 * 7 * 3], p.Shape);
        Assert.Equal(0f, MaxAbsDiff(tok.Unpatchify(p), x));
        Assert.Equal(0f, MaxAbsDiff(p.Select(1, 0).Select(1, 1).View(2, 7, 7, 3), x.Select(1, 0).Narrow(1, 0, 7).Narrow(2, 7, 7)));
        // The last patch of the first row holds column 63 and six columns of zeros.
        var edge = p.Select(1, 0).Select(1, 9).View(2, 7, 7, 3);
        Assert.Equal(0f, MaxAbsDiff(edge.Narrow(2, 0, 1), x.Select(1, 0).Narrow(1, 0, 7).Narrow(2, 63, 1)));
        Assert.Equal(0f, edge.Narrow(2, 1, 6).Abs().Max().ToSingle());
        var recon = tok.Decode(tok.Encode(x));
        Assert.Equal(x.Shape, recon.Shape);
        Assert.Contains("PatchSize must lie in 1..64", string.Join(";", (Tiny with { PatchSize = 65 }).Validate()));
    }

    [Fact]
    public void EncoderMaskLatentsReadAllPatchesReadOnlyPatches()
    {
        using var scope = Torch.NewDisposeScope();
        using var tok = NewTokenizer();
        var c = tok.Config;
        long n = c.Patches + c.Latents, d = c.Encoder.Dim;
        using var g = new Generator(3);
        var x = Torch.Randn([1, 2, n, d], g);
        var y = tok.Encoder.Forward(x, tok.EncoderLayout);
        var otherLatents = Torch.Cat([x.Narrow(2, 0, c.Patches), Torch.Randn([1, 2, c.Latents, d], g)], 2);
        var y2 = tok.Encoder.Forward(otherLatents, tok.EncoderLayout);
        Assert.True(MaxAbsDiff(y.Narrow(2, 0, c.Patches), y2.Narrow(2, 0, c.Patches)) < 1e-6f, "encoder patches must not read latents");
        var otherPatches = Torch.Cat([Torch.Randn([1, 2, c.Patches, d], g), x.Narrow(2, c.Patches, c.Latents)], 2);
        var y3 = tok.Encoder.Forward(otherPatches, tok.EncoderLayout);
        Assert.True(MaxAbsDiff(y.Narrow(2, c.Patches, c.Latents), y3.Narrow(2, c.Patches, c.Latents)) > 1e-3f, "encoder latents must read patches");
    }

    [Fact]
    public void DecoderMaskPatchesReadLatentsLatentsReadOnlyLatents()
    {
        using var scope = Torch.NewDisposeScope();
        using var tok = NewTokenizer();
        var c = tok.Config;
        long n = c.Patches + c.Latents, d = c.Decoder.Dim;
        using var g = new Generator(4);
        var x = Torch.Randn([1, 2, n, d], g);
        var y = tok.Decoder.Forward(x, tok.DecoderLayout);
        var otherPatches = Torch.Cat([Torch.Randn([1, 2, c.Patches, d], g), x.Narrow(2, c.Patches, c.Latents)], 2);
        var y2 = tok.Decoder.Forward(otherPatches, tok.DecoderLayout);
        Assert.True(MaxAbsDiff(y.Narrow(2, c.Patches, c.Latents), y2.Narrow(2, c.Patches, c.Latents)) < 1e-6f, "decoder latents must not read patches");
        var otherLatents = Torch.Cat([x.Narrow(2, 0, c.Patches), Torch.Randn([1, 2, c.Latents, d], g)], 2);
        var y3 = tok.Decoder.Forward(otherLatents, tok.DecoderLayout);
        Assert.True(MaxAbsDiff(y.Narrow(2, 0, c.Patches), y3.Narrow(2, 0, c.Patches)) > 1e-3f, "decoder patches must read latents");
    }

    [Fact]
    public void MaskRulesAsDeclared()
    {
        using var tok = NewTokenizer();
        var (p, l, r) = (CausalTokenizer.PatchModality, CausalTokenizer.LatentModality, CausalTokenizer.RegisterModality);
        Assert.True(tok.EncoderLayout.Reads(l, p) && tok.EncoderLayout.Reads(l, l) && tok.EncoderLayout.Reads(p, p));
        Assert.False(tok.EncoderLayout.Reads(p, l) || tok.EncoderLayout.Reads(p, r));
        Assert.True(tok.DecoderLayout.Reads(p, p) && tok.DecoderLayout.Reads(p, l) && tok.DecoderLayout.Reads(l, l));
        Assert.False(tok.DecoderLayout.Reads(l, p) || tok.DecoderLayout.Reads(r, p));
    }

    [Fact]
    public void EncodingFrameTDoesNotChangeWhenLaterFramesChange()
    {
        using var scope = Torch.NewDisposeScope();
        using var tok = NewTokenizer();
        using var frames = GameFrames.Make(1, 4, 5);
        var x = frames.Gather([0], 4);
        var z = tok.Encode(x);
        var changed = Torch.Cat([x.Narrow(1, 0, 2), Torch.Randint(0, 256, [1, 2, 64, 64, 3], dtype: DType.UInt8)], 1);
        var z2 = tok.Encode(changed);
        Assert.True(MaxAbsDiff(z.Narrow(1, 0, 2), z2.Narrow(1, 0, 2)) < 1e-6f);
        Assert.True(MaxAbsDiff(z.Narrow(1, 2, 2), z2.Narrow(1, 2, 2)) > 1e-4f);
        // Decoding is causal too.
        var r = tok.Decode(z);
        var r2 = tok.Decode(Torch.Cat([z.Narrow(1, 0, 2), z2.Narrow(1, 2, 2) * 0.5], 1));
        Assert.True(MaxAbsDiff(r.Narrow(1, 0, 2), r2.Narrow(1, 0, 2)) < 1e-6f);
    }

    [Fact]
    public void SequenceEncodingWithCacheMatchesWindowedFullForward()
    {
        using var scope = Torch.NewDisposeScope();
        using var tok = NewTokenizer();
        using var frames = GameFrames.Make(1, 10, 6);
        var x = frames.Gather([0], 10);
        using var noGrad = Torch.NoGrad();
        var full = tok.Encode(x);
        var stepped = tok.EncodeSequence(x, chunk: 1);
        var chunked = tok.EncodeSequence(x, chunk: 3);
        Assert.True(MaxAbsDiff(full, stepped) < 1e-5f, $"frame by frame differs by {MaxAbsDiff(full, stepped)}");
        Assert.True(MaxAbsDiff(full, chunked) < 1e-5f);
        var decoded = tok.Decode(full);
        Assert.True(MaxAbsDiff(decoded, tok.DecodeSequence(full, chunk: 1)) < 1e-5f);
    }

    [Fact]
    public void BottleneckIsTanhBoundedAndPixelsAreInUnitRange()
    {
        using var scope = Torch.NewDisposeScope();
        using var tok = NewTokenizer();
        var x = Torch.Rand([1, 2, 64, 64, 3]);
        var z = tok.Encode(x, tok.SampleMask(1, 2, null));
        Assert.Equal([1L, 2, Tiny.Latents, Tiny.LatentDim], z.Shape);
        Assert.True(z.Abs().Max().ToDouble() < 1);
        var r = tok.Decode(z);
        Assert.Equal(x.Shape, r.Shape);
        Assert.True(r.Min().ToDouble() >= 0 && r.Max().ToDouble() <= 1);
    }

    [Fact]
    public void MaskProbabilityIsDrawnPerImage()
    {
        using var scope = Torch.NewDisposeScope();
        using var tok = NewTokenizer(Tiny with { PatchSize = 4 });
        using var g = new Generator(8);
        var mask = tok.SampleMask(64, 1, g).To(DType.Float32).Mean(new long[] { 1, 2 });
        var fractions = mask.ToArray<float>();
        Assert.True(fractions.Min() < 0.1 && fractions.Max() > 0.7, $"per-image fractions {fractions.Min()}..{fractions.Max()}");
        Assert.True(fractions.Max() <= 1.0 && fractions.Average() is > 0.3f and < 0.6f);
    }

    [Fact]
    public void FlopCountGrowsWithFrames()
    {
        var one = CausalTokenizer.ForwardFlops(TokenizerPresets.Small.Model, 1, 1);
        Assert.True(one > 1e8);
        var eight = CausalTokenizer.ForwardFlops(TokenizerPresets.Small.Model, 2, 4);
        Assert.InRange(eight / one, 8.0, 8.2); // linear in frames but for the (small) time-attention scores
    }

    /// <summary>
    /// LatentGrid spreads the latents over the patch grid (each at the centre of its cell, in both the encoder's and
    /// the decoder's layout); without it they keep the identity rotation, and the encoding depends on the choice.
    /// </summary>
    [Theory]
    [InlineData(7, 32, 4, 8)]   // 10x10 patches: 4x8 and 8x4 are equally square, the first is kept
    [InlineData(7, 100, 10, 10)]
    [InlineData(7, 25, 5, 5)]
    [InlineData(16, 8, 2, 4)]   // 4x4 patches
    [InlineData(7, 7, 1, 7)]    // a prime: one row
    public void LatentGridSpreadsLatentsOverThePatchGrid(int patch, int latents, int rows, int cols)
    {
        var config = Tiny with { PatchSize = patch, Latents = latents, LatentGrid = true };
        Assert.Equal((rows, cols), config.LatentGridShape);
        using var tok = new CausalTokenizer(config);
        foreach (var layout in new[] { tok.EncoderLayout, tok.DecoderLayout })
        {
            var cells = Enumerable.Range(config.Patches, latents).Select(i => (layout.Rows[i], layout.Cols[i])).ToList();
            Assert.Equal(latents, cells.Distinct().Count());
            Assert.All(cells, c => Assert.True(c.Item1 < config.PatchRows && c.Item2 < config.PatchCols));
            if (config.PatchRows == 10 && rows == 10) Assert.Equal(Enumerable.Range(0, 100).Select(i => ((long)(i / 10), (long)(i % 10))), cells);
        }
        using var plain = new CausalTokenizer(config with { LatentGrid = false });
        Assert.All(Enumerable.Range(config.Patches, latents), i => Assert.Equal((0L, 0L), (plain.EncoderLayout.Rows[i], plain.EncoderLayout.Cols[i])));
    }

    [Fact]
    public void LatentGridChangesTheEncoding()
    {
        using var scope = Torch.NewDisposeScope();
        using var plain = NewTokenizer();
        using var grid = NewTokenizer(Tiny with { LatentGrid = true });
        var x = Torch.Rand([1, 2, 64, 64, 3]);
        using var noGrad = Torch.NoGrad();
        Assert.True(MaxAbsDiff(plain.Encode(x), grid.Encode(x)) > 1e-4, "same weights, latents rotated differently");
    }

    /// <summary>
    /// LatentReach narrows latent-patch reads to each latent's cell of the grid (widened by the reach): the cells tile
    /// the patch grid, encoder latents read only their cell's patches, decoder patches only their cell's latents; every
    /// other read is the paper's.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void LatentReachLimitsLatentPatchReadsToTheLatentsCell(int reach)
    {
        var config = Tiny with { PatchSize = 7, Latents = 32, LatentGrid = true, LatentReach = reach }; // 10x10 patches, 4x8 latents
        Assert.Empty(config.Validate());
        // Every patch lies in exactly one cell.
        var owners = Enumerable.Range(0, config.Patches)
            .Select(p => Enumerable.Range(0, config.Latents).Where(j => (config with { LatentReach = 0 }).LatentReaches(j, p)).ToList()).ToList();
        Assert.All(owners, o => Assert.Single(o));
        Assert.Equal((0, 2, 0, 1), config.LatentCell(0));
        Assert.Equal((7, 10, 8, 10), config.LatentCell(31));
        using var tok = new CausalTokenizer(config);
        var (enc, dec) = (tok.EncoderLayout, tok.DecoderLayout);
        int reads0 = Enumerable.Range(0, config.Patches).Count(p => enc.SlotReads(config.Patches, p));
        Assert.Equal(reach == 0 ? 2 : 6, reads0); // latent 0's cell: rows 0-1, column 0; widened by 1: rows 0-2, columns 0-1
        for (var j = 0; j < config.Latents; j++)
            for (var p = 0; p < config.Patches; p++)
            {
                Assert.Equal(config.LatentReaches(j, p), enc.SlotReads(config.Patches + j, p));
                Assert.Equal(config.LatentReaches(j, p), dec.SlotReads(p, config.Patches + j));
                Assert.False(enc.SlotReads(p, config.Patches + j)); // the paper's: encoder patches never read latents
            }
        Assert.True(enc.SlotReads(config.Patches, config.Patches + 31) && dec.SlotReads(0, 99) && dec.SlotReads(config.Patches, config.Patches + 5));
        Assert.True(Enumerable.Range(0, config.Patches).All(p => Enumerable.Range(0, config.Latents).Any(j => dec.SlotReads(p, config.Patches + j))));
    }

    /// <summary>A one-layer encoder with LatentReach 0: a latent's code moves with the patches of its cell and with no other.</summary>
    [Fact]
    public void LatentReachMakesALatentBlindOutsideItsCell()
    {
        using var scope = Torch.NewDisposeScope();
        var oneLayer = Tiny.Encoder with { Layers = 1, Registers = 0 };
        var config = Tiny with { LatentGrid = true, LatentReach = 0, Encoder = oneLayer }; // 4x4 patches of 16 px, 2x4 latents
        Assert.Equal((0, 2, 0, 1), config.LatentCell(0)); // patches 0 and 4
        using var tok = NewTokenizer(config);
        using var global = NewTokenizer(config with { LatentReach = null });
        var x = Torch.Rand([1, 1, 64, 64, 3]);
        var inside = x.Clone();
        inside.Narrow(2, 20, 8).Narrow(3, 4, 8).Fill_(0.0); // patch 4 (row 1, column 0)
        var outside = x.Clone();
        outside.Narrow(2, 50, 8).Narrow(3, 50, 8).Fill_(0.0); // patch 15 (row 3, column 3)
        using var noGrad = Torch.NoGrad();
        Tensor Latent0(CausalTokenizer t, Tensor frames) => t.Encode(frames).Narrow(2, 0, 1);
        Assert.True(MaxAbsDiff(Latent0(tok, x), Latent0(tok, inside)) > 1e-5, "latent 0 reads patch 4");
        Assert.True(MaxAbsDiff(Latent0(tok, x), Latent0(tok, outside)) < 1e-6, "latent 0 must not read patch 15");
        Assert.True(MaxAbsDiff(Latent0(global, x), Latent0(global, outside)) > 1e-5, "without the reach every latent reads every patch");
    }

    [Fact]
    public void LatentReachIsValidated()
    {
        Assert.Contains("LatentReach needs LatentGrid", string.Join(";", (Tiny with { LatentReach = 1 }).Validate()));
        Assert.Contains("LatentReach must not be negative", string.Join(";", (Tiny with { LatentGrid = true, LatentReach = -1 }).Validate()));
        // 16 latents on 4x4 patches form a 4x4 grid (fine); 32 would need more columns than there are patches.
        Assert.Empty((Tiny with { Latents = 16, LatentGrid = true, LatentReach = 0 }).Validate());
        Assert.Contains("no finer than the patch grid", string.Join(";", (Tiny with { Latents = 32, LatentGrid = true, LatentReach = 0 }).Validate()));
    }

    /// <summary>Patch positions enter the encoding (also of masked patches); without them there is no such parameter.</summary>
    [Fact]
    public void PatchPositionsAreAddedToEveryPatchToken()
    {
        using var scope = Torch.NewDisposeScope();
        using var plain = NewTokenizer();
        Assert.DoesNotContain(plain.NamedParameters(), p => p.Name == "patch_positions");
        using var tok = NewTokenizer(Tiny with { PatchPositions = true });
        var positions = tok.NamedParameters().Single(p => p.Name == "patch_positions").Parameter;
        Assert.Equal([(long)Tiny.Patches, Tiny.Encoder.Dim], positions.Shape);
        var x = Torch.Rand([1, 2, 64, 64, 3]);
        var allMasked = Torch.Ones([1, 2, Tiny.Patches], DType.Bool);
        using var noGrad = Torch.NoGrad();
        var before = tok.Encode(x, allMasked);
        var z = tok.Encode(x);
        positions.Select(0, 3).Add_(1.0);
        Assert.True(MaxAbsDiff(tok.Encode(x, allMasked), before) > 1e-4, "a fully masked frame must still see the positions");
        Assert.True(MaxAbsDiff(tok.Encode(x), z) > 1e-4);
    }

    /// <summary>
    /// A linear readout from Decoder.Dim confines each position's pixel logits to a Decoder.Dim(+1)-dimensional
    /// affine subspace; the hidden readout (PixelHidden) is not confined. Measured as the numerical rank of
    /// centred logits of one patch position over many random bottlenecks.
    /// </summary>
    [Theory]
    [InlineData(0, true)]
    [InlineData(96, false)]
    public void PixelReadoutRankIsCappedOnlyWhenLinear(int pixelHidden, bool capped)
    {
        using var scope = Torch.NewDisposeScope();
        var config = Tiny with { PatchSize = 8, PixelHidden = pixelHidden, Decoder = Tiny.Decoder with { Dim = 8, Hidden = 16 } };
        using var tok = NewTokenizer(config);
        using var g = new Generator(3);
        var z = Torch.Rand([1, 256, config.Latents, config.LatentDim], generator: g) * 2 - 1;
        using var noGrad = Torch.NoGrad();
        var pixels = tok.Decode(z.Reshape(256, 1, config.Latents, config.LatentDim)).Clamp(1e-6, 1 - 1e-6);
        var logits = (pixels / (1 - pixels)).Log();
        var patch = tok.Patchify(logits).Select(2, 0).Reshape(256, config.PatchValues);
        var centred = (patch - patch.Mean(new long[] { 0 }, keepDim: true)).To(DType.Float64).Contiguous().ToArray<double>();
        var rank = NumericalRank(centred, 256, config.PatchValues, 1e-4);
        if (capped) Assert.True(rank <= 8, $"linear readout rank {rank} > decoder dim 8");
        else Assert.True(rank > 16, $"hidden readout rank {rank}");
        Assert.Equal(pixelHidden > 0, tok.NamedParameters().Any(p => p.Name.StartsWith("pixel_hidden.")));
        Assert.True(CausalTokenizer.DecodeFlops(config with { PixelHidden = 0 }, 1, 1) < CausalTokenizer.DecodeFlops(config, 1, 1) == capped is false);
    }

    /// <summary>Rank by Gaussian elimination with full pivoting: pivots below tolerance x the largest entry count as zero.</summary>
    private static int NumericalRank(double[] a, int rows, int cols, double tolerance)
    {
        var limit = a.Max(Math.Abs) * tolerance;
        var rank = 0;
        var usedRows = new bool[rows];
        for (var c = 0; c < cols; c++)
        {
            var pivot = -1;
            for (var r = 0; r < rows; r++)
                if (!usedRows[r] && Math.Abs(a[r * cols + c]) > limit && (pivot < 0 || Math.Abs(a[r * cols + c]) > Math.Abs(a[pivot * cols + c]))) pivot = r;
            if (pivot < 0) continue;
            usedRows[pivot] = true;
            rank++;
            for (var r = 0; r < rows; r++)
            {
                if (r == pivot) continue;
                var f = a[r * cols + c] / a[pivot * cols + c];
                for (var k = c; k < cols; k++) a[r * cols + k] -= f * a[pivot * cols + k];
            }
        }
        return rank;
    }
}
