using System.Runtime.InteropServices;
using Dreamer.Artifacts;
using Dreamer.Storage;
using Microsoft.Extensions.Logging;

namespace Dreamer.Hosting;

/// <summary>Exit codes of every stage (DESIGN.md).</summary>
public static class ExitCodes
{
    public const int Done = 0;
    public const int BadInput = 2;
    public const int Infrastructure = 3;
    public const int Cancelled = 130;
}

/// <summary>What a stage body receives from the host.</summary>
public sealed class StageContext(string stage, StageOptions options, ILoggerFactory loggers, CancellationToken cancellation)
{
    public string Stage { get; } = stage;
    public StageOptions Options { get; } = options;
    public ILoggerFactory Loggers { get; } = loggers;
    public ILogger Log { get; } = loggers.CreateLogger(stage);
    /// <summary>Fires on SIGINT/SIGTERM: checkpoint, then throw OperationCanceledException.</summary>
    public CancellationToken Cancellation { get; } = cancellation;
}

/// <summary>The result line a stage prints last: the artifact id, or a JSON object with --json.</summary>
public sealed record StageResult(string ArtifactId, bool Reused, IReadOnlyDictionary<string, double>? Metrics = null);

/// <summary>
/// The common entry point of every stage executable: parses the stage contract's options, sets up
/// structured logging (stderr; stdout carries only the result), turns SIGINT/SIGTERM into cooperative
/// cancellation and maps failures to the contract's exit codes.
/// </summary>
public static class StageHost
{
    /// <summary>
    /// A stage that can plan: with --plan only the plan is computed and the decision printed as JSON
    /// (reuse or run, and why); otherwise a committed artifact is reused without running the body.
    /// </summary>
    public static Task<int> RunAsync(string stage, string[] args, Func<StageContext, Task<StagePlan>> plan,
        Func<StageContext, StagePlan, Task<StageResult>> run) =>
        RunAsync(stage, args, async ctx =>
        {
            var p = await plan(ctx).ConfigureAwait(false);
            using var store = BlobStores.Open(ctx.Options.Store);
            var decision = await StagePlanner.DecideAsync(store, stage, p, CodeVersion.ForThisProcess().Version, ctx.Cancellation).ConfigureAwait(false);
            if (ctx.Options.Plan)
            {
                Console.Out.WriteLine(decision.ToJson().ToJsonString());
                return null;
            }
            if (decision.Committed)
            {
                ctx.Log.LogInformation("artifact {ArtifactId} is already committed: reused", p.ArtifactId);
                return new StageResult(p.ArtifactId, Reused: true);
            }
            ctx.Log.LogInformation("producing {ArtifactId}: {Reasons}", p.ArtifactId, string.Join("; ", decision.Reasons));
            return await run(ctx, p).ConfigureAwait(false);
        });

    /// <summary>
    /// In process (tests, benchmarks): plan, then reuse a committed artifact (with its metrics) or run, as the
    /// executable does.
    /// </summary>
    public static async Task<StageResult> RunInProcessAsync(StageContext ctx, string stage, Func<StageContext, Task<StagePlan>> plan,
        Func<StageContext, StagePlan, Task<StageResult>> run)
    {
        var p = await plan(ctx).ConfigureAwait(false);
        using (var store = BlobStores.Open(ctx.Options.Store))
            if (await new ArtifactCatalog(store).TryGetAsync(stage, p.ArtifactId, ctx.Cancellation).ConfigureAwait(false) is { } existing)
                return new StageResult(p.ArtifactId, Reused: true, existing.Manifest.Metrics);
        return await run(ctx, p).ConfigureAwait(false);
    }

    public static async Task<int> RunAsync(string stage, string[] args, Func<StageContext, Task<StageResult?>> body)
    {
        StageOptions options;
        try
        {
            options = StageOptions.Parse(args);
        }
        catch (StageInputException e)
        {
            Console.Error.WriteLine($"{stage}: {e.Message}");
            return ExitCodes.BadInput;
        }

        using var loggers = CreateLoggers(options.Json);
        var log = loggers.CreateLogger(stage);
        using var cancel = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // keep running until the stage has checkpointed
            log.LogWarning("received {Signal}: stopping after the next checkpoint", context.Signal);
            cancel.Cancel();
        }

        try
        {
            var result = await body(new StageContext(stage, options, loggers, cancel.Token)).ConfigureAwait(false);
            if (result == null) return ExitCodes.Done; // --plan printed its decision
            Console.Out.WriteLine(options.Json
                ? System.Text.Json.JsonSerializer.Serialize(new { artifactId = result.ArtifactId, reused = result.Reused, metrics = result.Metrics })
                : result.ArtifactId);
            return ExitCodes.Done;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            log.LogWarning("cancelled after a clean checkpoint");
            return ExitCodes.Cancelled;
        }
        catch (Exception e) when (ClassifyInput(e))
        {
            log.LogError("bad input: {Message}", e.Message);
            return ExitCodes.BadInput;
        }
        catch (Exception e) when (ClassifyInfrastructure(e))
        {
            log.LogError(e, "infrastructure failure (safe to rerun): {Message}", e.Message);
            return ExitCodes.Infrastructure;
        }
    }

    private static bool ClassifyInput(Exception e) => e is StageInputException or ArgumentException or FormatException or InvalidDataException
        // A malformed store URI or a rejected key is a setting to fix, not a transient failure.
        or BlobStoreConfigurationException or BlobStoreAccessDeniedException;

    private static bool ClassifyInfrastructure(Exception e) =>
        e is BlobStoreException or IOException or HttpRequestException or TimeoutException or UnauthorizedAccessException;

    public static ILoggerFactory CreateLoggers(bool json) => LoggerFactory.Create(builder =>
    {
        builder.SetMinimumLevel(LogLevel.Information);
        if (json || Console.IsErrorRedirected)
            builder.AddJsonConsole(o =>
            {
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                o.UseUtcTimestamp = true;
            });
        else
            builder.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            });
        builder.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    });
}
