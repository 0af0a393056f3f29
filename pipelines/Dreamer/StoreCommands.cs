using System.CommandLine;
using Dreamer.Artifacts;
using Dreamer.Storage;
using Spectre.Console;

namespace Dreamer.Cli;

/// <summary>`dreamer store ls|cat|put|rm|gc`: inspect and tidy a store, local or Azure.</summary>
internal static class StoreCommands
{
    public static Option<string> StoreOption() => new("--store")
    {
        Description = "store URI: a folder path, file://, https://<account>.blob.core.windows.net/<container>[/prefix], or a connection string",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("DREAMER_STORE") ?? ".store",
    };

    public static Command Create()
    {
        var store = StoreOption();
        var command = new Command("store", "inspect a store: ls, cat, put, rm, gc");

        var prefix = new Argument<string>("prefix") { DefaultValueFactory = _ => "", Description = "path prefix" };
        var recursive = new Option<bool>("--recursive", "-r") { Description = "list every blob, not one level" };
        var ls = new Command("ls", "list blobs and sub-prefixes") { store, prefix, recursive };
        ls.SetAction((parse, ct) => WithStore(parse.GetValue(store)!, async s =>
        {
            var p = parse.GetValue(prefix)!;
            if (parse.GetValue(recursive))
            {
                await foreach (var blob in s.ListAllAsync(p, ct)) PrintBlob(blob);
                return 0;
            }
            string? continuation = null;
            do
            {
                var page = await s.ListPageAsync(p, "/", continuation, 5000, ct);
                foreach (var sub in page.Prefixes) Console.WriteLine($"{"",12}  {"",20}  {sub}");
                foreach (var blob in page.Blobs) PrintBlob(blob);
                continuation = page.Continuation;
            } while (continuation != null);
            return 0;
        }));

        var path = new Argument<string>("path") { Description = "blob path" };
        var cat = new Command("cat", "write a blob to stdout") { store, path };
        cat.SetAction((parse, ct) => WithStore(parse.GetValue(store)!, async s =>
        {
            await using var input = await s.OpenReadAsync(parse.GetValue(path)!, 0, null, ct);
            await using var stdout = Console.OpenStandardOutput();
            await input.CopyToAsync(stdout, ct);
            return 0;
        }));

        var local = new Argument<string>("file") { Description = "local file to upload" };
        var putPath = new Argument<string>("path") { Description = "destination blob path" };
        var createOnly = new Option<bool>("--create-only") { Description = "fail if the blob exists" };
        var put = new Command("put", "upload a local file") { store, local, putPath, createOnly };
        put.SetAction((parse, ct) => WithStore(parse.GetValue(store)!, async s =>
        {
            var file = parse.GetValue(local)!;
            if (!File.Exists(file)) { Console.Error.WriteLine($"store put: no such file: {file}"); return 2; }
            await using var stream = File.OpenRead(file);
            var props = await s.WriteAsync(parse.GetValue(putPath)!, stream,
                parse.GetValue(createOnly) ? BlobWriteOptions.CreateOnly : null, ct);
            Console.WriteLine($"{props.Path} {props.Length} bytes etag {props.ETag}");
            return 0;
        }));

        var rmPath = new Argument<string>("path") { Description = "blob path" };
        var rm = new Command("rm", "delete a blob") { store, rmPath };
        rm.SetAction((parse, ct) => WithStore(parse.GetValue(store)!, async s =>
        {
            var deleted = await s.DeleteAsync(parse.GetValue(rmPath)!, null, ct);
            Console.WriteLine(deleted ? "deleted" : "not found");
            return deleted ? 0 : 1;
        }));

        var grace = new Option<double>("--grace-hours") { Description = "keep uncommitted prefixes younger than this", DefaultValueFactory = _ => 24 };
        var dryRun = new Option<bool>("--dry-run") { Description = "only report what would be removed" };
        var gc = new Command("gc", "remove uncommitted artifact prefixes older than the grace period") { store, grace, dryRun };
        gc.SetAction((parse, ct) => WithStore(parse.GetValue(store)!, async s =>
        {
            var report = await new ArtifactCatalog(s).CollectGarbageAsync(TimeSpan.FromHours(parse.GetValue(grace)), parse.GetValue(dryRun), ct);
            var verb = parse.GetValue(dryRun) ? "would remove" : "removed";
            foreach (var p in report.RemovedPrefixes) Console.WriteLine($"{verb} {p}");
            foreach (var p in report.KeptYoungPrefixes) Console.WriteLine($"kept (younger than grace) {p}");
            Console.WriteLine($"{verb} {report.RemovedPrefixes.Count} prefixes, {report.RemovedBlobs} blobs");
            return 0;
        }));

        command.Subcommands.Add(ls);
        command.Subcommands.Add(cat);
        command.Subcommands.Add(put);
        command.Subcommands.Add(rm);
        command.Subcommands.Add(gc);
        return command;
    }

    private static void PrintBlob(BlobItem blob) =>
        Console.WriteLine($"{blob.Length,12}  {blob.LastModified.UtcDateTime:yyyy-MM-dd HH:mm:ss}  {blob.Path}");

    /// <summary>Opens the store and maps failures to the stage contract's exit codes and clear messages.</summary>
    public static async Task<int> WithStore(string uri, Func<IBlobStore, Task<int>> action)
    {
        try
        {
            using var store = BlobStores.Open(uri);
            return await action(store);
        }
        catch (BlobStoreConfigurationException e) { Console.Error.WriteLine($"store: {e.Message}"); return 2; }
        catch (BlobStoreAccessDeniedException e) { Console.Error.WriteLine($"store: {e.Message}"); return 2; }
        catch (BlobNotFoundException e) { Console.Error.WriteLine($"store: {e.Message}"); return 1; }
        catch (BlobStoreException e) { Console.Error.WriteLine($"store: {e.Message}"); return 3; }
        catch (IOException e) { AnsiConsole.MarkupLineInterpolated($"[red]store: {e.Message}[/]"); return 3; }
    }
}
