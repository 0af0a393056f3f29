using Dreamer.Hosting;

namespace Dreamer.Hosting.Tests;

public sealed class TrainerSection
{
    public int Steps { get; set; } = 100;
    public double LearningRate { get; set; } = 1e-4;
    public string Device { get; set; } = "cpu";
}

public sealed class StorageSection
{
    public string Container { get; set; } = "dreamer";
    [Secret] public string? AccountKey { get; set; }
}

public sealed class SampleConfig : IValidatedConfig
{
    public TrainerSection Trainer { get; set; } = new();
    public StorageSection Storage { get; set; } = new();
    public List<int> Layers { get; set; } = [];

    public IEnumerable<string> Validate()
    {
        if (Trainer.Steps <= 0) yield return $"Trainer:Steps = {Trainer.Steps}: expected a positive integer";
    }
}

public class StageConfigurationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hosting-tests").FullName;
    private static readonly Dictionary<string, string?> NoEnv = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteFile(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Defaults_apply_when_nothing_is_set()
    {
        var config = StageConfiguration.Load<SampleConfig>(new ConfigSources(null, []), NoEnv);
        Assert.Equal(100, config.Trainer.Steps);
        Assert.Equal("cpu", config.Trainer.Device);
    }

    [Fact]
    public void Layers_override_in_order_file_then_environment_then_set()
    {
        var file = WriteFile("c.json", """{"Trainer": {"Steps": 5, "LearningRate": 0.5, "Device": "cuda"}}""");
        var env = new Dictionary<string, string?> { ["DREAMER__Trainer__Steps"] = "7", ["DREAMER__Trainer__LearningRate"] = "0.25" };
        var config = StageConfiguration.Load<SampleConfig>(new ConfigSources(file, ["Trainer:Steps=9"]), env);
        Assert.Equal(9, config.Trainer.Steps);        // --set wins
        Assert.Equal(0.25, config.Trainer.LearningRate); // environment beats file
        Assert.Equal("cuda", config.Trainer.Device);   // file beats default
    }

    [Fact]
    public void Yaml_files_and_lists_bind()
    {
        var file = WriteFile("c.yaml", "Trainer:\n  Steps: 42\nLayers:\n  - 3\n  - 4\n");
        var config = StageConfiguration.Load<SampleConfig>(new ConfigSources(file, []), NoEnv);
        Assert.Equal(42, config.Trainer.Steps);
        Assert.Equal([3, 4], config.Layers);
    }

    [Fact]
    public void Unknown_key_is_an_error_naming_the_key_and_the_expected_ones()
    {
        var e = Assert.Throws<StageInputException>(() =>
            StageConfiguration.Load<SampleConfig>(new ConfigSources(null, ["Trainer:Stepz=3"]), NoEnv));
        Assert.Contains("Trainer:Stepz", e.Message);
        Assert.Contains("Trainer:Steps", e.Message);
    }

    [Fact]
    public void Unknown_key_in_file_names_the_file()
    {
        var file = WriteFile("bad.json", """{"Trainer": {"Speed": 1}}""");
        var e = Assert.Throws<StageInputException>(() => StageConfiguration.Load<SampleConfig>(new ConfigSources(file, []), NoEnv));
        Assert.Contains("Trainer:Speed", e.Message);
        Assert.Contains("bad.json", e.Message);
    }

    [Fact]
    public void Environment_variables_of_other_stages_are_ignored()
    {
        var env = new Dictionary<string, string?> { ["DREAMER__Dynamics__Steps"] = "7" };
        var config = StageConfiguration.Load<SampleConfig>(new ConfigSources(null, []), env);
        Assert.Equal(100, config.Trainer.Steps);
    }

    [Fact]
    public void Bad_value_names_the_key()
    {
        var e = Assert.Throws<StageInputException>(() =>
            StageConfiguration.Load<SampleConfig>(new ConfigSources(null, ["Trainer:Steps=many"]), NoEnv));
        Assert.Contains("Trainer:Steps", e.Message);
    }

    [Fact]
    public void Validation_failures_are_reported()
    {
        var e = Assert.Throws<StageInputException>(() =>
            StageConfiguration.Load<SampleConfig>(new ConfigSources(null, ["Trainer:Steps=-1"]), NoEnv));
        Assert.Contains("expected a positive integer", e.Message);
    }

    [Fact]
    public void Malformed_files_name_the_file()
    {
        var json = WriteFile("broken.json", "{\"Trainer\": ");
        Assert.Contains("broken.json", Assert.Throws<StageInputException>(() =>
            StageConfiguration.Load<SampleConfig>(new ConfigSources(json, []), NoEnv)).Message);
        Assert.Contains("not found", Assert.Throws<StageInputException>(() =>
            StageConfiguration.Load<SampleConfig>(new ConfigSources(Path.Combine(_dir, "missing.json"), []), NoEnv)).Message);
    }

    [Fact]
    public void Secrets_never_reach_the_effective_configuration_json()
    {
        var config = StageConfiguration.Load<SampleConfig>(new ConfigSources(null, ["Storage:AccountKey=c2VjcmV0LWtleQ=="]), NoEnv);
        Assert.Equal("c2VjcmV0LWtleQ==", config.Storage.AccountKey);
        var json = StageConfiguration.ToJson(config).ToJsonString();
        Assert.DoesNotContain("c2VjcmV0LWtleQ==", json);
        Assert.DoesNotContain("AccountKey", json);
        Assert.Contains("\"Container\":\"dreamer\"", json);
    }
}

public class StageOptionsTests
{
    [Fact]
    public void Parses_the_stage_contract()
    {
        var o = StageOptions.Parse(["--store", "/tmp/s", "--input", "abc", "--set", "A:B=1", "--set", "C=2", "--seed", "7", "--shard", "1/4", "--json"]);
        Assert.Equal("/tmp/s", o.Store);
        Assert.Equal("abc", o.Input);
        Assert.Equal(["A:B=1", "C=2"], o.Sets);
        Assert.Equal(7, o.Seed);
        Assert.Equal((1, 4), (o.ShardIndex, o.ShardCount));
        Assert.True(o.Json);
    }

    [Theory]
    [InlineData("--shard", "4/4")]
    [InlineData("--shard", "x")]
    [InlineData("--seed", "seven")]
    [InlineData("--bogus", "1")]
    public void Rejects_bad_options_naming_them(string option, string value)
    {
        var e = Assert.Throws<StageInputException>(() => StageOptions.Parse([option, value]));
        Assert.Contains(option, e.Message);
    }

    [Fact]
    public void Missing_value_is_an_error()
    {
        Assert.Contains("--store", Assert.Throws<StageInputException>(() => StageOptions.Parse(["--store"])).Message);
    }
}
