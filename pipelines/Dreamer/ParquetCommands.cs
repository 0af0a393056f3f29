using System.CommandLine;
using Dreamer.Parquet;
using Dreamer.Storage;

namespace Dreamer.Cli;

/// <summary>
/// `dreamer parquet schema|cat FILE`: look into a Parquet file, local or in a store (--store URI: then FILE is a
/// blob path, read with ranged reads: the footer, then only the column chunks asked for). The formatting lives in
/// Dreamer.Parquet (ParquetInspect, ParquetJson); this is the shell. Exit codes: 0 done, 2 missing file,
/// not Parquet or bad arguments, 3 store or I/O failure.
/// </summary>
internal static class ParquetCommands
{
    public static Command Create()
    {
        var command = new Command("parquet", "inspect Parquet files: schema, cat");

        var schemaFile = FileArgument();
        var schemaStore = StoreOption();
        var schema = new Command("schema", "print the schema tree, row groups, rows, codecs and key-value metadata") { schemaFile, schemaStore };
        schema.SetAction((parse, ct) => WithReader(parse.GetValue(schemaFile)!, parse.GetValue(schemaStore), ct, async (reader, name) =>
        {
            await Console.Out.WriteAsync(ParquetInspect.Describe(reader, name));
            return 0;
        }));

        var catFile = FileArgument();
        var catStore = StoreOption();
        var columns = new Option<string>("--columns", "-c") { Description = "comma-separated columns (top-level fields or dotted leaf paths); default: all" };
        var limit = new Option<long?>("--limit", "-n") { Description = "print at most N rows" };
        var cat = new Command("cat", "print rows as JSON, one object per line") { catFile, catStore, columns, limit };
        cat.SetAction((parse, ct) => WithReader(parse.GetValue(catFile)!, parse.GetValue(catStore), ct, async (reader, name) =>
        {
            IReadOnlyList<ColumnDescriptor>? selected = null;
            if (parse.GetValue(columns) is { } list)
            {
                var names = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                try { selected = reader.Schema.Select(names); }
                catch (ArgumentException e)
                {
                    Console.Error.WriteLine($"parquet cat: {name}: {e.Message}");
                    return 2;
                }
            }
            if (parse.GetValue(limit) is < 0)
            {
                Console.Error.WriteLine("parquet cat: --limit must not be negative");
                return 2;
            }
            await using var stdout = new BufferedStream(Console.OpenStandardOutput(), 1 << 16);
            try
            {
                await ParquetJson.WriteRowsAsync(reader, stdout, selected, parse.GetValue(limit), ct);
                await stdout.FlushAsync(ct);
            }
            catch (IOException e) when (e.HResult == 32) // EPIPE: the reader of our output left (| head)
            {
            }
            return 0;
        }));

        command.Subcommands.Add(schema);
        command.Subcommands.Add(cat);
        return command;
    }

    private static Argument<string> FileArgument() => new("file") { Description = "a local Parquet file, or a blob path with --store" };

    // No default here (unlike `dreamer store`): without --store, FILE is a local path.
    private static Option<string?> StoreOption() => new("--store")
    {
        Description = "read FILE from this store: a folder path, file://, https://<account>.blob.core.windows.net/<container>[/prefix], or a connection string",
    };

    /// <summary>Opens the file (local, or through the store) and maps failures to clear messages and exit codes.</summary>
    private static async Task<int> WithReader(string file, string? storeUri, CancellationToken ct, Func<ParquetReader, string, Task<int>> action)
    {
        string name = file;
        try
        {
            if (storeUri == null)
            {
                if (!File.Exists(file))
                {
                    Console.Error.WriteLine($"parquet: no such file: {file}");
                    return 2;
                }
                using var local = await ParquetReader.OpenFileAsync(file, ct: ct);
                return await action(local, file);
            }
            using var store = BlobStores.Open(storeUri);
            name = store.DisplayUri.TrimEnd('/') + "/" + file;
            using var reader = await ParquetReader.OpenAsync(store, file, ct: ct);
            return await action(reader, reader.Name);
        }
        catch (ParquetFormatException e)
        {
            Console.Error.WriteLine($"parquet: not a valid Parquet file: {e.Message}");
            return 2;
        }
        catch (BlobNotFoundException)
        {
            Console.Error.WriteLine($"parquet: no such file: {name}");
            return 2;
        }
        catch (BlobStoreConfigurationException e) { Console.Error.WriteLine($"parquet: store: {e.Message}"); return 2; }
        catch (BlobStoreAccessDeniedException e) { Console.Error.WriteLine($"parquet: store: {e.Message}"); return 2; }
        catch (BlobStoreException e) { Console.Error.WriteLine($"parquet: store: {e.Message}"); return 3; }
        catch (FileNotFoundException) { Console.Error.WriteLine($"parquet: no such file: {name}"); return 2; }
        catch (DirectoryNotFoundException) { Console.Error.WriteLine($"parquet: no such file: {name}"); return 2; }
        catch (UnauthorizedAccessException e) { Console.Error.WriteLine($"parquet: {name}: {e.Message}"); return 2; }
        catch (IOException e) { Console.Error.WriteLine($"parquet: {name}: {e.Message}"); return 3; }
    }
}
