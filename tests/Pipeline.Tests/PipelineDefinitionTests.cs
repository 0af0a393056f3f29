using Dreamer.Cli;

namespace Dreamer.Pipeline.Tests;

public class PipelineDefinitionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pipeline-def").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string yaml)
    {
        var path = Path.Combine(_dir, "p.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    [Fact]
    public void Loads_stages_in_order_and_resolves_configs_next_to_the_file()
    {
        File.WriteAllText(Path.Combine(_dir, "tok.yaml"), "Tokenizer:\n  Steps: 3\n");
        var p = PipelineDefinition.Load(Write("""
            name: nightly
            stages:
              - stage: ingest
                input: raw/demo
              - stage: tokenize
                input: ingest
                config: tok.yaml
                set: ["Tokenizer:Steps=5"]
            """));
        Assert.Equal(["ingest", "tokenize"], p.Stages.Select(s => s.Stage));
        Assert.Equal(Path.Combine(_dir, "tok.yaml"), p.ConfigPath(p.Stages[1]));
        Assert.True(p.ReadsStage(p.Stages[1]));
        Assert.False(p.ReadsStage(p.Stages[0]));
        Assert.Equal(["ingest", "tokenize"], p.Downstream("ingest").Order());
        Assert.Equal(["tokenize"], p.Downstream("tokenize"));
    }

    [Theory]
    [InlineData("stages: []", "field 'stages' is empty")]
    [InlineData("stages:\n  - input: raw/x", "field 'stage' is missing")]
    [InlineData("stages:\n  - stage: ingest", "field 'input' is missing")]
    [InlineData("stages:\n  - stage: tokenize\n    input: ingest", "neither an earlier stage nor a raw/<dataset> prefix")]
    [InlineData("stages:\n  - stage: a\n    input: b\n  - stage: b\n    input: raw/x", "is not an earlier stage")]
    [InlineData("stages:\n  - stage: ingest\n    input: raw/x\n    config: missing.yaml", "config file not found")]
    [InlineData("stages:\n  - stage: ingest\n    input: raw/x\n    colour: red", "line")]
    public void Bad_definitions_name_the_file_and_the_field(string yaml, string expected)
    {
        var path = Write(yaml);
        var e = Assert.Throws<InvalidDataException>(() => PipelineDefinition.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }
}
