using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dreamer.WorldModel;

namespace Dreamer.Cli;

/// <summary>
/// The HTTP side of `dreamer play`: serves the play page and steps one <see cref="IInteractiveWorld"/>
/// on 127.0.0.1 only. Requests may arrive concurrently (several tabs, a script), but the world sees one
/// Reset or Step at a time. The server does not dispose the world: its creator does, after disposing the server.
/// <code>
/// GET  /            the page
/// GET  /info        {width, height, actions, contexts, keymap, defaultAction, frame}
/// GET  /frame       the current frame (resets to context 0 first if nothing was played yet)
/// POST /reset       {"context": i}        → frame
/// POST /step        {"action": [doubles]} → frame
/// </code>
/// Frames are PNG (image/png), or raw RGB24 with <c>?format=rgb</c>; headers X-Play-Frame (a counter over
/// every frame this server produced), X-Play-Step (steps since the last reset), X-Play-Context,
/// X-Play-Sha256 (of the RGB bytes) and X-Play-Millis (time the world took) tell frames apart.
/// </summary>
public sealed class PlayServer : IAsyncDisposable
{
    private const int MaxBodyBytes = 64 * 1024;
    // Messages and labels stay readable ("it's", "←") in curl; every response is JSON or binary, never HTML.
    private static readonly JsonSerializerOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly IInteractiveWorld _world;
    private readonly HttpListener _listener;
    private readonly Action<string> _log;
    private readonly byte[] _page;
    private readonly byte[] _info;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<Task> _handlers = [];
    private readonly Task _acceptLoop;
    private int _disposed;

    // The world's current state, guarded by _gate.
    private Frame? _current;
    private long _frames;

    private sealed record Frame(byte[] Rgb, long Serial, int Step, int Context, string Sha256, double Millis);

    private sealed record Reply(int Status, string ContentType, byte[] Body, Frame? Frame = null, string? Allow = null)
    {
        public static Reply Json(int status, JsonNode node) => new(status, "application/json; charset=utf-8", Encoding.UTF8.GetBytes(node.ToJsonString(JsonOptions)));
        public static Reply Error(int status, string message) => Json(status, new JsonObject { ["error"] = message });
    }

    /// <summary>A request the client got wrong: answered with the status (400 unless said) and the message.</summary>
    private sealed class BadRequestException(string message, int status = 400, string? allow = null) : Exception(message)
    {
        public int Status { get; } = status;
        /// <summary>For 405: the method the endpoint takes.</summary>
        public string? Allow { get; } = allow;
    }

    public int Port { get; }
    /// <summary>The page's address, e.g. http://127.0.0.1:43117/.</summary>
    public Uri Url { get; }
    public PlayKeymap Keymap { get; }

    private PlayServer(IInteractiveWorld world, HttpListener listener, int port, Action<string> log)
    {
        _world = world;
        _listener = listener;
        _log = log;
        Port = port;
        Url = new Uri($"http://127.0.0.1:{port}/");
        Keymap = PlayKeymap.Build(world.Actions);
        _page = Encoding.UTF8.GetBytes(PlayPage.Html);
        var info = Keymap.ToJson();
        info["width"] = world.Width;
        info["height"] = world.Height;
        info["contexts"] = new JsonArray(world.Contexts.Select(c => (JsonNode)JsonValue.Create(c)).ToArray());
        _info = Encoding.UTF8.GetBytes(info.ToJsonString(JsonOptions));
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Binds 127.0.0.1:<paramref name="port"/> (0: a free port) and starts serving.</summary>
    /// <param name="log">one line per event (start, resets, errors); default: stderr</param>
    public static PlayServer Start(IInteractiveWorld world, int port = 0, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(world);
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);
        if (world.Width <= 0 || world.Height <= 0) throw new ArgumentException($"world has no frame size ({world.Width}x{world.Height})", nameof(world));
        log ??= line => Console.Error.WriteLine($"play: {line}");

        // HttpListener cannot bind port 0, so ask the OS for a free port first; another process may grab it
        // in between, hence a few attempts.
        for (var attempt = 1; ; attempt++)
        {
            var chosen = port != 0 ? port : FreePort();
            var listener = new HttpListener { IgnoreWriteExceptions = true };
            listener.Prefixes.Add($"http://127.0.0.1:{chosen}/");
            try
            {
                listener.Start();
                var server = new PlayServer(world, listener, chosen, log);
                log($"serving {world.Width}x{world.Height} world, {world.Contexts.Count} contexts, {server.Keymap.Bindings.Count} key bindings at {server.Url}");
                return server;
            }
            catch (HttpListenerException e) when (port == 0 && attempt < 10)
            {
                listener.Close();
                log($"port {chosen} was taken ({e.Message}); trying another");
            }
            catch
            {
                listener.Close();
                throw;
            }
        }
    }

    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        try { return ((IPEndPoint)probe.LocalEndpoint).Port; }
        finally { probe.Stop(); }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (_stopping.IsCancellationRequested || !_listener.IsListening)
            {
                break;
            }
            catch (Exception e)
            {
                // A failed accept (client reset mid-handshake) is not a reason to stop serving.
                _log($"accept failed: {e.Message}");
                continue;
            }
            var handler = Task.Run(() => HandleAsync(context));
            lock (_handlers) _handlers.Add(handler);
            _ = handler.ContinueWith(t => { lock (_handlers) _handlers.Remove(t); }, TaskScheduler.Default);
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        Reply reply;
        try
        {
            reply = await RouteAsync(request);
        }
        catch (BadRequestException e)
        {
            reply = Reply.Error(e.Status, e.Message) with { Allow = e.Allow };
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            reply = Reply.Error(503, "the play server is shutting down");
        }
        catch (Exception e)
        {
            reply = Reply.Error(500, $"{e.GetType().Name}: {e.Message}");
        }
        if (reply.Status >= 400)
            _log($"{request.HttpMethod} {request.Url?.AbsolutePath} -> {reply.Status} {Encoding.UTF8.GetString(reply.Body)}");

        try
        {
            response.StatusCode = reply.Status;
            response.ContentType = reply.ContentType;
            response.Headers["Cache-Control"] = "no-store";
            if (reply.Allow != null) response.Headers["Allow"] = reply.Allow;
            if (reply.Frame is { } f)
            {
                response.Headers["X-Play-Frame"] = f.Serial.ToString(CultureInfo.InvariantCulture);
                response.Headers["X-Play-Step"] = f.Step.ToString(CultureInfo.InvariantCulture);
                response.Headers["X-Play-Context"] = f.Context.ToString(CultureInfo.InvariantCulture);
                response.Headers["X-Play-Sha256"] = f.Sha256;
                response.Headers["X-Play-Millis"] = f.Millis.ToString("0.###", CultureInfo.InvariantCulture);
            }
            response.ContentLength64 = reply.Body.Length;
            await response.OutputStream.WriteAsync(reply.Body);
            response.Close();
        }
        catch (Exception)
        {
            // The client went away (tab closed, shutdown): nothing left to tell it, and no reason to stop serving.
            try { response.Abort(); } catch (Exception) { }
        }
    }

    private async Task<Reply> RouteAsync(HttpListenerRequest request)
    {
        var path = request.Url?.AbsolutePath ?? "/";
        var method = request.HttpMethod;
        switch (path)
        {
            case "/" or "/index.html":
                RequireMethod(method, "GET");
                return new Reply(200, "text/html; charset=utf-8", _page);
            case "/favicon.ico":
                return new Reply(204, "image/x-icon", []);
            case "/info":
                RequireMethod(method, "GET");
                return new Reply(200, "application/json; charset=utf-8", _info);
            case "/frame":
            {
                RequireMethod(method, "GET");
                var format = Format(request);
                return FrameReply(await WithWorldAsync(() => _current ?? ResetWorld(0)), format);
            }
            case "/reset":
            {
                RequireMethod(method, "POST");
                var format = Format(request);
                var body = await ReadJsonAsync(request);
                var context = 0;
                if (body?["context"] is { } node)
                {
                    if (node is not JsonValue value || !value.TryGetValue<int>(out context))
                        throw new BadRequestException($"\"context\" must be an integer, got {node.ToJsonString()}");
                }
                var count = Math.Max(_world.Contexts.Count, 1);
                if (context < 0 || context >= count)
                    throw new BadRequestException($"context {context} is out of range: the world has {count} context(s), 0..{count - 1}");
                var frame = await WithWorldAsync(() => ResetWorld(context));
                _log($"reset to context {context}{(_world.Contexts.Count > 0 ? $" ({_world.Contexts[context]})" : "")}");
                return FrameReply(frame, format);
            }
            case "/step":
            {
                RequireMethod(method, "POST");
                var format = Format(request);
                var body = await ReadJsonAsync(request)
                    ?? throw new BadRequestException("expected a JSON body {\"action\": [numbers]}");
                if (body["action"] is not JsonArray array)
                    throw new BadRequestException($"expected {{\"action\": [{Keymap.DefaultAction.Count} numbers]}}, got {Truncate(body.ToJsonString())}");
                var action = new double[array.Count];
                for (var i = 0; i < array.Count; i++)
                    if (array[i] is not JsonValue v || !v.TryGetValue(out action[i]))
                        throw new BadRequestException($"action[{i}] must be a number, got {Truncate(array[i]?.ToJsonString() ?? "null")}");
                if (Keymap.Validate(action) is { } problem) throw new BadRequestException(problem);
                return FrameReply(await WithWorldAsync(() => StepWorld(action)), format);
            }
            default:
                return Reply.Error(404, $"no such endpoint: {path} (GET /, /info, /frame; POST /reset, /step)");
        }
    }

    private static void RequireMethod(string method, string expected)
    {
        if (method != expected) throw new BadRequestException($"use {expected} here, not {method}", 405, expected);
    }

    private static string Format(HttpListenerRequest request) => request.QueryString["format"] switch
    {
        null or "" or "png" => "png",
        "rgb" => "rgb",
        var other => throw new BadRequestException($"unknown format '{other}': use png (default) or rgb"),
    };

    private Reply FrameReply(Frame frame, string format) => format == "rgb"
        ? new Reply(200, "application/octet-stream", frame.Rgb, frame)
        : new Reply(200, "image/png", Png.EncodeRgb(frame.Rgb, _world.Width, _world.Height, System.IO.Compression.CompressionLevel.Fastest), frame);

    private static async Task<JsonNode?> ReadJsonAsync(HttpListenerRequest request)
    {
        if (request.ContentLength64 > MaxBodyBytes) throw new BadRequestException($"body too large ({request.ContentLength64} bytes, at most {MaxBodyBytes})");
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.InputStream.ReadAsync(chunk)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > MaxBodyBytes) throw new BadRequestException($"body too large (more than {MaxBodyBytes} bytes)");
        }
        if (buffer.Length == 0) return null;
        try
        {
            return JsonNode.Parse(buffer.ToArray()) as JsonObject
                ?? throw new BadRequestException("the body must be a JSON object");
        }
        catch (JsonException e)
        {
            throw new BadRequestException($"the body is not valid JSON: {e.Message}");
        }
    }

    /// <summary>Runs one world call at a time; a call waiting when the server stops is cancelled, the running one finishes.</summary>
    private async Task<Frame> WithWorldAsync(Func<Frame> call)
    {
        await _gate.WaitAsync(_stopping.Token);
        try
        {
            _stopping.Token.ThrowIfCancellationRequested();
            return call();
        }
        finally { _gate.Release(); }
    }

    private Frame ResetWorld(int context) => Record(() => _world.Reset(context), context, 0);

    private Frame StepWorld(double[] action)
    {
        var before = _current ?? ResetWorld(0);
        return Record(() => _world.Step(action), before.Context, before.Step + 1);
    }

    private Frame Record(Func<byte[]> call, int context, int step)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var rgb = call();
        var millis = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var expected = _world.Width * _world.Height * 3;
        if (rgb == null || rgb.Length != expected)
            throw new InvalidOperationException($"the world returned {rgb?.Length ?? 0} bytes, expected {expected} ({_world.Width}x{_world.Height} RGB)");
        // The world may reuse its buffer on the next call: keep a private copy.
        rgb = rgb.ToArray();
        _current = new Frame(rgb, ++_frames, step, context, Convert.ToHexStringLower(SHA256.HashData(rgb)), millis);
        return _current;
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "...";

    /// <summary>Stops accepting, cancels queued world calls, waits for the running one and for every response in flight.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _stopping.Cancel();
        try { _listener.Stop(); } catch (ObjectDisposedException) { }
        await _acceptLoop;
        Task[] pending;
        lock (_handlers) pending = _handlers.ToArray();
        await Task.WhenAll(pending);
        _listener.Close();
        _gate.Dispose();
        _stopping.Dispose();
        _log("stopped");
    }
}
