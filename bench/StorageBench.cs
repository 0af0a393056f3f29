using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Dreamer.Storage;
using Dreamer.Storage.Azure;
using Dreamer.Storage.Emulator;
using Spectre.Console;

namespace Dreamer.Bench;

/// <summary>
/// `./dreamer bench storage`: blob store throughput against peers in one run.
/// <list type="bullet">
/// <item>Azurite: our AzureBlobStore uploads an artifact (streamed from a generator) as parallel Put Block +
/// Put Block List and downloads it as parallel ranged GETs; curl does the same requests (same block size, same
/// parallelism, service SAS) against the same Azurite.</item>
/// <item>Local folder store vs cp (write) and cat (read).</item>
/// <item>Listing 10,000 blobs through the Azure client (pages of 5000) and the local store.</item>
/// </list>
/// Options: --size-mb N (default 512), --blobs N (default 10000), --repeat N (rounds, default 5; each figure is
/// the median over rounds, each ratio the median of the rounds' paired ratios), --quick (64 MB, 2,000 blobs, 3 rounds).
/// </summary>
public static class StorageBench
{
    const string Curl = "/usr/bin/curl";
    const string Container = "bench";
    const string ListContainer = "listing";
    const ulong Seed = 0x5EED_D8EA_3E55;
    const double MiB = 1 << 20;

    sealed record Settings(long SizeBytes, int Blobs, int Repeat, bool Quick)
    {
        /// <summary>Rounds of the local and listing measures: quick and steady, three are plenty.</summary>
        public int LocalRepeat => Math.Min(Repeat, 3);
    }

    public static async Task<int> RunAsync(string[] args)
    {
        Settings settings;
        try { settings = Parse(args); }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"bench storage: {e.Message}");
            Console.Error.WriteLine("usage: ./dreamer bench storage [--size-mb N] [--blobs N] [--repeat N] [--quick]");
            return 2;
        }
        if (!File.Exists(Curl))
        {
            Console.Error.WriteLine($"bench storage: {Curl} is missing (apt-get install curl)");
            return 1;
        }

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        var work = Directory.CreateTempSubdirectory("dreamer-storage-bench-").FullName;
        AzuriteProcess? azurite = null;
        try
        {
            var report = new BenchReport(FormattableString.Invariant(
                $"storage: {settings.SizeBytes / MiB:0} MiB artifact, {settings.Blobs:N0} blobs; medians of {settings.Repeat} alternating rounds ({settings.LocalRepeat} local)"));
            report.Columns("measure", "ours", "peer", "ours/peer", "ours | peer");

            Log("preparing the source file and curl's block files...");
            var options = new AzureBlobStoreOptions();
            var source = Path.Combine(work, "source.bin");
            var blockFiles = await WriteSourceAsync(source, Path.Combine(work, "blocks"), settings.SizeBytes, options.BlockSize, cancel.Token);

            Log("starting Azurite...");
            azurite = await AzuriteProcess.StartAsync(ct: cancel.Token);
            await AzureSectionAsync(report, azurite, options, settings, work, blockFiles, cancel.Token);
            await LocalSectionAsync(report, settings, work, source, cancel.Token);
            await ListingSectionAsync(report, azurite, settings, work, cancel.Token);

            if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 150);
            report.Print();
            return 0;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine("bench storage: cancelled");
            return 130;
        }
        catch (Exception e) when (e is BlobStoreException or InvalidOperationException or IOException)
        {
            Console.Error.WriteLine($"bench storage: {e.Message}");
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            if (azurite != null) await azurite.DisposeAsync();
            try { Directory.Delete(work, recursive: true); }
            catch (IOException e) { Console.Error.WriteLine($"bench storage: could not delete {work}: {e.Message}"); }
        }
    }

    static Settings Parse(string[] args)
    {
        long sizeMb = 512;
        int blobs = 10_000, repeat = 5;
        bool quick = false, sizeGiven = false, blobsGiven = false, repeatGiven = false;
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Positive(string name, string text) => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0
                ? v : throw new ArgumentException($"{name} must be a positive integer, not '{text}'");
            switch (args[i])
            {
                case "--size-mb": sizeMb = Positive("--size-mb", Value()); sizeGiven = true; break;
                case "--blobs": blobs = Positive("--blobs", Value()); blobsGiven = true; break;
                case "--repeat": repeat = Positive("--repeat", Value()); repeatGiven = true; break;
                case "--quick": quick = true; break;
                default: throw new ArgumentException($"unknown option '{args[i]}'");
            }
        }
        if (quick)
        {
            if (!sizeGiven) sizeMb = 64;
            if (!blobsGiven) blobs = 2_000;
            if (!repeatGiven) repeat = 3;
        }
        return new Settings(sizeMb << 20, blobs, repeat, quick);
    }

    static void Log(string line) => Console.Error.WriteLine($"bench storage: {line}");

    // ------------------------------------------------------------------ Azurite: ours vs curl

    static async Task AzureSectionAsync(BenchReport report, AzuriteProcess azurite, AzureBlobStoreOptions options,
        Settings settings, string work, IReadOnlyList<string> blockFiles, CancellationToken ct)
    {
        using var store = new AzureBlobStore(azurite.Account, Container, options);
        var size = settings.SizeBytes;
        // Container SAS for curl: read, create, write; signed by our account, so curl needs no Shared Key.
        var sas = azurite.Account.CreateServiceSas(Container, null, "rcw", DateTimeOffset.UtcNow.AddHours(2));
        var curl = new CurlPeer(azurite.BlobEndpoint, Container, sas, work);

        // Warm-up (untimed): JIT of our client, the container, and Azurite's own code paths for both clients.
        Log("warm-up...");
        var warmSize = (long)options.BlockSize * 2 * options.UploadParallelism + 4096;
        for (var i = 0; i < 2; i++)
        {
            await store.WriteAsync("warmup.bin", new GeneratedStream(Seed, warmSize), null, ct);
            await DrainAsync(await store.OpenReadAsync("warmup.bin", ct: ct), ct);
        }
        await curl.DownloadAsync("warmup.bin", warmSize, options.DownloadChunkSize, options.DownloadParallelism, ct);

        // Seconds per round; rounds alternate who goes first, so neither side always meets a fresher (or more
        // fragmented) Azurite, and each round's pair runs under about the same machine load.
        List<double> oursUp = [], curlUp = [], oursDown = [], curlDown = [];
        for (var round = 0; round < settings.Repeat; round++)
        {
            var oursFirst = round % 2 == 0;
            for (var turn = 0; turn < 2; turn++)
            {
                ct.ThrowIfCancellationRequested();
                if ((turn == 0) == oursFirst)
                    oursUp.Add(await TimeAsync(() => store.WriteAsync("ours.bin", new GeneratedStream(Seed, size), null, ct)));
                else
                    curlUp.Add(await TimeAsync(() => curl.UploadAsync("curl.bin", blockFiles, options.UploadParallelism, ct)));
            }
            await VerifyAsync(store, "ours.bin", size, ct);
            await VerifyAsync(store, "curl.bin", size, ct);

            for (var turn = 0; turn < 2; turn++)
            {
                ct.ThrowIfCancellationRequested();
                if ((turn == 0) == oursFirst)
                {
                    long read = 0;
                    oursDown.Add(await TimeAsync(async () => read = await DrainAsync(await store.OpenReadAsync("ours.bin", ct: ct), ct)));
                    if (read != size) throw new InvalidOperationException($"our download read {read} of {size} bytes");
                }
                else
                    curlDown.Add(await TimeAsync(() => curl.DownloadAsync("ours.bin", size, options.DownloadChunkSize,
                        options.DownloadParallelism, ct)));
            }
            Log(FormattableString.Invariant(
                $"round {round + 1}: upload ours {size / MiB / oursUp[^1]:0} curl {size / MiB / curlUp[^1]:0} MiB/s, download ours {size / MiB / oursDown[^1]:0} curl {size / MiB / curlDown[^1]:0} MiB/s"));
        }

        var mb = size / MiB;
        // The ratio of each round's pair, then the median over rounds: robust to load that comes and goes.
        var upRatio = Median(oursUp.Zip(curlUp, (ours, peer) => peer / ours));
        var downRatio = Median(oursDown.Zip(curlDown, (ours, peer) => peer / ours));
        var blocks = (size + options.BlockSize - 1) / options.BlockSize;
        report.Row($"Azurite upload {mb:0} MiB (MiB/s)", F(mb / Median(oursUp)), F(mb / Median(curlUp)), R(upRatio),
            $"AzureBlobStore.WriteAsync from a generator: {blocks} × {options.BlockSize / MiB:0} MiB Put Block with Content-MD5, " +
            $"{options.UploadParallelism} in flight, Shared Key; Put Block List" +
            $" | {options.UploadParallelism} curl processes: Put Block -T of the same blocks from files, no MD5, SAS; Put Block List");
        report.Row($"Azurite download {mb:0} MiB (MiB/s)", F(mb / Median(oursDown)), F(mb / Median(curlDown)), R(downRatio),
            $"OpenReadAsync: {options.DownloadChunkSize / MiB:0} MiB ranged GETs, {options.DownloadParallelism} ahead, to Stream.Null" +
            $" | {options.DownloadParallelism} curl processes: the same ranged GETs (-r) to /dev/null, SAS");
        if (store.Statistics.Retries > 0)
            report.Row("Azurite retries (ours)", store.Statistics.Retries.ToString(CultureInfo.InvariantCulture), "-", "-",
                $"of {store.Statistics.Attempts} requests");
        report.Goal("storage_upload_ratio_vs_curl", upRatio, ">=0.8");
        report.Goal("storage_download_ratio_vs_curl", downRatio, ">=0.8");
    }

    /// <summary>Checks the length and one range of a stored artifact against the generator (cheap, untimed).</summary>
    static async Task VerifyAsync(IBlobStore store, string path, long size, CancellationToken ct)
    {
        var properties = await store.GetPropertiesAsync(path, ct)
                         ?? throw new InvalidOperationException($"{path} is missing after its upload");
        if (properties.Length != size) throw new InvalidOperationException($"{path} has {properties.Length} bytes, expected {size}");
        var probe = new byte[Math.Min(1 << 20, size)];
        var offset = Math.Max(0, Math.Min(size / 3 + 5, size - probe.Length)); // unaligned on purpose
        var n = await store.ReadRangeAsync(path, offset, probe, ct);
        var expected = new byte[probe.Length];
        GeneratedStream.Fill(Seed, offset, expected);
        if (n != probe.Length || !probe.AsSpan().SequenceEqual(expected))
            throw new InvalidOperationException($"{path}: the bytes at {offset} differ from what was uploaded");
    }

    // ------------------------------------------------------------------ local store vs cp / cat

    static async Task LocalSectionAsync(BenchReport report, Settings settings, string work, string source, CancellationToken ct)
    {
        var size = settings.SizeBytes;
        var mb = size / MiB;
        using var durable = new LocalFolderStore(Path.Combine(work, "local-durable"));
        using var fast = new LocalFolderStore(Path.Combine(work, "local-fast"), new LocalFolderStoreOptions { Durable = false });
        var copies = Directory.CreateDirectory(Path.Combine(work, "cp")).FullName;
        var copy = Path.Combine(copies, "artifact.bin");

        // Warm-up (untimed) with a small file.
        await fast.WriteAsync("warmup.bin", new GeneratedStream(Seed, 1 << 20), null, ct);
        await DrainAsync(await fast.OpenReadAsync("warmup.bin", ct: ct), ct);

        List<double> oursDurable = [], cpSync = [], oursFast = [], cp = [], oursRead = [], cat = [];
        for (var round = 0; round < settings.LocalRepeat; round++)
        {
            Log($"round {round + 1}: local store vs cp...");
            oursDurable.Add(await TimeAsync(async () =>
            {
                await using var input = OpenSource(source);
                await durable.WriteAsync("artifact.bin", input, null, ct);
            }));
            File.Delete(copy);
            cpSync.Add(await TimeAsync(() => Shell("cp \"$1\" \"$2\" && sync \"$2\"", ct, source, copy)));
            File.Delete(copy);
            oursFast.Add(await TimeAsync(async () =>
            {
                await using var input = OpenSource(source);
                await fast.WriteAsync("artifact.bin", input, null, ct);
            }));
            cp.Add(await TimeAsync(() => Shell("cp \"$1\" \"$2\"", ct, source, copy)));

            long read = 0;
            oursRead.Add(await TimeAsync(async () => read = await DrainAsync(await fast.OpenReadAsync("artifact.bin", ct: ct), ct)));
            if (read != size) throw new InvalidOperationException($"local read {read} of {size} bytes");
            cat.Add(await TimeAsync(() => Shell("cat \"$1\" > /dev/null", ct, copy)));
        }
        await VerifyAsync(durable, "artifact.bin", size, ct);

        static double PairedRatio(List<double> ours, List<double> peer) => Median(ours.Zip(peer, (o, p) => p / o));
        report.Row($"local write {mb:0} MiB, durable (MiB/s)", F(mb / Median(oursDurable)), F(mb / Median(cpSync)),
            R(PairedRatio(oursDurable, cpSync)), "LocalFolderStore.WriteAsync from a FileStream: temp file, fsync, rename | cp source dest && sync dest");
        report.Row($"local write {mb:0} MiB, no fsync (MiB/s)", F(mb / Median(oursFast)), F(mb / Median(cp)),
            R(PairedRatio(oursFast, cp)), "the same with Durable = false | cp source dest");
        report.Row($"local read {mb:0} MiB (MiB/s)", F(mb / Median(oursRead)), F(mb / Median(cat)),
            R(PairedRatio(oursRead, cat)), "OpenReadAsync to Stream.Null (page cache) | cat dest > /dev/null (page cache)");
    }

    static FileStream OpenSource(string path)
        => new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);

    // ------------------------------------------------------------------ listing

    static async Task ListingSectionAsync(BenchReport report, AzuriteProcess azurite, Settings settings, string work, CancellationToken ct)
    {
        var count = settings.Blobs;
        using var azure = new AzureBlobStore(azurite.Account, ListContainer);
        using var local = new LocalFolderStore(Path.Combine(work, "local-listing"), new LocalFolderStoreOptions { Durable = false });
        Log($"creating {count:N0} blobs in Azurite and in the local store...");
        var payload = new byte[16];
        var createSeconds = await TimeAsync(() => Parallel.ForEachAsync(Enumerable.Range(0, count),
            new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct },
            async (i, token) => await azure.WriteBytesAsync(BlobName(i), payload, null, token)));
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct },
            async (i, token) => await local.WriteBytesAsync(BlobName(i), payload, null, token));

        List<double> azureTimes = [], localTimes = [];
        int azurePages = 0, localPages = 0;
        for (var round = 0; round < settings.LocalRepeat; round++)
        {
            Log($"round {round + 1}: listing...");
            (int Blobs, int Pages) azureListed = default, localListed = default;
            azureTimes.Add(await TimeAsync(async () => azureListed = await ListAsync(azure, ct)));
            localTimes.Add(await TimeAsync(async () => localListed = await ListAsync(local, ct)));
            if (azureListed.Blobs != count || localListed.Blobs != count)
                throw new InvalidOperationException($"listed {azureListed.Blobs} (Azure) and {localListed.Blobs} (local) of {count} blobs");
            (azurePages, localPages) = (azureListed.Pages, localListed.Pages);
        }

        double azureTime = Median(azureTimes), localTime = Median(localTimes);
        report.Row($"list {count:N0} blobs, Azurite (blobs/s)", F(count / azureTime), "-", "-",
            $"AzureBlobStore.ListPageAsync: {azurePages} pages of ≤5000, {azureTime * 1000:0} ms " +
            $"(creating them: {createSeconds:0} s, {count / createSeconds:0} Put Blob/s at 16 in flight)");
        report.Row($"list {count:N0} blobs, local (blobs/s)", F(count / localTime), "-", "-",
            $"LocalFolderStore.ListPageAsync: {localPages} pages of ≤5000, {localTime * 1000:0} ms");
    }

    static string BlobName(int i) => string.Create(CultureInfo.InvariantCulture, $"runs/r1/part-{i:D6}.bin");

    static async Task<(int Blobs, int Pages)> ListAsync(IBlobStore store, CancellationToken ct)
    {
        int blobs = 0, pages = 0;
        string? continuation = null;
        do
        {
            var page = await store.ListPageAsync("runs/", null, continuation, 5000, ct);
            pages++;
            blobs += page.Blobs.Count;
            continuation = page.Continuation;
        } while (continuation != null);
        return (blobs, pages);
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>Writes the generator's bytes once as the whole source file and once as curl's block files.</summary>
    static async Task<IReadOnlyList<string>> WriteSourceAsync(string source, string blockDir, long size, int blockSize, CancellationToken ct)
    {
        Directory.CreateDirectory(blockDir);
        var files = new List<string>();
        var buffer = new byte[blockSize];
        using var generator = new GeneratedStream(Seed, size);
        await using var whole = new FileStream(source, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous);
        for (var index = 0; ; index++)
        {
            var n = generator.Read(buffer, 0, buffer.Length);
            if (n == 0) break;
            await whole.WriteAsync(buffer.AsMemory(0, n), ct);
            var file = Path.Combine(blockDir, index.ToString("D6", CultureInfo.InvariantCulture));
            await File.WriteAllBytesAsync(file, buffer.AsMemory(0, n), ct);
            files.Add(file);
        }
        return files;
    }

    static async Task<long> DrainAsync(Stream stream, CancellationToken ct)
    {
        await using (stream)
        {
            var buffer = new byte[1 << 20];
            long total = 0;
            int n;
            while ((n = await stream.ReadAsync(buffer, ct)) > 0) total += n;
            return total;
        }
    }

    static async Task<double> TimeAsync(Func<Task> action)
    {
        var watch = Stopwatch.StartNew();
        await action();
        return watch.Elapsed.TotalSeconds;
    }

    static Task Shell(string script, CancellationToken ct, params string[] args)
        => RunProcessAsync("/bin/sh", ["-c", script, "sh", .. args], ct);

    /// <summary>Runs a process to its end and returns its standard output; a non-zero exit raises with its standard error.</summary>
    static async Task<string> RunProcessAsync(string executable, IEnumerable<string> args, CancellationToken ct)
    {
        var info = new ProcessStartInfo(executable) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {executable}");
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try { await process.WaitForExitAsync(ct); }
        catch (OperationCanceledException)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw;
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(executable)} exited with {process.ExitCode}: {(await stderr).Trim()}");
        return await stdout;
    }

    static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        if (sorted.Count == 0) return double.NaN;
        var mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    static string F(double value) => value.ToString(value >= 100 ? "N0" : "0.0", CultureInfo.InvariantCulture);

    static string R(double value) => value.ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>curl doing the same Blob REST requests as our client, authenticated by a service SAS.</summary>
    sealed class CurlPeer(Uri endpoint, string container, string sas, string work)
    {
        int _batch;

        string Url(string blob, string query) =>
            $"{endpoint.AbsoluteUri.TrimEnd('/')}/{container}/{blob}?{(query.Length > 0 ? query + "&" : "")}{sas}";

        /// <summary>Put Block of each file, `parallel` curl processes each taking every parallel-th block, then Put Block List.</summary>
        public async Task UploadAsync(string blob, IReadOnlyList<string> blockFiles, int parallel, CancellationToken ct)
        {
            var prefix = Guid.NewGuid().ToString("N");
            var ids = blockFiles.Select((_, i) => Convert.ToBase64String(Encoding.ASCII.GetBytes($"{prefix}-{i:D6}"))).ToList();
            var transfers = blockFiles.Select((file, i) => new[]
            {
                $"upload-file = \"{file}\"",
                $"url = \"{Url(blob, "comp=block&blockid=" + Uri.EscapeDataString(ids[i]))}\"",
            }).ToList();
            var sent = await RunAsync(transfers, parallel, "%{size_upload}", ct);
            var expected = blockFiles.Sum(f => new FileInfo(f).Length);
            if (sent != expected) throw new InvalidOperationException($"curl uploaded {sent} of {expected} bytes");

            var list = new StringBuilder("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
            foreach (var id in ids) list.Append("<Latest>").Append(id).Append("</Latest>");
            var xml = Path.Combine(work, $"blocklist-{prefix}.xml");
            await File.WriteAllTextAsync(xml, list.Append("</BlockList>").ToString(), ct);
            await RunAsync([[
                "request = \"PUT\"",
                $"data-binary = \"@{xml}\"",
                "header = \"Content-Type: application/xml\"",
                $"url = \"{Url(blob, "comp=blocklist")}\"",
            ]], 1, "%{size_upload}", ct);
        }

        /// <summary>Ranged GETs of chunkSize to /dev/null, `parallel` curl processes each taking every parallel-th range.</summary>
        public async Task DownloadAsync(string blob, long size, int chunkSize, int parallel, CancellationToken ct)
        {
            var transfers = new List<string[]>();
            for (long offset = 0; offset < size; offset += chunkSize)
                transfers.Add([
                    $"range = \"{offset}-{Math.Min(size, offset + chunkSize) - 1}\"",
                    $"url = \"{Url(blob, "")}\"",
                ]);
            var received = await RunAsync(transfers, parallel, "%{size_download}", ct);
            if (received != size) throw new InvalidOperationException($"curl downloaded {received} of {size} bytes");
        }

        /// <summary>
        /// Runs the transfers in `parallel` curl processes (one keep-alive connection each), each process taking
        /// every parallel-th transfer in order, one config file (-K) per process so no SAS shows in a process list.
        /// Returns the sum of countVariable (curl's %{size_upload} or %{size_download}) over the transfers.
        /// </summary>
        async Task<long> RunAsync(IReadOnlyList<string[]> transfers, int parallel, string countVariable, CancellationToken ct)
        {
            var batch = Interlocked.Increment(ref _batch);
            var processes = Math.Min(parallel, transfers.Count);
            var runs = new List<Task<string>>();
            for (var p = 0; p < processes; p++)
            {
                var config = new StringBuilder();
                for (var i = p; i < transfers.Count; i += processes)
                {
                    if (config.Length > 0) config.AppendLine("next");
                    config.AppendLine("silent").AppendLine("show-error").AppendLine("fail")
                        .AppendLine($"header = \"x-ms-version: {AzureStorageAccount.ServiceVersion}\"")
                        .AppendLine("output = \"/dev/null\"")
                        .AppendLine($"write-out = \"{countVariable}\\n\"");
                    foreach (var line in transfers[i]) config.AppendLine(line);
                }
                var file = Path.Combine(work, $"curl-{batch}-{p}.cfg");
                await File.WriteAllTextAsync(file, config.ToString(), ct);
                runs.Add(RunProcessAsync(Curl, ["-K", file], ct));
            }
            // Each transfer prints its byte count: the sum proves curl moved every byte.
            return (await Task.WhenAll(runs)).SelectMany(output => output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                .Sum(line => long.Parse(line, CultureInfo.InvariantCulture));
        }
    }

    /// <summary>
    /// A read-only stream of deterministic pseudo-random bytes, generated as it is read: any size, no array
    /// behind it, and any range can be regenerated to check a download. Byte i is a fixed 1 MiB SplitMix64
    /// pattern XOR a SplitMix64 word of (seed, i / 1 MiB), so it costs about what a page-cache read does and the
    /// uploads measure the client, not the generator.
    /// </summary>
    sealed class GeneratedStream(ulong seed, long length) : Stream
    {
        const int PatternBits = 20;
        const int PatternMask = (1 << PatternBits) - 1;
        static readonly byte[] Pattern = BuildPattern();
        long _position;

        static byte[] BuildPattern()
        {
            var pattern = new byte[1 << PatternBits];
            var words = MemoryMarshal.Cast<byte, ulong>(pattern.AsSpan());
            for (var w = 0; w < words.Length; w++) words[w] = Word(0xC0FFEE, (ulong)w);
            return pattern;
        }

        public static void Fill(ulong seed, long position, Span<byte> destination)
        {
            while (!destination.IsEmpty)
            {
                var within = (int)(position & PatternMask);
                var n = Math.Min(destination.Length, PatternMask + 1 - within);
                var key = Word(seed, (ulong)(position >> PatternBits));
                var source = Pattern.AsSpan(within, n);
                var target = destination[..n];
                var i = 0;
                for (; i < n && ((within + i) & 7) != 0; i++) target[i] = (byte)(source[i] ^ KeyByte(key, within + i));
                var whole = (n - i) & ~7;
                var keyWord = BitConverter.IsLittleEndian ? key : BinaryPrimitives.ReverseEndianness(key);
                var from = MemoryMarshal.Cast<byte, ulong>(source.Slice(i, whole));
                var to = MemoryMarshal.Cast<byte, ulong>(target.Slice(i, whole));
                for (var w = 0; w < from.Length; w++) to[w] = from[w] ^ keyWord;
                for (i += whole; i < n; i++) target[i] = (byte)(source[i] ^ KeyByte(key, within + i));
                destination = destination[n..];
                position += n;
            }
        }

        static byte KeyByte(ulong key, int offset) => (byte)(key >> ((offset & 7) * 8));

        static ulong Word(ulong seed, ulong index)
        {
            var z = seed ^ index * 0x9E3779B97F4A7C15;
            z += 0x9E3779B97F4A7C15;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
            return z ^ (z >> 31);
        }

        public override int Read(Span<byte> buffer)
        {
            var n = (int)Math.Min(buffer.Length, length - _position);
            Fill(seed, _position, buffer[..n]);
            _position += n;
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => new(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct)
            => Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
