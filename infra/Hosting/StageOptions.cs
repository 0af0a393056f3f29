namespace Dreamer.Hosting;

/// <summary>The options every stage executable takes (DESIGN.md "Stage contract").</summary>
public sealed record StageOptions
{
    public string Store { get; init; } = ".store";
    public string Input { get; init; } = "latest";
    public string? ConfigFile { get; init; }
    public IReadOnlyList<string> Sets { get; init; } = [];
    public long? Seed { get; init; }
    public int ShardIndex { get; init; }
    public int ShardCount { get; init; } = 1;
    public bool Json { get; init; }
    /// <summary>Extra salt for the artifact id (--force): a fresh artifact from the same inputs.</summary>
    public string? Salt { get; init; }
    /// <summary>Run id of the pipeline run this stage belongs to, for the lineage parent facet.</summary>
    public string? ParentRunId { get; init; }
    /// <summary>Only compute the artifact id and whether the stage would run (nightly --dry-run).</summary>
    public bool Plan { get; init; }

    public ConfigSources ConfigSources => new(ConfigFile, Sets);

    /// <summary>Parses the stage contract's options; anything else is an error naming the option.</summary>
    public static StageOptions Parse(IReadOnlyList<string> args)
    {
        var options = new StageOptions();
        var sets = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string Value()
            {
                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    throw new StageInputException($"option {arg} needs a value");
                return args[++i];
            }
            switch (arg)
            {
                case "--store": options = options with { Store = Value() }; break;
                case "--input": options = options with { Input = Value() }; break;
                case "--config": options = options with { ConfigFile = Value() }; break;
                case "--set": sets.Add(Value()); break;
                case "--seed":
                    var seedText = Value();
                    options = options with { Seed = long.TryParse(seedText, out var seed) ? seed
                        : throw new StageInputException($"--seed '{seedText}': expected an integer") };
                    break;
                case "--shard":
                    var shard = Value();
                    var parts = shard.Split('/');
                    if (parts.Length != 2 || !int.TryParse(parts[0], out var index) || !int.TryParse(parts[1], out var count)
                        || count < 1 || index < 0 || index >= count)
                        throw new StageInputException($"--shard '{shard}': expected i/N with 0 <= i < N, e.g. 0/4");
                    options = options with { ShardIndex = index, ShardCount = count };
                    break;
                case "--json": options = options with { Json = true }; break;
                case "--plan": options = options with { Plan = true }; break;
                case "--salt": options = options with { Salt = Value() }; break;
                case "--parent-run": options = options with { ParentRunId = Value() }; break;
                default:
                    throw new StageInputException($"unknown option '{arg}'; expected --store, --input, --config, --set, --seed, --shard, --json, --plan, --salt, --parent-run");
            }
        }
        return options with { Sets = sets };
    }
}
