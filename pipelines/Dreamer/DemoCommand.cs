using System.CommandLine;

namespace Dreamer.Cli;

internal static class DemoCommand
{
    public static Command Create()
    {
        var command = new Command("demo", "run the main job on the local store");
        command.SetAction((_, _) => Task.FromResult(0));
        return command;
    }
}
