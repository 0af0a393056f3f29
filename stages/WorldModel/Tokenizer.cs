using Dreamer.Torch;
using Dreamer.Torch.NN;

namespace Dreamer.WorldModel;

using Torch = Dreamer.Torch.Torch;

/// <summary>Shape of the causal tokenizer: frame and patch size, bottleneck, encoder and decoder.</summary>
public sealed record TokenizerConfig
{
    public int Height { get; init; } = 64;
    public int Width { get; init; } = 64;
    public int Channels { get; init; } = 3;
    public int PatchSize { get; init; } = 8;
    /// <summary>N_b: learned latent tokens per frame, read out as the bottleneck.</summary>
    public int Latents { get; init; } = 32;
    /// <summary>D_b: channels per bottleneck token (after the linear projection and tanh).</summary>
    public int LatentDim { get; init; } = 16;
    public SpaceTimeConfig Encoder { get; init; } = new();
    public SpaceTimeConfig Decoder { get; init; } = new();
    /// <summary>Only latent tokens attend across time (NH/EH); patches never do.</summary>
    public bool LatentsOnlyTime { get; init; } = true;
    /// <summary>Frames a frame may see in time attention, itself included (training windows are at most this long).</summary>
    public int ContextFrames { get; init; } = 8;
    /// <summary>MAE: per image p ~ U(0, MaskProbMax); each patch is replaced by the mask token with probability p.</summary>
    public double MaskProbMax { get; init; } = 0.9;
    /// <summary>
    /// Hidden width of the per-patch pixel readout (Linear, SiLU, Linear); 0 reads pixels with one Linear. A linear
    /// readout from Decoder.Dim can only produce a Decoder.Dim-dimensional subspace of each position's P*P*C values,
    /// which caps reconstruction of high-frequency textures whenever Decoder.Dim &lt; P*P*C.
    /// </summary>
    public int PixelHidden { get; init; }
    /// <summary>
    /// A learned absolute position embedding added to the encoder's patch tokens (after masking, so a masked
    /// patch still says where it is). Axial RoPE alone barely tells nearby patches apart at small head sizes,
    /// and the latents must know where each patch lies to gather it.
    /// </summary>
    public bool PatchPositions { get; init; }
    /// <summary>
    /// Latent tokens get axial RoPE positions spread evenly over the patch grid (rows x cols of latents, the
    /// factorisation of Latents closest to the grid's aspect) instead of the identity rotation. RoPE then offers
    /// each latent a learnable locality bias towards the patches around its position, which speeds up learning
    /// which latent gathers which part of the frame; the masks (who reads whom) are unchanged.
    /// </summary>
    public bool LatentGrid { get; init; }
    /// <summary>
    /// Hard locality (needs <see cref="LatentGrid"/>; null: the paper's masks). A latent reads, in the encoder, only the
    /// patches of its grid cell widened by this many patches on every side, and in the decoder a patch reads only the
    /// latents whose widened cell holds it. Every latent then summarises its own region of the frame, a job that is
    /// learned faster than a global one; latents still read each other, and decoder patches each other.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? LatentReach { get; init; }

    /// <summary>Latent grid shape when <see cref="LatentGrid"/> is set: rows x cols = Latents.</summary>
    public (int Rows, int Cols) LatentGridShape
    {
        get
        {
            var best = (Rows: 1, Cols: Latents);
            var aspect = (double)PatchRows / PatchCols;
            for (var r = 1; r <= Latents; r++)
                // Ties (4x8 vs 8x4) keep the fewer rows; the margin keeps rounding from deciding them.
                if (Latents % r == 0 && Math.Abs(Math.Log((double)r / (Latents / r) / aspect)) < Math.Abs(Math.Log((double)best.Rows / best.Cols / aspect)) - 1e-9)
                    best = (r, Latents / r);
            return best;
        }
    }

    /// <summary>Patch rows [Row0, Row1) and columns [Col0, Col1) of latent j's cell of the patch grid (LatentGrid's shape; cells tile the grid).</summary>
    public (int Row0, int Row1, int Col0, int Col1) LatentCell(int j)
    {
        var (gridRows, gridCols) = LatentGridShape;
        int r = j / gridCols, c = j % gridCols;
        return (r * PatchRows / gridRows, (r + 1) * PatchRows / gridRows, c * PatchCols / gridCols, (c + 1) * PatchCols / gridCols);
    }

    /// <summary>Latent j's axial RoPE position under LatentGrid: the centre of its cell of the patch grid, rounded down to a patch position.</summary>
    public (long Row, long Col) LatentCentre(int j)
    {
        var (gridRows, gridCols) = LatentGridShape;
        return ((long)Math.Floor((j / gridCols + 0.5) * PatchRows / gridRows), (long)Math.Floor((j % gridCols + 0.5) * PatchCols / gridCols));
    }

    /// <summary>Whether a <see cref="LatentReach"/> can apply: a latent grid no finer than the patch grid, so every latent's cell holds a patch.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool LatentReachFits => LatentGrid && LatentGridShape.Rows <= PatchRows && LatentGridShape.Cols <= PatchCols;

    /// <summary>Whether patch p lies in latent j's cell widened by <see cref="LatentReach"/> (true for every pair without it).</summary>
    public bool LatentReaches(int j, int p)
    {
        if (LatentReach is not { } reach) return true;
        var (r0, r1, c0, c1) = LatentCell(j);
        int row = p / PatchCols, col = p % PatchCols;
        return row >= r0 - reach && row < r1 + reach && col >= c0 - reach && col < c1 + reach;
    }

    /// <summary>Frames whose sides are not multiples of PatchSize are zero-padded at the bottom and right (as the paper pads 360 to 384).</summary>
    public int PatchRows => (Height + PatchSize - 1) / PatchSize;
    public int PatchCols => (Width + PatchSize - 1) / PatchSize;
    public int PaddedHeight => PatchRows * PatchSize;
    public int PaddedWidth => PatchCols * PatchSize;
    public int Patches => PatchRows * PatchCols;
    public int PatchValues => PatchSize * PatchSize * Channels;

    public IEnumerable<string> Validate(string prefix = "")
    {
        if (Height < 1 || Width < 1) yield return $"{prefix}Height and Width must be positive (got {Height}x{Width})";
        if (Channels < 1) yield return $"{prefix}Channels must be positive (got {Channels})";
        if (PatchSize < 1 || PatchSize > Math.Min(Height, Width))
            yield return $"{prefix}PatchSize must lie in 1..{Math.Min(Height, Width)}, the smaller frame side (got {PatchSize})";
        if (Latents < 1) yield return $"{prefix}Latents must be positive (got {Latents})";
        if (LatentDim < 1) yield return $"{prefix}LatentDim must be positive (got {LatentDim})";
        if (ContextFrames < 1) yield return $"{prefix}ContextFrames must be positive (got {ContextFrames})";
        if (MaskProbMax is < 0 or >= 1) yield return $"{prefix}MaskProbMax must lie in [0, 1) (got {MaskProbMax})";
        if (PixelHidden < 0) yield return $"{prefix}PixelHidden must not be negative (got {PixelHidden})";
        if (LatentReach < 0) yield return $"{prefix}LatentReach must not be negative (got {LatentReach})";
        if (LatentReach != null && !LatentGrid) yield return $"{prefix}LatentReach needs LatentGrid (the cells are the latent grid's)";
        if (LatentReach != null && LatentGrid && !LatentReachFits)
            yield return $"{prefix}LatentReach needs a latent grid no finer than the patch grid (latents {LatentGridShape.Rows}x{LatentGridShape.Cols}, " +
                $"patches {PatchRows}x{PatchCols}): some latent's cell would hold no patch";
        foreach (var p in Encoder.Validate(prefix + "Encoder:")) yield return p;
        foreach (var p in Decoder.Validate(prefix + "Decoder:")) yield return p;
    }
}

/// <summary>
/// The Dreamer 4 causal tokenizer. Per frame: patch tokens plus learned latent tokens go through the
/// space-time encoder; the latents' outputs pass a linear + tanh bottleneck (Latents x LatentDim).
/// The decoder up-projects the bottleneck, adds learned per-patch queries and reads pixels out of the
/// patch slots through a sigmoid. Space masks (the paper's): encoder latents read everything, patches
/// only patches; decoder patches read patches and latents, latents only latents. Registers read what
/// latents read and are read only where latents are, so they never open another path. Time attention is
/// block-causal, so frames can be encoded and decoded one by one with a <see cref="SpaceTimeCache"/>.
/// </summary>
public sealed class CausalTokenizer : Module
{
    public const int PatchModality = 0;
    public const int LatentModality = 1;
    public const int RegisterModality = 2;

    private readonly Linear _patchEmbed;
    private readonly Tensor _maskToken;
    private readonly Tensor? _patchPositions;
    private readonly Tensor _latentTokens;
    private readonly SpaceTimeTransformer _encoder;
    private readonly Linear _toBottleneck;
    private readonly Linear _fromBottleneck;
    private readonly Tensor _patchQueries;
    private readonly SpaceTimeTransformer _decoder;
    private readonly Linear? _pixelHidden;
    private readonly Linear _toPixels;

    public TokenizerConfig Config { get; }
    public TokenLayout EncoderLayout { get; }
    public TokenLayout DecoderLayout { get; }

    public CausalTokenizer(TokenizerConfig config, ParamOptions options = default)
    {
        var problems = config.Validate().ToList();
        if (problems.Count > 0) throw new ArgumentException(string.Join("; ", problems));
        Config = config;
        long de = config.Encoder.Dim, dd = config.Decoder.Dim;
        var dtype = options.DType ?? DType.Float32;
        _patchEmbed = RegisterModule("patch_embed", new Linear(config.PatchValues, de, options: options));
        using (Torch.NoGrad())
        {
            _maskToken = RegisterParameter("mask_token", Torch.Empty([de], dtype, options.Device).Normal_(0, 0.02, options.Generator));
            _latentTokens = RegisterParameter("latent_tokens", Torch.Empty([config.Latents, de], dtype, options.Device).Normal_(0, 0.02, options.Generator));
            if (config.PatchPositions)
                _patchPositions = RegisterParameter("patch_positions", Torch.Empty([config.Patches, de], dtype, options.Device).Normal_(0, 0.02, options.Generator));
            _patchQueries = RegisterParameter("patch_queries", Torch.Empty([config.Patches, dd], dtype, options.Device).Normal_(0, 0.02, options.Generator));
        }
        _encoder = RegisterModule("encoder", new SpaceTimeTransformer(config.Encoder, options));
        _toBottleneck = RegisterModule("to_bottleneck", new Linear(de, config.LatentDim, options: options));
        _fromBottleneck = RegisterModule("from_bottleneck", new Linear(config.LatentDim, dd, options: options));
        _decoder = RegisterModule("decoder", new SpaceTimeTransformer(config.Decoder, options));
        if (config.PixelHidden > 0) _pixelHidden = RegisterModule("pixel_hidden", new Linear(dd, config.PixelHidden, options: options));
        _toPixels = RegisterModule("to_pixels", new Linear(config.PixelHidden > 0 ? config.PixelHidden : dd, config.PatchValues, options: options));

        // Rows: query modality; columns: key modality (patch, latent, register).
        var encoderReads = new[,] { { true, false, false }, { true, true, true }, { true, true, true } };
        var decoderReads = new[,] { { true, true, true }, { false, true, true }, { false, true, true } };
        EncoderLayout = Layout(config, encoderReads, encoder: true);
        DecoderLayout = Layout(config, decoderReads, encoder: false);
    }

    /// <summary>
    /// Slots: the patches in row-major order, then the latents (axial RoPE identity for latents, or their grid positions).
    /// With LatentReach, latent-patch reads are narrowed to each latent's widened cell (encoder: latents reading patches; decoder: patches reading latents).
    /// </summary>
    private static TokenLayout Layout(TokenizerConfig c, bool[,] reads, bool encoder)
    {
        var n = c.Patches + c.Latents;
        var modalities = new int[n];
        var rows = new long[n];
        var cols = new long[n];
        for (var i = 0; i < n; i++)
        {
            if (i < c.Patches) (rows[i], cols[i]) = (i / c.PatchCols, i % c.PatchCols);
            else
            {
                modalities[i] = LatentModality;
                if (c.LatentGrid) (rows[i], cols[i]) = c.LatentCentre(i - c.Patches);
            }
        }
        bool[,]? slotReads = null;
        if (c.LatentReach != null)
        {
            slotReads = new bool[n, n];
            for (var q = 0; q < n; q++)
                for (var k = 0; k < n; k++)
                {
                    bool qLatent = q >= c.Patches, kLatent = k >= c.Patches;
                    slotReads[q, k] = (encoder, qLatent, kLatent) switch
                    {
                        (true, true, false) => c.LatentReaches(q - c.Patches, k),
                        (false, false, true) => c.LatentReaches(k - c.Patches, q),
                        _ => true,
                    };
                }
        }
        return c.LatentsOnlyTime
            ? new TokenLayout(modalities, reads, RegisterModality, rows, cols, c.Patches, c.Latents, slotReads)
            : new TokenLayout(modalities, reads, RegisterModality, rows, cols, slotReads: slotReads);
    }

    public SpaceTimeTransformer Encoder => _encoder;
    public SpaceTimeTransformer Decoder => _decoder;

    /// <summary>Caches for encoding and decoding frame by frame with the trained context window.</summary>
    public SpaceTimeCache NewEncoderCache() => _encoder.NewCache(Config.ContextFrames);

    public SpaceTimeCache NewDecoderCache() => _decoder.NewCache(Config.ContextFrames);

    /// <summary>uint8 frames [B, T, H, W, C] to float [0, 1]; float input passes through.</summary>
    public static Tensor ToUnit(Tensor frames)
    {
        if (frames.DType != DType.UInt8) return frames.Alias();
        using var f = frames.To(DType.Float32);
        return f * (1.0 / 255);
    }

    /// <summary>[B, T, H, W, C] to [B, T, patches, P*P*C] (patches row-major, values (py, px, c)).</summary>
    public Tensor Patchify(Tensor frames)
    {
        using var scope = Torch.NewDisposeScope();
        var c = Config;
        var s = frames.Shape;
        long b = s[0], t = s[1], p = c.PatchSize;
        if (c.PaddedHeight != c.Height || c.PaddedWidth != c.Width) frames = frames.Pad([0, 0, 0, c.PaddedWidth - c.Width, 0, c.PaddedHeight - c.Height]);
        var x = frames.Reshape(b, t, c.PatchRows, p, c.PatchCols, p, c.Channels).Permute(0, 1, 2, 4, 3, 5, 6);
        return x.Reshape(b, t, c.Patches, c.PatchValues).MoveToOuterScope();
    }

    /// <summary>Inverse of <see cref="Patchify"/> (padding cropped off).</summary>
    public Tensor Unpatchify(Tensor patches)
    {
        using var scope = Torch.NewDisposeScope();
        var c = Config;
        var s = patches.Shape;
        long b = s[0], t = s[1], p = c.PatchSize;
        var x = patches.View(b, t, c.PatchRows, c.PatchCols, p, p, c.Channels).Permute(0, 1, 2, 4, 3, 5, 6)
            .Reshape(b, t, c.PaddedHeight, c.PaddedWidth, c.Channels);
        if (c.PaddedHeight != c.Height || c.PaddedWidth != c.Width) x = x.Narrow(2, 0, c.Height).Narrow(3, 0, c.Width);
        return x.Contiguous().MoveToOuterScope();
    }

    /// <summary>
    /// Frames [B, T, H, W, C] (uint8 or float in [0, 1]) to the bottleneck [B, T, Latents, LatentDim] in (-1, 1).
    /// patchMask [B, T, patches] (bool, true = replaced by the mask token) is for masked autoencoding.
    /// With a cache, the frames continue the cached ones.
    /// </summary>
    public Tensor Encode(Tensor frames, Tensor? patchMask = null, SpaceTimeCache? cache = null)
    {
        using var scope = Torch.NewDisposeScope();
        var c = Config;
        var x = ToUnit(frames);
        var s = x.Shape;
        if (s.Length != 5 || s[2] != c.Height || s[3] != c.Width || s[4] != c.Channels)
            throw new ArgumentException($"expected frames [B, T, {c.Height}, {c.Width}, {c.Channels}], got [{string.Join(", ", s)}]");
        long b = s[0], t = s[1], de = c.Encoder.Dim;
        var tokens = _patchEmbed.Forward(Patchify(x));
        if (patchMask != null) tokens = Torch.Where(patchMask.Unsqueeze(-1), _maskToken.View(1, 1, 1, de), tokens);
        if (_patchPositions != null) tokens = tokens + _patchPositions.View(1, 1, c.Patches, de);
        var latents = _latentTokens.View(1, 1, c.Latents, de).Expand(b, t, c.Latents, de);
        var h = _encoder.Forward(Torch.Cat([tokens, latents], 2), EncoderLayout, cache, cache == null ? c.ContextFrames : null);
        return _toBottleneck.Forward(h.Narrow(2, c.Patches, c.Latents)).Tanh().MoveToOuterScope();
    }

    /// <summary>Bottleneck [B, T, Latents, LatentDim] to frames [B, T, H, W, C] in [0, 1].</summary>
    public Tensor Decode(Tensor z, SpaceTimeCache? cache = null)
    {
        using var scope = Torch.NewDisposeScope();
        var c = Config;
        var s = z.Shape;
        if (s.Length != 4 || s[2] != c.Latents || s[3] != c.LatentDim)
            throw new ArgumentException($"expected latents [B, T, {c.Latents}, {c.LatentDim}], got [{string.Join(", ", s)}]");
        long b = s[0], t = s[1], dd = c.Decoder.Dim;
        var latents = _fromBottleneck.Forward(z);
        var queries = _patchQueries.View(1, 1, c.Patches, dd).Expand(b, t, c.Patches, dd);
        var h = _decoder.Forward(Torch.Cat([queries, latents], 2), DecoderLayout, cache, cache == null ? c.ContextFrames : null);
        var patches = h.Narrow(2, 0, c.Patches);
        if (_pixelHidden != null) patches = _pixelHidden.Forward(patches).Silu();
        var pixels = _toPixels.Forward(patches).Sigmoid();
        return Unpatchify(pixels).MoveToOuterScope();
    }

    /// <summary>
    /// Encodes whole episodes in time order, <paramref name="chunk"/> frames per forward, through a
    /// ContextFrames-window cache: frames [B, L, H, W, C] to latents [B, L, Latents, LatentDim].
    /// Every frame sees itself and the ContextFrames-1 frames before it, whatever the chunk size.
    /// </summary>
    public Tensor EncodeSequence(Tensor frames, int chunk = 16)
    {
        using var scope = Torch.NewDisposeScope();
        using var noGrad = Torch.NoGrad();
        using var cache = NewEncoderCache();
        var length = frames.Size(1);
        var parts = new List<Tensor>();
        for (long t = 0; t < length; t += chunk)
            parts.Add(Encode(frames.Narrow(1, t, Math.Min(chunk, length - t)), cache: cache));
        return Torch.Cat(parts.ToArray(), 1).MoveToOuterScope();
    }

    /// <summary>Decodes latents [B, L, Latents, LatentDim] in time order like <see cref="EncodeSequence"/>.</summary>
    public Tensor DecodeSequence(Tensor latents, int chunk = 16)
    {
        using var scope = Torch.NewDisposeScope();
        using var noGrad = Torch.NoGrad();
        using var cache = NewDecoderCache();
        var length = latents.Size(1);
        var parts = new List<Tensor>();
        for (long t = 0; t < length; t += chunk)
            parts.Add(Decode(latents.Narrow(1, t, Math.Min(chunk, length - t)), cache));
        return Torch.Cat(parts.ToArray(), 1).MoveToOuterScope();
    }

    /// <summary>
    /// MAE patch mask [B, T, patches]: per image p ~ U(0, MaskProbMax), each patch masked with probability p
    /// (so p near 0, the inference case, is seen too).
    /// </summary>
    public Tensor SampleMask(long batch, long frames, Generator? generator, Device? device = null)
    {
        using var scope = Torch.NewDisposeScope();
        var p = Torch.Rand([batch, frames, 1], generator, device: device) * Config.MaskProbMax;
        var u = Torch.Rand([batch, frames, Config.Patches], generator, device: device);
        return (u < p).MoveToOuterScope();
    }

    /// <summary>
    /// Forward FLOPs (matrix multiplies) of encode + decode for [batch, frames]: the model FLOP
    /// utilisation basis (training = 3x).
    /// </summary>
    public static double ForwardFlops(TokenizerConfig c, long batch, long frames) => EncodeFlops(c, batch, frames) + DecodeFlops(c, batch, frames);

    /// <summary>Encoder FLOPs: patch embedding, transformer, bottleneck projection.</summary>
    public static double EncodeFlops(TokenizerConfig c, long batch, long frames)
    {
        double frameCount = batch * frames;
        long? timeTokens = c.LatentsOnlyTime ? c.Latents : null;
        return SpaceTimeTransformer.ForwardFlops(c.Encoder, batch, frames, c.Patches + c.Latents, timeTokens)
               + 2 * frameCount * c.Patches * c.PatchValues * c.Encoder.Dim
               + 2 * frameCount * c.Latents * c.Encoder.Dim * c.LatentDim;
    }

    /// <summary>Decoder FLOPs: up-projection, transformer, pixel read-out.</summary>
    public static double DecodeFlops(TokenizerConfig c, long batch, long frames)
    {
        double frameCount = batch * frames;
        long? timeTokens = c.LatentsOnlyTime ? c.Latents : null;
        return SpaceTimeTransformer.ForwardFlops(c.Decoder, batch, frames, c.Patches + c.Latents, timeTokens)
               + 2 * frameCount * c.Latents * c.LatentDim * c.Decoder.Dim
               + 2 * frameCount * c.Patches * (c.PixelHidden > 0 ? c.Decoder.Dim * c.PixelHidden + c.PixelHidden * c.PatchValues : c.Decoder.Dim * c.PatchValues);
    }
}
