using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Dreamer.Parquet;
using Dreamer.Parquet.Benchmarks;
using Spectre.Console;

namespace Dreamer.Bench;

/// <summary>
/// `./dreamer bench parquet`: write and read a frames-like table (episode_id string, frame_index int32,
/// 12,288-byte image FIXED_LEN_BYTE_ARRAY, action int32, reward float; ZSTD) with our library and with
/// DuckDB (npm @duckdb/node-api in infra/tools), on the same data in the same run.
/// <list type="bullet">
/// <item>Ours writes the table from in-memory column batches; DuckDB writes the same rows from an in-memory
/// table loaded (untimed) from our file, with COPY ... (FORMAT parquet, COMPRESSION zstd), the same ZSTD level
/// and the same rows per row group.</item>
/// <item>Reads decode every column of every row group: ours into column batches, DuckDB through an aggregate
/// over every column. Both read both files; the GOAL compares the reads of our file.</item>
/// <item>Both sides run with the same thread count (--threads, default: all cores). Times are the best of --repeat,
/// after one untimed read of our file by each side.</item>
/// </list>
/// Options: --size-mb N (raw bytes, default 1024), --quick (128 MB), --threads N, --zstd-level N (default 1),
/// --repeat N (default 3: this VM's speed drifts by 10-20 % between runs a minute apart, and the best of three damps that on both sides).
/// </summary>
public static class ParquetBench
{
    private sealed record Settings(long RawBytes, int Threads, int ZstdLevel, int Repeat);

    public static async Task<int> RunAsync(string[] args)
    {
        Settings settings;
        try { settings = Parse(args); }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"bench parquet: {e.Message}");
            Console.Error.WriteLine("usage: ./dreamer bench parquet [--quick] [--size-mb N] [--threads N] [--zstd-level N] [--repeat N]");
            return 2;
        }
        var nodeModules = FindNodeModules();
        if (nodeModules == null)
        {
            Console.Error.WriteLine("bench parquet: DuckDB peer missing (infra/tools/node_modules/@duckdb/node-api); run ./dreamer setup");
            return 1;
        }

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        var work = Directory.CreateTempSubdirectory("dreamer-parquet-bench-").FullName;
        try
        {
            var ct = cancel.Token;
            string ours = Path.Combine(work, "ours.parquet"), duck = Path.Combine(work, "duckdb.parquet");
            var writeOptions = new ParquetWriterOptions
            {
                Compression = CompressionCodec.Zstd,
                ZstdLevel = settings.ZstdLevel,
                MaxDegreeOfParallelism = settings.Threads,
            };
            var readOptions = new ParquetReaderOptions { MaxDegreeOfParallelism = settings.Threads };

            Log($"writing and reading {settings.RawBytes / 1e6:F0} MB (raw) of frames, {settings.Threads} threads, zstd level {settings.ZstdLevel}, " +
                $"{settings.Repeat} rounds (ours and DuckDB alternate, best of each is kept)...");
            await using var peer = await DuckDbPeer.StartAsync(nodeModules, settings.Threads, ct);
            FramesWriteResult? write = null;
            Timing oursWrite = Timing.None, duckWrite = Timing.None, oursReadOurs = Timing.None, duckReadOurs = Timing.None;
            Timing oursReadDuck = Timing.None, duckReadDuck = Timing.None;
            long rowsPerGroup = 0, writerPeak = 0;
            int groups = 0;
            bool peakIsWriteOnly = false;
            for (int round = 0; round < settings.Repeat; round++)
            {
                var w = FramesBenchmark.Write(ours, settings.RawBytes, writeOptions, ct);
                write = w;
                oursWrite = oursWrite.Best(new Timing(w.Seconds, w.CpuSeconds));
                if (round == 0)
                {
                    // Later rounds start with the garbage of earlier reads in the process: only the first measures the writer.
                    (writerPeak, peakIsWriteOnly) = (w.PeakWorkingSetBytes, w.PeakIsWriteOnly);
                    using var r = await ParquetReader.OpenFileAsync(ours, ct: ct);
                    rowsPerGroup = r.Metadata.RowGroups[0].NumRows;
                    groups = r.RowGroupCount;
                    // DuckDB writes from memory: the same rows, loaded (untimed) from our file. That load also warms
                    // DuckDB's reader, so ours gets one untimed read too (JIT, first-touch pages of its buffers).
                    await peer.CallAsync(new JsonObject { ["op"] = "load", ["file"] = ours }, ct);
                    await ReadAsync(ours, readOptions, w.Rows, ct);
                }
                var dw = await peer.CallAsync(new JsonObject
                {
                    ["op"] = "write", ["file"] = duck, ["level"] = settings.ZstdLevel, ["rowGroupSize"] = rowsPerGroup,
                }, ct);
                duckWrite = duckWrite.Best(Timing.Of(dw));
                oursReadOurs = oursReadOurs.Best(await ReadAsync(ours, readOptions, w.Rows, ct));
                duckReadOurs = duckReadOurs.Best(await PeerReadAsync(peer, ours, w.Rows, ct));
                oursReadDuck = oursReadDuck.Best(await ReadAsync(duck, readOptions, w.Rows, ct));
                duckReadDuck = duckReadDuck.Best(await PeerReadAsync(peer, duck, w.Rows, ct));
                Log(FormattableString.Invariant(
                    $"  round {round + 1}: write ours {w.Seconds:F2} s, duckdb {(double)dw["seconds"]!:F2} s; best so far: write {oursWrite.Wall:F2}/{duckWrite.Wall:F2} s, read {oursReadOurs.Wall:F2}/{duckReadOurs.Wall:F2} s"));
            }
            long duckBytes = new FileInfo(duck).Length;
            if (write == null) throw new InvalidOperationException("no round ran");

            double raw = write.RawBytes / 1e6;
            string Mbps(Timing t) => FormattableString.Invariant($"{raw / t.Wall:F0} MB/s ({t.Wall:F2} s)");
            string Cpu(Timing t) => FormattableString.Invariant($"{t.Cpu:F2} s");
            string Ratio(double ours, double peer) => FormattableString.Invariant($"{peer / ours:F2}");

            var report = new BenchReport(FormattableString.Invariant(
                $"parquet: frames table, {raw:F0} MB raw, {write.Rows:N0} rows, {groups} row groups of {rowsPerGroup:N0} rows, zstd level {settings.ZstdLevel}, {settings.Threads} threads, best of {settings.Repeat}{LoadNote()}"));
            report.Columns("measure", "ours", "duckdb", "ours/duckdb (speed)");
            report.Row("write (raw MB/s, wall)", Mbps(oursWrite), Mbps(duckWrite), Ratio(oursWrite.Wall, duckWrite.Wall));
            report.Row("read our file (raw MB/s, wall)", Mbps(oursReadOurs), Mbps(duckReadOurs), Ratio(oursReadOurs.Wall, duckReadOurs.Wall));
            report.Row("read DuckDB's file (raw MB/s, wall)", Mbps(oursReadDuck), Mbps(duckReadDuck), Ratio(oursReadDuck.Wall, duckReadDuck.Wall));
            report.Row("write CPU time (all threads)", Cpu(oursWrite), Cpu(duckWrite), Ratio(oursWrite.Cpu, duckWrite.Cpu));
            report.Row("read our file CPU time", Cpu(oursReadOurs), Cpu(duckReadOurs), Ratio(oursReadOurs.Cpu, duckReadOurs.Cpu));
            report.Row("read DuckDB's file CPU time", Cpu(oursReadDuck), Cpu(duckReadDuck), Ratio(oursReadDuck.Cpu, duckReadDuck.Cpu));
            report.Row("file size (MB)", FormattableString.Invariant($"{write.FileBytes / 1e6:F0}"), FormattableString.Invariant($"{duckBytes / 1e6:F0}"), "");
            report.Row(peakIsWriteOnly ? "writer peak working set (MB)" : "process peak working set after write (MB)",
                FormattableString.Invariant($"{writerPeak / 1e6:F0}"), "", "");
            report.Goal("parquet_write_ratio_vs_duckdb", duckWrite.Wall / oursWrite.Wall, ">=1.0");
            report.Goal("parquet_read_ratio_vs_duckdb", duckReadOurs.Wall / oursReadOurs.Wall, ">=1.0");
            if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 150);
            report.Print();
            return 0;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine("bench parquet: cancelled");
            return 130;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Wall-clock and CPU seconds (all threads of the process) of one measured step; Best keeps the lower of each.</summary>
    private readonly record struct Timing(double Wall, double Cpu)
    {
        public static Timing None => new(double.MaxValue, double.MaxValue);
        public Timing Best(Timing other) => new(Math.Min(Wall, other.Wall), Math.Min(Cpu, other.Cpu));
        public static Timing Of(JsonObject reply) => new((double)reply["seconds"]!, (double)reply["cpu"]!);
    }

    private static async Task<Timing> ReadAsync(string path, ParquetReaderOptions options, long rows, CancellationToken ct)
    {
        var r = await FramesBenchmark.ReadAsync(path, options, ct);
        if (r.Rows != rows) throw new InvalidOperationException($"read {r.Rows} rows from {path}, expected {rows}");
        return new Timing(r.Seconds, r.CpuSeconds);
    }

    private static async Task<Timing> PeerReadAsync(DuckDbPeer peer, string path, long rows, CancellationToken ct)
    {
        var r = await peer.CallAsync(new JsonObject { ["op"] = "read", ["file"] = path }, ct);
        if ((long)r["rows"]! != rows) throw new InvalidOperationException($"DuckDB counted {r["rows"]} rows in {path}, expected {rows}");
        return Timing.Of(r);
    }

    private static Settings Parse(string[] args)
    {
        long raw = 1L << 30;
        int threads = Environment.ProcessorCount, level = 1, repeat = 3;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Int(string s, int min) => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= min
                ? v : throw new ArgumentException($"{args[i - 1]}: '{s}' is not an integer >= {min}");
            switch (args[i])
            {
                case "--quick": raw = 128L << 20; break;
                case "--size-mb": raw = (long)Int(Next(), 1) << 20; break;
                case "--threads": threads = Int(Next(), 1); break;
                case "--zstd-level": level = Int(Next(), 1); break;
                case "--repeat": repeat = Int(Next(), 1); break;
                default: throw new ArgumentException($"unknown option '{args[i]}'");
            }
        }
        return new Settings(raw, threads, level, repeat);
    }

    private static string? FindNodeModules()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "infra", "tools", "node_modules");
                if (Directory.Exists(Path.Combine(candidate, "@duckdb", "node-api"))) return candidate;
            }
        return null;
    }

    private static void Log(string message) => Console.Error.WriteLine(message);

    // Other work on the machine slows both sides; the load average says how much there was.
    private static string LoadNote()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return $", load average {parts[0]} on {Environment.ProcessorCount} cores";
        }
        catch (IOException) { return ""; }
        catch (UnauthorizedAccessException) { return ""; }
    }

    /// <summary>
    /// DuckDB in a node process that stays up for the whole run and takes one JSON command per line, so its runs
    /// interleave with ours (the same machine load for both) and its start-up is paid once. Each command's time is
    /// taken inside node around the statement alone.
    /// </summary>
    private sealed class DuckDbPeer : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly string _script;
        private readonly Task<string> _stderr;

        private DuckDbPeer(Process process, string script)
        {
            _process = process;
            _script = script;
            _stderr = process.StandardError.ReadToEndAsync();
        }

        public static async Task<DuckDbPeer> StartAsync(string nodeModules, int threads, CancellationToken ct)
        {
            var script = Path.Combine(Path.GetTempPath(), $"dreamer-parquet-bench-{Environment.ProcessId}.mjs");
            await File.WriteAllTextAsync(script, Script, ct);
            var psi = new ProcessStartInfo("node")
            {
                RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            psi.ArgumentList.Add(script);
            psi.ArgumentList.Add(nodeModules);
            psi.ArgumentList.Add(threads.ToString(CultureInfo.InvariantCulture));
            var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start node");
            return new DuckDbPeer(process, script);
        }

        public async Task<JsonObject> CallAsync(JsonObject command, CancellationToken ct)
        {
            await _process.StandardInput.WriteLineAsync(command.ToJsonString().AsMemory(), ct);
            await _process.StandardInput.FlushAsync(ct);
            var line = await _process.StandardOutput.ReadLineAsync(ct);
            if (line == null)
            {
                await _process.WaitForExitAsync(ct);
                throw new InvalidOperationException($"DuckDB peer exited {_process.ExitCode}: {await _stderr}");
            }
            var reply = JsonNode.Parse(line)!.AsObject();
            if (reply["error"] is { } error) throw new InvalidOperationException($"DuckDB peer: {error}");
            return reply;
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                _process.StandardInput.Close();
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try { await _process.WaitForExitAsync(wait.Token); }
                catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); }
            }
            finally
            {
                _process.Dispose();
                File.Delete(_script);
            }
        }

        private const string Script = """
            import { createRequire } from 'node:module';
            import path from 'node:path';
            import readline from 'node:readline';
            const require = createRequire(path.join(path.resolve(process.argv[2]), 'noop.js'));
            const duck = require('@duckdb/node-api');
            const instance = await duck.DuckDBInstance.create(':memory:', { threads: process.argv[3] });
            const conn = await instance.connect();
            const q = s => "'" + s.replace(/'/g, "''") + "'";
            // Wall seconds and CPU seconds of the whole process (DuckDB's threads included) around one statement.
            async function timed(sql) {
              const cpu = process.cpuUsage();
              const start = performance.now();
              const reader = await conn.runAndReadAll(sql);
              const wall = (performance.now() - start) / 1000;
              const used = process.cpuUsage(cpu);
              return [wall, reader, (used.user + used.system) / 1e6];
            }
            for await (const line of readline.createInterface({ input: process.stdin })) {
              if (!line.trim()) continue;
              const cmd = JSON.parse(line);
              let reply;
              try {
                if (cmd.op === 'load') {
                  await conn.run('DROP TABLE IF EXISTS frames');
                  const [seconds] = await timed(`CREATE TABLE frames AS SELECT * FROM read_parquet(${q(cmd.file)})`);
                  reply = { seconds };
                } else if (cmd.op === 'write') {
                  const [seconds, , cpu] = await timed(`COPY frames TO ${q(cmd.file)} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL ${cmd.level}, ROW_GROUP_SIZE ${cmd.rowGroupSize})`);
                  reply = { seconds, cpu };
                } else if (cmd.op === 'read') {
                  // Every column of every row is decoded; the aggregates themselves are cheap.
                  const [seconds, reader, cpu] = await timed(`SELECT count(*), max(episode_id), sum(frame_index), max(octet_length(image)), sum(action), sum(reward) FROM read_parquet(${q(cmd.file)})`);
                  reply = { seconds, cpu, rows: Number(reader.getRows()[0][0]) };
                } else if (cmd.op === 'sql') {
                  const [seconds, reader] = await timed(cmd.sql);
                  reply = { seconds, rows: reader.getRows().map(r => r.map(v => typeof v === 'bigint' ? Number(v) : (v === null ? null : (typeof v === 'object' ? String(v) : v)))) };
                } else reply = { error: 'unknown op ' + cmd.op };
              } catch (e) {
                reply = { error: String(e && e.message || e) };
              }
              process.stdout.write(JSON.stringify(reply) + '\n');
            }
            """;
    }
}
