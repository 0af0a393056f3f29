using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Dreamer.Cli;

/// <summary>One stage of a pipeline: which executable, what it reads, how it is configured.</summary>
public sealed class PipelineStage
{
    /// <summary>Stage name; the executable is dreamer-&lt;name&gt;.</summary>
    public string Stage { get; set; } = "";
    /// <summary>A raw prefix (raw/&lt;dataset&gt;) for the first stage, or the name of an upstream stage of this pipeline.</summary>
    public string Input { get; set; } = "";
    /// <summary>Configuration file (json or yaml), relative to the pipeline file.</summary>
    public string? Config { get; set; }
    /// <summary>Key=Value overrides, as --set.</summary>
    public List<string> Set { get; set; } = [];
}

/// <summary>A pipeline: stages in dependency order (each reads the raw prefix or an earlier stage).</summary>
public sealed class PipelineDefinition
{
    public string Name { get; set; } = "nightly";
    public List<PipelineStage> Stages { get; set; } = [];
    /// <summary>The file it was read from (configs resolve relative to it).</summary>
    [YamlIgnore] public string SourcePath { get; private set; } = "";

    public static PipelineDefinition Load(string path)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"pipeline file not found: {path}");
        PipelineDefinition definition;
        try
        {
            definition = new DeserializerBuilder()
                .WithNamingConvention(CamelCaseNamingConvention.Instance)
                .Build()
                .Deserialize<PipelineDefinition>(File.ReadAllText(path)) ?? new PipelineDefinition();
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new InvalidDataException($"pipeline file {path}: line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}", e);
        }
        definition.SourcePath = Path.GetFullPath(path);
        definition.Validate();
        return definition;
    }

    public string? ConfigPath(PipelineStage stage) =>
        stage.Config == null ? null : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(SourcePath)!, stage.Config));

    /// <summary>True when the stage reads an upstream stage of this pipeline (else a raw prefix).</summary>
    public bool ReadsStage(PipelineStage stage) => Stages.Any(s => s.Stage == stage.Input);

    private void Validate()
    {
        if (Stages.Count == 0) throw new InvalidDataException($"pipeline file {SourcePath}: field 'stages' is empty; expected a list of stages");
        var seen = new HashSet<string>();
        foreach (var (stage, i) in Stages.Select((s, i) => (s, i)))
        {
            var where = $"pipeline file {SourcePath}: stages[{i}]";
            if (string.IsNullOrWhiteSpace(stage.Stage)) throw new InvalidDataException($"{where}: field 'stage' is missing; expected a stage name such as ingest");
            if (string.IsNullOrWhiteSpace(stage.Input)) throw new InvalidDataException($"{where} ({stage.Stage}): field 'input' is missing; expected raw/<dataset> or an earlier stage");
            if (!seen.Add(stage.Stage)) throw new InvalidDataException($"{where}: stage '{stage.Stage}' appears twice");
            var upstream = Stages.FindIndex(s => s.Stage == stage.Input);
            if (upstream >= i) throw new InvalidDataException($"{where} ({stage.Stage}): input '{stage.Input}' is not an earlier stage; list stages in dependency order");
            if (upstream < 0 && !stage.Input.StartsWith("raw/", StringComparison.Ordinal))
                throw new InvalidDataException($"{where} ({stage.Stage}): input '{stage.Input}' is neither an earlier stage nor a raw/<dataset> prefix");
            if (ConfigPath(stage) is { } config && !File.Exists(config))
                throw new InvalidDataException($"{where} ({stage.Stage}): config file not found: {config}");
        }
    }

    /// <summary>The stage and everything downstream of it.</summary>
    public HashSet<string> Downstream(string stageName)
    {
        var result = new HashSet<string> { stageName };
        foreach (var s in Stages)
            if (result.Contains(s.Input)) result.Add(s.Stage);
        return result;
    }
}
