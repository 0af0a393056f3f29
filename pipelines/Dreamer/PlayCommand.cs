using System.CommandLine;
using System.ComponentModel;
using System.Diagnostics;
using Dreamer.Hosting;
using Dreamer.Storage;
using Dreamer.WorldModel;

namespace Dreamer.Cli;

/// <summary>
/// `dreamer play`: play inside a world model from a browser. Serves the page and the world on
/// 127.0.0.1 until SIGINT/SIGTERM, then stops cleanly (exit 0).
/// </summary>
internal static class PlayCommand
{
    public static Command Create()
    {
        var store = StoreCommands.StoreOption();
        var dynamics = new Option<string>("--dynamics") { Description = "train-dynamics artifact id, or latest", DefaultValueFactory = _ => "latest" };
        var port = new Option<int>("--port") { Description = "port on 127.0.0.1 (0: any free port)", DefaultValueFactory = _ => 0 };
        var open = new Option<bool>("--open") { Description = "open the page in the default browser" };
        var testWorld = new Option<bool>("--test-world") { Description = "play a built-in procedural world instead of a model (tries the UI without training)" };
        // One frame is many small ops: intra-op threads cost more than they give (measured on 2 cores: 26 vs 12 frames/s).
        var threads = new Option<int>("--threads") { Description = "libtorch intra-op threads", DefaultValueFactory = _ => 1 };
        var command = new Command("play", "play inside a world model in the browser: keys drive the imagined frames") { store, dynamics, port, open, testWorld, threads };
        command.SetAction((parse, ct) =>
        {
            if (parse.GetValue(threads) < 1)
            {
                Console.Error.WriteLine($"play: --threads must be at least 1, got {parse.GetValue(threads)}");
                return Task.FromResult(ExitCodes.BadInput);
            }
            Dreamer.Torch.Torch.UseThreads(parse.GetValue(threads));
            return RunAsync(parse.GetValue(store)!, parse.GetValue(dynamics)!, parse.GetValue(port),
                parse.GetValue(open), parse.GetValue(testWorld), ct);
        });
        return command;
    }

    /// <param name="cancel">cancelled by SIGINT/SIGTERM: stop serving and exit 0</param>
    private static async Task<int> RunAsync(string storeUri, string dynamics, int port, bool open, bool testWorld, CancellationToken cancel)
    {
        if (port is < 0 or > 65535)
        {
            Console.Error.WriteLine($"play: --port must be in 0..65535, got {port}");
            return ExitCodes.BadInput;
        }
        if (testWorld)
        {
            using var world = new ProceduralWorld();
            return await ServeAsync(world, port, open, cancel);
        }
        var loader = PlayWorlds.Loader;
        if (loader == null)
        {
            Console.Error.WriteLine("play: no world model loader is available in this build (try --test-world for the built-in procedural world)");
            return ExitCodes.BadInput;
        }
        return await StoreCommands.WithStore(storeUri, async s =>
        {
            IInteractiveWorld world;
            try
            {
                Console.Error.WriteLine($"play: loading the world model ({dynamics}) from {s.DisplayUri}");
                world = await loader(s, dynamics, cancel);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                Console.Error.WriteLine("play: cancelled while loading");
                return ExitCodes.Cancelled;
            }
            catch (InvalidDataException e)
            {
                Console.Error.WriteLine($"play: {e.Message}");
                return ExitCodes.BadInput;
            }
            using (world) return await ServeAsync(world, port, open, cancel);
        });
    }

    private static async Task<int> ServeAsync(IInteractiveWorld world, int port, bool open, CancellationToken cancel)
    {
        PlayServer server;
        try
        {
            server = PlayServer.Start(world, port);
        }
        catch (System.Net.HttpListenerException e)
        {
            Console.Error.WriteLine($"play: cannot listen on 127.0.0.1:{port}: {e.Message}");
            return ExitCodes.Infrastructure;
        }
        await using (server)
        {
            Console.Error.WriteLine($"play: open {server.Url} (Ctrl+C to stop)");
            if (open) OpenBrowser(server.Url);
            try
            {
                await Task.Delay(Timeout.Infinite, cancel);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                Console.Error.WriteLine("play: stopping");
            }
        }
        return ExitCodes.Done;
    }

    private static void OpenBrowser(Uri url)
    {
        try
        {
            // UseShellExecute hands the URL to the desktop's opener (xdg-open on Linux).
            using var _ = Process.Start(new ProcessStartInfo(url.ToString()) { UseShellExecute = true });
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException or PlatformNotSupportedException)
        {
            Console.Error.WriteLine($"play: could not open a browser ({e.Message}); open {url} yourself");
        }
    }
}
