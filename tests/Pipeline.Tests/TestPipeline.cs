using System.Text;

namespace Dreamer.Pipeline.Tests;

/// <summary>One stage of a test pipeline: its input (a raw prefix or an earlier stage) and its configuration file's name and YAML.</summary>
internal sealed record TestStage(string Stage, string Input, string ConfigFile, string ConfigYaml);

/// <summary>Writes a pipeline definition for `dreamer nightly --pipeline` into a folder, beside its stages' configuration files.</summary>
internal static class TestPipeline
{
    /// <summary>The path of the pipeline.yaml written.</summary>
    public static string Write(string folder, string name, params TestStage[] stages)
    {
        var yaml = new StringBuilder($"name: {name}\nstages:\n");
        foreach (var s in stages)
        {
            File.WriteAllText(Path.Combine(folder, s.ConfigFile), s.ConfigYaml);
            yaml.Append($"  - stage: {s.Stage}\n    input: {s.Input}\n    config: {s.ConfigFile}\n");
        }
        var path = Path.Combine(folder, "pipeline.yaml");
        File.WriteAllText(path, yaml.ToString());
        return path;
    }
}
