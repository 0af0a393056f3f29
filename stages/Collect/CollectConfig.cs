using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dreamer.Game;
using Dreamer.Hosting;

namespace Dreamer.Stages.Collect;

/// <summary>Configuration root: everything lives under the "Collect" section.</summary>
public sealed class CollectConfig : IValidatedConfig
{
    public CollectSection Collect { get; set; } = new();

    public IEnumerable<string> Validate() => Collect.Validate();
}

/// <summary>
/// `Collect:*` keys. Preset picks the defaults (<see cref="CollectSettings.Presets"/>); every other key
/// left unset takes the preset's value, so `--set Collect:Preset=tiny --set Collect:Episodes=8` means
/// "tiny, but 8 episodes". Players replaces the preset's mix as a whole (share per player name).
/// </summary>
public sealed class CollectSection
{
    public string Preset { get; set; } = "demo";
    public string? Dataset { get; set; }
    public int? Episodes { get; set; }
    public Dictionary<string, double>? Players { get; set; }
    public double? ContractorEpsilon { get; set; }
    public double? UnlabeledShare { get; set; }
    public int? MaxSteps { get; set; }
    public int? Width { get; set; }
    public int? Height { get; set; }
    public int? WorldSize { get; set; }
    public double? Fps { get; set; }
    public string? PixelFormat { get; set; }
    public int? Crf { get; set; }
    public string? EncoderPreset { get; set; }
    public int? Parallelism { get; set; }
    public string? Ffmpeg { get; set; }

    public CollectSettings Resolve()
    {
        var p = CollectSettings.Presets.TryGetValue(Preset, out var preset) ? preset
            : throw new StageInputException($"Collect:Preset = '{Preset}': expected one of {string.Join(", ", CollectSettings.Presets.Keys)}");
        return new CollectSettings
        {
            Dataset = Dataset ?? p.Dataset,
            Episodes = Episodes ?? p.Episodes,
            Players = Players ?? p.Players,
            ContractorEpsilon = ContractorEpsilon ?? p.ContractorEpsilon,
            UnlabeledShare = UnlabeledShare ?? p.UnlabeledShare,
            MaxSteps = MaxSteps ?? p.MaxSteps,
            Width = Width ?? p.Width,
            Height = Height ?? p.Height,
            WorldSize = WorldSize ?? p.WorldSize,
            Fps = Fps ?? p.Fps,
            PixelFormat = PixelFormat ?? p.PixelFormat,
            Crf = Crf ?? p.Crf,
            EncoderPreset = EncoderPreset ?? p.EncoderPreset,
            Parallelism = Parallelism ?? p.Parallelism,
            Ffmpeg = Ffmpeg ?? p.Ffmpeg,
        };
    }

    public IEnumerable<string> Validate()
    {
        if (!CollectSettings.Presets.ContainsKey(Preset))
        {
            yield return $"Collect:Preset = '{Preset}': expected one of {string.Join(", ", CollectSettings.Presets.Keys)}";
            yield break;
        }
        foreach (var problem in Resolve().Validate()) yield return problem;
    }
}

/// <summary>The effective collection settings (a preset with the configured keys on top).</summary>
public sealed record CollectSettings
{
    public required string Dataset { get; init; }
    public required int Episodes { get; init; }
    /// <summary>Share of episodes per player name (random, contractor, skilled); normalised, need not sum to 1.</summary>
    public required IReadOnlyDictionary<string, double> Players { get; init; }
    public required double ContractorEpsilon { get; init; }
    public required double UnlabeledShare { get; init; }
    public required int MaxSteps { get; init; }
    public required int Width { get; init; }
    public required int Height { get; init; }
    public required int WorldSize { get; init; }
    public required double Fps { get; init; }
    /// <summary>H.264 pixel format: yuv444p keeps full colour resolution (small frames lose little else).</summary>
    public required string PixelFormat { get; init; }
    public required int Crf { get; init; }
    public required string EncoderPreset { get; init; }
    /// <summary>Episodes recorded at once; 0 = one per core.</summary>
    public required int Parallelism { get; init; }
    public required string Ffmpeg { get; init; }

    public static readonly IReadOnlyList<string> PixelFormats = ["yuv444p", "yuv422p", "yuv420p"];
    public static readonly IReadOnlyList<string> EncoderPresets =
        ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"];

    /// <summary>demo: enough play for the world model demo; tiny: a few short episodes for tests.</summary>
    public static readonly IReadOnlyDictionary<string, CollectSettings> Presets = new Dictionary<string, CollectSettings>
    {
        ["demo"] = new()
        {
            Dataset = "craftworld", Episodes = 64,
            Players = new Dictionary<string, double> { ["contractor"] = 0.6, ["skilled"] = 0.2, ["random"] = 0.2 },
            ContractorEpsilon = 0.2, UnlabeledShare = 0.5, MaxSteps = 1000, Width = 64, Height = 64, WorldSize = 64,
            Fps = 15, PixelFormat = "yuv444p", Crf = 10, EncoderPreset = "fast", Parallelism = 0, Ffmpeg = "ffmpeg",
        },
        ["tiny"] = new()
        {
            Dataset = "craftworld-tiny", Episodes = 4,
            Players = new Dictionary<string, double> { ["contractor"] = 0.5, ["random"] = 0.5 },
            ContractorEpsilon = 0.2, UnlabeledShare = 0.25, MaxSteps = 50, Width = 64, Height = 64, WorldSize = 64,
            Fps = 15, PixelFormat = "yuv444p", Crf = 10, EncoderPreset = "fast", Parallelism = 0, Ffmpeg = "ffmpeg",
        },
    };

    public int EffectiveParallelism() => Parallelism > 0 ? Parallelism : Environment.ProcessorCount;

    public CraftConfig Game() => new() { Width = Width, Height = Height, WorldSize = WorldSize, MaxSteps = MaxSteps };

    /// <summary>The settings that decide the recorded content (not how fast or with which binary), as JSON.</summary>
    public JsonObject ContentJson()
    {
        var json = JsonSerializer.SerializeToNode(this)!.AsObject();
        json.Remove(nameof(Parallelism));
        json.Remove(nameof(Ffmpeg));
        return json;
    }

    public IEnumerable<string> Validate()
    {
        var inv = CultureInfo.InvariantCulture;
        if (string.IsNullOrEmpty(Dataset) || Dataset.Length > 64 || Dataset.StartsWith('.') ||
            !Dataset.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            yield return $"Collect:Dataset = '{Dataset}': expected 1-64 letters, digits, '-', '_' or '.' (it names raw/<dataset>/)";
        if (Episodes is < 1 or > 1_000_000) yield return $"Collect:Episodes = {Episodes}: expected an integer in [1, 1000000]";
        if (Players.Count == 0) yield return "Collect:Players: expected at least one player with a positive share";
        foreach (var (name, share) in Players)
        {
            if (!Dreamer.Game.Players.Names.Contains(name))
                yield return $"Collect:Players:{name}: unknown player; expected one of {string.Join(", ", Dreamer.Game.Players.Names)}";
            if (!(share >= 0) || double.IsInfinity(share)) yield return $"Collect:Players:{name} = {share.ToString(inv)}: expected a share >= 0";
        }
        if (Players.Count > 0 && !(Players.Values.Where(double.IsFinite).Sum() > 0))
            yield return "Collect:Players: expected at least one player with a positive share";
        if (ContractorEpsilon is < 0 or > 1 || double.IsNaN(ContractorEpsilon))
            yield return $"Collect:ContractorEpsilon = {ContractorEpsilon.ToString(inv)}: expected a probability in [0, 1]";
        if (UnlabeledShare is < 0 or > 1 || double.IsNaN(UnlabeledShare))
            yield return $"Collect:UnlabeledShare = {UnlabeledShare.ToString(inv)}: expected a share in [0, 1]";
        if (MaxSteps < 1) yield return $"Collect:MaxSteps = {MaxSteps}: expected a positive integer";
        string? game = null;
        try { Game().Validate(); }
        catch (ArgumentException e) { game = e.Message; }
        if (game != null) yield return $"Collect:Width/Height/WorldSize: {game}";
        if (!(Fps > 0 && Fps <= 240)) yield return $"Collect:Fps = {Fps.ToString(inv)}: expected a number in (0, 240]";
        if (!PixelFormats.Contains(PixelFormat))
            yield return $"Collect:PixelFormat = '{PixelFormat}': expected one of {string.Join(", ", PixelFormats)}";
        else if (PixelFormat != "yuv444p" && (Width % 2 != 0 || Height % 2 != 0))
            yield return $"Collect:PixelFormat = '{PixelFormat}': chroma subsampling needs an even Width and Height (got {Width}x{Height})";
        if (Crf is < 0 or > 51) yield return $"Collect:Crf = {Crf}: expected an integer in [0, 51] (lower is better quality)";
        if (!EncoderPresets.Contains(EncoderPreset))
            yield return $"Collect:EncoderPreset = '{EncoderPreset}': expected one of {string.Join(", ", EncoderPresets)}";
        if (Parallelism < 0) yield return $"Collect:Parallelism = {Parallelism}: expected 0 (one per core) or a positive integer";
        if (string.IsNullOrWhiteSpace(Ffmpeg)) yield return "Collect:Ffmpeg: expected the ffmpeg executable (name or path)";
    }
}
