using System.CommandLine;
using Dreamer.Cli;

// The `dreamer` command. The ./dreamer launcher builds it and runs it; stages run as their own processes.
var root = new RootCommand("Dreamer Pipeline: train agents inside a learned world model.");
root.Subcommands.Add(DemoCommand.Create());
root.Subcommands.Add(SmokeCommand.Create());
root.Subcommands.Add(StoreCommands.Create());
root.Subcommands.Add(PipelineCommands.Nightly());
root.Subcommands.Add(PipelineCommands.Run());
root.Subcommands.Add(PipelineCommands.Status());
root.Subcommands.Add(LineageCommands.Create());
root.Subcommands.Add(ParquetCommands.Create());
return await root.Parse(args).InvokeAsync();
