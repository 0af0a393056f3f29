using System.CommandLine;
using System.Runtime.InteropServices;
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
root.Subcommands.Add(PlayCommand.Create());
// SIGINT/SIGTERM cancel the command's token; the command then checkpoints and exits 130. Registered before
// anything runs (System.CommandLine registers only after an action's synchronous start, and would force an
// exit 2 s after the signal, killing a checkpoint write mid-way: the grace period belongs to the scheduler).
using var shutdown = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    shutdown.Cancel();
}
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, shutdown.Token);
