using Dreamer.Bench;

// `./dreamer bench NAME`: each benchmark prints a table and ends with one GOAL line per goal.
var benchmarks = new Dictionary<string, (string Description, Func<string[], Task<int>> Run)>(StringComparer.OrdinalIgnoreCase)
{
    ["torch"] = ("libtorch binding vs python3-torch: reference step, per-op overhead, matmul, MFU", TorchBench.RunAsync),
    ["parquet"] = ("Parquet writer/reader vs DuckDB: 1 GB frames table, ZSTD", ParquetBench.RunAsync),
    ["ingest"] = ("ingest frames/s vs plain ffmpeg decoding the same files; game steps/s", IngestBench.RunAsync),
    ["tokenize"] = ("tokenizer training frames/s and MFU vs the measured matmul peak; encoding frames/s", TokenizeBench.RunAsync),
    ["storage"] = ("blob store throughput vs curl (Azurite) and cp (local), listing", StorageBench.RunAsync),
    ["dynamics"] = ("world model play frames/s at K=4 (batch 1 and batched), training MFU vs the matmul peak", DynamicsBench.RunAsync),
    ["scroll"] = ("can the dynamics preset learn a scrolling view: one-step error on a synthetic world vs copying and the mean", ScrollBench.RunAsync),
};

if (args.Length == 0 || !benchmarks.TryGetValue(args[0], out var bench))
{
    Console.Error.WriteLine(args.Length == 0 ? "usage: ./dreamer bench NAME" : $"unknown benchmark '{args[0]}'");
    foreach (var (name, (description, _)) in benchmarks) Console.Error.WriteLine($"  {name,-10} {description}");
    return 2;
}
return await bench.Run(args[1..]);
