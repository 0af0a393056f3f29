using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Dreamer.Cli;
using Dreamer.WorldModel;
using Xunit.Abstractions;

namespace Dreamer.Pipeline.Tests;

/// <summary>
/// `dreamer play`: the HTTP API, the key mapping, the command, and the page itself driven by real key
/// presses in headless Chromium. <see cref="PlayChecks.AssertKeysDriveFrames"/> takes any world, so the trained
/// world model can be played through the same checks.
/// </summary>
public sealed class PlayTests(ITestOutputHelper output)
{
    private static readonly TimeSpan HttpTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Http_api_serves_info_and_frames_and_answers_bad_requests_with_400()
    {
        using var world = new ProceduralWorld();
        await using var server = PlayServer.Start(world, 0, output.WriteLine);
        using var http = new HttpClient { BaseAddress = server.Url, Timeout = HttpTimeout };

        var info = JsonNode.Parse(await http.GetStringAsync("/info"))!;
        Assert.Equal(64, info["width"]!.GetValue<int>());
        Assert.Equal(64, info["height"]!.GetValue<int>());
        Assert.Equal(["centre", "top-left", "bottom-right"], info["contexts"]!.AsArray().Select(c => c!.GetValue<string>()));
        var action = info["actions"]!.AsArray().Single()!;
        Assert.Equal("categorical", action["kind"]!.GetValue<string>());
        Assert.Equal(1, action["columns"]!.GetValue<int>());
        Assert.Contains("move_left", action["labels"]!.AsArray().Select(l => l!.GetValue<string>()));
        Assert.Contains(info["keymap"]!.AsArray(), b => b!["key"]!.GetValue<string>() == "ArrowLeft" && b["value"]!.GetValue<double>() == 1);

        var page = await http.GetStringAsync("/");
        Assert.Contains("image-rendering: pixelated", page);
        Assert.Contains("window.playState", page);

        // Bad requests: a clear 4xx, and the server keeps serving.
        await AssertError(HttpMethod.Post, "/step", "not json", HttpStatusCode.BadRequest, "not valid JSON");
        await AssertError(HttpMethod.Post, "/step", "", HttpStatusCode.BadRequest, "expected a JSON body");
        await AssertError(HttpMethod.Post, "/step", """{"act": [1]}""", HttpStatusCode.BadRequest, "\"action\"");
        await AssertError(HttpMethod.Post, "/step", """{"action": [1, 2]}""", HttpStatusCode.BadRequest, "1 columns");
        await AssertError(HttpMethod.Post, "/step", """{"action": [9]}""", HttpStatusCode.BadRequest, "class index in 0..5");
        await AssertError(HttpMethod.Post, "/step", """{"action": [1.5]}""", HttpStatusCode.BadRequest, "class index");
        await AssertError(HttpMethod.Post, "/step", """{"action": ["left"]}""", HttpStatusCode.BadRequest, "must be a number");
        await AssertError(HttpMethod.Post, "/step", """[1]""", HttpStatusCode.BadRequest, "JSON object");
        await AssertError(HttpMethod.Post, "/reset", """{"context": 3}""", HttpStatusCode.BadRequest, "out of range");
        await AssertError(HttpMethod.Post, "/reset", """{"context": "a"}""", HttpStatusCode.BadRequest, "integer");
        await AssertError(HttpMethod.Post, "/step?format=gif", """{"action": [1]}""", HttpStatusCode.BadRequest, "unknown format");
        await AssertError(HttpMethod.Get, "/step", null, HttpStatusCode.MethodNotAllowed, "use POST");
        await AssertError(HttpMethod.Get, "/nowhere", null, HttpStatusCode.NotFound, "no such endpoint");

        var reset = await PostFrameAsync(http, "/reset?format=rgb", """{"context": 1}""");
        Assert.Equal(64 * 64 * 3, reset.Body.Length);
        Assert.Equal((0, 1), (reset.Step, reset.Context));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(reset.Body)), reset.Sha256);

        var right = await PostFrameAsync(http, "/step?format=rgb", """{"action": [2]}""");
        Assert.Equal(64 * 64 * 3, right.Body.Length);
        Assert.Equal(1, right.Step);
        Assert.Equal(reset.Serial + 1, right.Serial);
        Assert.NotEqual(reset.Sha256, right.Sha256);

        // PNG by default: it decodes to exactly the RGB bytes the world made.
        var png = await PostFrameAsync(http, "/step", """{"action": [2]}""");
        Assert.Equal("image/png", png.ContentType);
        var (width, height, rgb) = DecodePng(png.Body);
        Assert.Equal((64, 64), (width, height));
        using var replay = new ProceduralWorld();
        replay.Reset(1);
        replay.Step([2]);
        Assert.Equal(replay.Step([2]), rgb);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(rgb)), png.Sha256);

        // Concurrent requests are served one world step at a time: every step number appears exactly once.
        var parallel = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => PostFrameAsync(http, "/step?format=rgb", """{"action": [0]}""")));
        Assert.Equal(Enumerable.Range(3, 16), parallel.Select(f => f.Step).Order());

        async Task AssertError(HttpMethod method, string path, string? body, HttpStatusCode status, string fragment)
        {
            using var request = new HttpRequestMessage(method, path);
            if (body != null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"{method} {path} {body}: expected {(int)status}, got {(int)response.StatusCode} {text}");
            Assert.Contains(fragment, JsonNode.Parse(text)!["error"]!.GetValue<string>());
        }
    }

    [Fact]
    public void Keymap_follows_the_labels_of_any_action_space()
    {
        using var procedural = new ProceduralWorld();
        var keys = PlayKeymap.Build(procedural.Actions);
        Assert.Equal([0.0], keys.DefaultAction);
        Assert.Equal([1.0], keys.ActionFor("ArrowLeft"));
        Assert.Equal([1.0], keys.ActionFor("a"));
        Assert.Equal([2.0], keys.ActionFor("ArrowRight"));
        Assert.Equal([3.0], keys.ActionFor("w"));
        Assert.Equal([4.0], keys.ActionFor("ArrowDown"));
        Assert.Equal([5.0], keys.ActionFor(" "));
        Assert.Equal([5.0], keys.ActionFor("5"));
        Assert.Equal([4.0], keys.ActionFor("ArrowLeft", "s")); // the last key pressed wins
        Assert.DoesNotContain(keys.Bindings, b => b.Label == "noop");

        // The built-in game's 17 classes: every one but noop is reachable by its own key.
        string[] game =
        [
            "noop", "move_left", "move_right", "move_up", "move_down", "interact", "place_stone", "place_table", "place_furnace",
            "place_sapling", "make_wood_pickaxe", "make_stone_pickaxe", "make_iron_pickaxe", "make_wood_sword", "make_stone_sword",
            "make_iron_sword", "sleep",
        ];
        keys = PlayKeymap.Build([new ActionComponentSpec("action", ActionKind.Categorical, game)]);
        var lettered = keys.Bindings.Where(b => !char.IsAsciiDigit(b.Key[0])).Select(b => b.Label).Distinct();
        Assert.Equal(game[1..].Order(StringComparer.Ordinal), lettered.Order(StringComparer.Ordinal));
        Assert.Equal([5.0], keys.ActionFor(" "));
        Assert.Equal([6.0], keys.ActionFor("e"));
        Assert.Equal([7.0], keys.ActionFor("q"));
        Assert.Equal([9.0], keys.ActionFor("9"));

        using var keyboard = new KeyboardMouseWorld();
        keys = PlayKeymap.Build(keyboard.Actions);
        //                    left right up down jump use | hotbar | camera
        Assert.Equal([0.0, 0, 0, 0, 0, 0, 0, 0], keys.DefaultAction);
        Assert.Equal([1.0, 0, 0, 0, 0, 0, 0, 0], keys.ActionFor("ArrowLeft"));
        Assert.Equal([0.0, 1, 1, 0, 0, 0, 0, 0], keys.ActionFor("d", "ArrowUp")); // binary keys combine
        Assert.Equal([0.0, 0, 0, 0, 1, 0, 0, 0], keys.ActionFor(" "));
        Assert.Equal([0.0, 0, 0, 0, 0, 1, 0, 0], keys.ActionFor("e"));
        Assert.Equal([0.0, 0, 0, 0, 0, 0, 1, 0], keys.ActionFor("q"));
        Assert.Equal([0.0, 0, 0, 0, 0, 0, 2, 0], keys.ActionFor("2"));
        Assert.Equal([0.0, 0, 0, 0, 0, 0, 0, -1], keys.ActionFor("-"));
        Assert.Equal([0.0, 0, 0, 0, 0, 0, 0, 1], keys.ActionFor("-", "="));
        Assert.Null(keys.Validate([0, 1, 0, 0, 1, 0, 2, 0.25]));
        Assert.Contains("keys.jump", keys.Validate([0, 0, 0, 0, 0.5, 0, 0, 0]));
        Assert.Contains("camera", keys.Validate([0, 0, 0, 0, 0, 0, 0, 2]));
        Assert.Contains("camera", keys.Validate([0, 0, 0, 0, 0, 0, 0, double.NaN]));
        Assert.Equal(keys.Bindings.Count, keys.Bindings.Select(b => b.Key).Distinct().Count());
    }

    [Fact]
    public async Task Play_command_serves_the_test_world_until_sigterm_and_needs_a_dynamics_artifact_for_models()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var store = Directory.CreateTempSubdirectory("play-store").FullName;
        try
        {
            // An empty store has no train-dynamics artifact to load: a clear exit 2, not a crash.
            var (noLoader, noLoaderLog, _) = StartPlay("play", "--store", store);
            using (noLoader)
            {
                try { await noLoader.WaitForExitAsync(cts.Token); }
                finally { if (!noLoader.HasExited) noLoader.Kill(entireProcessTree: true); }
                Assert.True(noLoader.ExitCode == 2, $"exit {noLoader.ExitCode}:\n{string.Join('\n', noLoaderLog)}");
                Assert.Contains(noLoaderLog, l => l.Contains("train-dynamics"));
            }

            var (process, log, url) = StartPlay("play", "--test-world", "--port", "0");
            using (process)
            {
                try
                {
                    var started = await Task.WhenAny(url, process.WaitForExitAsync(cts.Token));
                    Assert.True(started == url, $"play did not print its URL:\n{string.Join('\n', log)}");
                    using var http = new HttpClient { BaseAddress = await url, Timeout = HttpTimeout };
                    var info = JsonNode.Parse(await http.GetStringAsync("/info", cts.Token))!;
                    Assert.Equal(3, info["contexts"]!.AsArray().Count);

                    using (var term = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                        await term.WaitForExitAsync(cts.Token);
                    await process.WaitForExitAsync(cts.Token);
                    Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}:\n{string.Join('\n', log)}");
                    Assert.Contains(log, l => l.Contains("play: stopped"));
                }
                finally
                {
                    if (!process.HasExited) process.Kill(entireProcessTree: true);
                }
            }
        }
        finally
        {
            Directory.Delete(store, recursive: true);
        }
    }

    /// <summary>Starts the dreamer CLI; stderr lines are collected, and the task completes with the URL once `play` prints it.</summary>
    private static (Process Process, ConcurrentQueue<string> Stderr, Task<Uri> Url) StartPlay(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(DreamerProcess.Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        var stderr = new ConcurrentQueue<string>();
        var url = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data == null) return;
            stderr.Enqueue(e.Data);
            if (Regex.Match(e.Data, @"open (http://127\.0\.0\.1:\d+/)") is { Success: true } m) url.TrySetResult(new Uri(m.Groups[1].Value));
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (process, stderr, url.Task);
    }

    [Fact]
    public async Task Browser_keys_drive_the_procedural_world()
    {
        using var world = new ProceduralWorld();
        await PlayChecks.AssertKeysDriveFrames(world, output.WriteLine);
    }

    [Fact]
    public async Task Browser_keys_drive_a_keyboard_and_mouse_world()
    {
        using var world = new KeyboardMouseWorld();
        await PlayChecks.AssertKeysDriveFrames(world, output.WriteLine);
    }

    private sealed record FrameResponse(byte[] Body, string ContentType, long Serial, int Step, int Context, string Sha256);

    private static async Task<FrameResponse> PostFrameAsync(HttpClient http, string path, string body)
    {
        using var response = await http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path} {body}: {(int)response.StatusCode} {Encoding.UTF8.GetString(bytes)}");
        string Header(string name) => response.Headers.GetValues(name).Single();
        return new FrameResponse(bytes, response.Content.Headers.ContentType!.MediaType!, long.Parse(Header("X-Play-Frame")),
            int.Parse(Header("X-Play-Step")), int.Parse(Header("X-Play-Context")), Header("X-Play-Sha256"));
    }

    /// <summary>Decodes the PNGs the play server writes (8-bit RGB, filter None), checking every chunk's CRC.</summary>
    private static (int Width, int Height, byte[] Rgb) DecodePng(byte[] png)
    {
        Assert.Equal([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], png[..8]);
        int width = 0, height = 0;
        using var idat = new MemoryStream();
        for (var at = 8; at < png.Length;)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            var type = Encoding.ASCII.GetString(png, at + 4, 4);
            var data = png.AsSpan(at + 8, length);
            Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at + 8 + length)), Crc32(png.AsSpan(at + 4, 4 + length)));
            if (type == "IHDR")
            {
                (width, height) = (BinaryPrimitives.ReadInt32BigEndian(data), BinaryPrimitives.ReadInt32BigEndian(data[4..]));
                Assert.Equal([8, 2, 0, 0, 0], data[8..13].ToArray());
            }
            if (type == "IDAT") idat.Write(data);
            at += 12 + length;
        }
        idat.Position = 0;
        using var raw = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionMode.Decompress)) z.CopyTo(raw);
        var rows = raw.ToArray();
        var stride = width * 3;
        Assert.Equal((stride + 1) * height, rows.Length);
        var rgb = new byte[stride * height];
        for (var y = 0; y < height; y++)
        {
            Assert.Equal(0, rows[y * (stride + 1)]);
            rows.AsSpan(y * (stride + 1) + 1, stride).CopyTo(rgb.AsSpan(y * stride));
        }
        return (width, height, rgb);
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        }
        return crc ^ 0xFFFFFFFFu;
    }
}

/// <summary>Checks of the play page that hold for any world; call them with the trained world model too.</summary>
public static class PlayChecks
{
    /// <summary>
    /// Serves <paramref name="world"/>, opens the play page in headless Chromium and plays it with real key
    /// events: pressing a movement key changes the frame, the page shows exactly the frame the server made,
    /// two different keys pressed n times from the same context give different frames, Reset returns to
    /// the start, and live mode streams frames. Fails (never hangs) after <paramref name="budget"/> (default 60 s).
    /// The caller keeps ownership of the world.
    /// </summary>
    public static async Task AssertKeysDriveFrames(IInteractiveWorld world, Action<string>? log = null, TimeSpan? budget = null, int presses = 3)
    {
        log ??= _ => { };
        var limit = budget ?? TimeSpan.FromSeconds(60);
        using var cts = new CancellationTokenSource(limit);
        var ct = cts.Token;
        var phase = "starting the play server";
        CdpPage? page = null;
        string diagnostics = "";
        try
        {
            await using var server = PlayServer.Start(world, 0, line => log($"server: {line}"));
            var (keyA, keyB) = ChooseKeys(server.Keymap);
            log($"keys: A = {keyA}, B = {keyB}");

            phase = "launching chromium";
            await using var browser = await HeadlessChromium.LaunchAsync(log, ct);
            phase = "opening a page over the DevTools protocol";
            page = await CdpPage.OpenAsync(browser.DevToolsPort, ct);
            try
            {
                await page.SendAsync("Page.enable", null, ct);
                await page.SendAsync("Runtime.enable", null, ct);
                await page.SendAsync("Page.navigate", new JsonObject { ["url"] = new Uri(server.Url, "?live=0").ToString() }, ct);

                phase = "waiting for the first frame";
                await page.WaitForAsync("playState.ready && playState.step === 0 && playState.sha !== '' && !playState.busy", ct);
                await page.SendAsync("Page.bringToFront", null, ct);
                var start = await page.EvaluateStringAsync("playState.sha", ct);
                Assert.Equal(start, await page.CanvasShaAsync(ct));

                phase = $"pressing {keyA} {presses} times";
                for (var i = 0; i < presses; i++) await page.PressAsync(keyA, ct);
                await page.WaitForAsync($"playState.step === {presses} && playState.queued === 0 && !playState.busy", ct);
                var afterA = await page.EvaluateStringAsync("playState.sha", ct);
                Assert.True(afterA != start, $"{presses} presses of {keyA} did not change the frame");
                Assert.Equal(afterA, await page.CanvasShaAsync(ct));

                phase = "resetting from the page";
                await page.EvaluateAsync("document.getElementById('context').value = '0'; document.getElementById('reset').click()", ct);
                await page.WaitForAsync("playState.step === 0 && playState.queued === 0 && !playState.busy", ct);
                Assert.Equal(start, await page.EvaluateStringAsync("playState.sha", ct));

                phase = $"pressing {keyB} {presses} times";
                for (var i = 0; i < presses; i++) await page.PressAsync(keyB, ct);
                await page.WaitForAsync($"playState.step === {presses} && playState.queued === 0 && !playState.busy", ct);
                var afterB = await page.EvaluateStringAsync("playState.sha", ct);
                Assert.True(afterB != afterA, $"{presses} presses of {keyA} and of {keyB} from the same context gave the same frame");
                Assert.Equal(afterB, await page.CanvasShaAsync(ct));

                phase = "streaming live while holding a key";
                await page.EvaluateAsync("document.getElementById('reset').click()", ct);
                await page.WaitForAsync("playState.step === 0 && !playState.busy", ct);
                await page.EvaluateAsync("document.getElementById('live').click()", ct);
                await page.KeyAsync(keyA, down: true, ct);
                await page.WaitForAsync($"playState.live && playState.step >= {presses + 2}", ct);
                await page.KeyAsync(keyA, down: false, ct);
                await page.WaitForAsync("playState.fps > 0", ct);
                var live = await page.EvaluateAsync("JSON.stringify(playState)", ct);
                log($"live: {live}");
                Assert.NotEqual(start, await page.EvaluateStringAsync("playState.sha", ct));
                Assert.Null(JsonNode.Parse(live!.GetValue<string>())!["error"]);
            }
            catch (Exception)
            {
                // Read the page while Chromium still runs: the using scopes above end before the handlers below.
                diagnostics = await DiagnosticsAsync(page);
                throw;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Assert.Fail($"the play page test ran out of its {limit.TotalSeconds:0} s while {phase}{diagnostics}");
        }
        catch (TimeoutException e)
        {
            Assert.Fail($"timed out while {phase}: {e.Message}{diagnostics}");
        }
        catch (Xunit.Sdk.XunitException e) when (diagnostics != "")
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}{diagnostics}");
        }
        finally
        {
            if (page != null) await page.DisposeAsync();
        }
    }

    private static async Task<string> DiagnosticsAsync(CdpPage? page)
    {
        if (page == null) return "";
        var state = "";
        try
        {
            using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            state = (await page.EvaluateAsync("JSON.stringify(window.playState)", quick.Token))?.ToString() ?? "";
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or WebSocketException or TimeoutException) { }
        return $"\nplayState: {state}\npage console:\n{string.Join('\n', page.Console)}";
    }

    /// <summary>Two keys whose actions differ from each other and from the default: arrows when the space has them.</summary>
    private static (string A, string B) ChooseKeys(PlayKeymap keymap)
    {
        var moving = keymap.Bindings.Select(b => b.Key).Distinct()
            .Where(k => !keymap.ActionFor(k).SequenceEqual(keymap.DefaultAction)).ToList();
        foreach (var (a, b) in new[] { ("ArrowRight", "ArrowLeft"), ("ArrowDown", "ArrowUp") })
            if (moving.Contains(a) && moving.Contains(b)) return (a, b);
        foreach (var a in moving)
            foreach (var b in moving)
                if (!keymap.ActionFor(a).SequenceEqual(keymap.ActionFor(b))) return (a, b);
        throw new InvalidOperationException($"the action space has no two keys with different actions ({keymap.Bindings.Count} bindings)");
    }
}

/// <summary>
/// A world shaped like a keyboard+mouse dataset (binary keys, a categorical hotbar, a continuous camera),
/// on a non-square frame: exercises the parts of the key mapping the built-in game does not.
/// </summary>
internal sealed class KeyboardMouseWorld : IInteractiveWorld
{
    private int _x, _y, _slot, _camera, _jumps;

    public int Width => 48;
    public int Height => 32;
    public IReadOnlyList<ActionComponentSpec> Actions { get; } =
    [
        new("keys", ActionKind.Binary, ["left", "right", "up", "down", "jump", "use"]),
        new("hotbar", ActionKind.Categorical, ["none", "slot1", "slot2"]),
        new("camera", ActionKind.Continuous, [], -1, 1),
    ];
    public IReadOnlyList<string> Contexts { get; } = ["plains", "cave"];

    private int _context;

    public byte[] Reset(int context = 0)
    {
        (_context, _x, _y, _slot, _camera, _jumps) = (context, 20, 12, 0, 0, 0);
        return Render();
    }

    public byte[] Step(double[] action)
    {
        _x = Math.Clamp(_x + (int)(action[1] - action[0]) * 3, 0, Width - 4);
        _y = Math.Clamp(_y + (int)(action[3] - action[2]) * 3, 0, Height - 4);
        _jumps += (int)action[4];
        _slot = (int)action[6];
        _camera += (int)Math.Round(action[7] * 5);
        return Render();
    }

    private byte[] Render()
    {
        var rgb = new byte[Width * Height * 3];
        for (var y = 0; y < Height; y++)
        for (var x = 0; x < Width; x++)
        {
            var i = (y * Width + x) * 3;
            var player = x >= _x && x < _x + 4 && y >= _y && y < _y + 4;
            rgb[i] = player ? (byte)(100 + 70 * _slot) : (byte)(_context * 60 + ((x + _camera) & 15));
            rgb[i + 1] = player ? (byte)200 : (byte)(y * 4);
            rgb[i + 2] = player ? (byte)(_jumps * 20) : (byte)60;
        }
        return rgb;
    }

    public void Dispose() { }
}

/// <summary>Headless Chromium with a throw-away profile; disposing kills it and deletes the profile.</summary>
internal sealed class HeadlessChromium : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _profile;

    public int DevToolsPort { get; private set; }

    private HeadlessChromium(Process process, string profile) => (_process, _profile) = (process, profile);

    public static async Task<HeadlessChromium> LaunchAsync(Action<string> log, CancellationToken ct)
    {
        var binary = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "chromium")).FirstOrDefault(File.Exists);
        if (binary == null)
            Assert.Fail("the `chromium` binary is not on PATH: run `./dreamer setup --test` (infra/setup.sh --test) to install it");

        var profile = Directory.CreateTempSubdirectory("play-chromium").FullName;
        var psi = new ProcessStartInfo(binary!) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[]
                 {
                     "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0", $"--user-data-dir={profile}",
                     "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
                     "--disable-background-networking", "--disable-component-update", "--mute-audio",
                     // A headless page counts as hidden to some throttles; the live loop must keep running.
                     "--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
                     "about:blank",
                 })
            psi.ArgumentList.Add(arg);

        var port = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var stderr = new ConcurrentQueue<string>();
        var process = Process.Start(psi)!;
        var chromium = new HeadlessChromium(process, profile);
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data == null) return;
            stderr.Enqueue(e.Data);
            if (Regex.Match(e.Data, @"DevTools listening on ws://[^:]+:(\d+)/") is { Success: true } m) port.TrySetResult(int.Parse(m.Groups[1].Value));
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var exited = process.WaitForExitAsync(ct);
            var first = await Task.WhenAny(port.Task, exited, Task.Delay(TimeSpan.FromSeconds(30), ct));
            if (first != port.Task)
            {
                ct.ThrowIfCancellationRequested();
                throw new TimeoutException($"chromium did not announce its DevTools port ({(process.HasExited ? $"exited {process.ExitCode}" : "still running")}):\n{string.Join('\n', stderr.TakeLast(20))}");
            }
            chromium.DevToolsPort = await port.Task;
            log($"chromium pid {process.Id}, DevTools port {chromium.DevToolsPort}");
            return chromium;
        }
        catch
        {
            await chromium.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            // SIGTERM first: Chromium then closes its own helper processes (a SIGKILL orphans them), SIGKILL if it lingers.
            if (!_process.HasExited)
                using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                    await term.WaitForExitAsync();
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try { await _process.WaitForExitAsync(grace.Token); }
            catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); }
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception) { }
        finally
        {
            _process.Dispose();
        }
        // Chromium's helpers may still be flushing the profile for a moment after the kill.
        for (var attempt = 0; attempt < 20 && Directory.Exists(_profile); attempt++)
        {
            try { Directory.Delete(_profile, recursive: true); }
            catch (IOException) { await Task.Delay(100); }
            catch (UnauthorizedAccessException) { await Task.Delay(100); }
        }
    }
}

/// <summary>A page target over the Chrome DevTools Protocol: commands by id, console messages kept for failure reports.</summary>
internal sealed class CdpPage : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(20);

    private readonly ClientWebSocket _socket;
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonObject>> _pending = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Task _receiveLoop;
    private int _nextId;

    public ConcurrentQueue<string> Console { get; } = new();

    private CdpPage(ClientWebSocket socket)
    {
        _socket = socket;
        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

    public static async Task<CdpPage> OpenAsync(int devToolsPort, CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = CommandTimeout };
        // Recent Chromium accepts /json/new only as PUT.
        using var response = await http.PutAsync($"http://127.0.0.1:{devToolsPort}/json/new?about:blank", null, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"/json/new: {(int)response.StatusCode} {body}");
        var url = JsonNode.Parse(body)?["webSocketDebuggerUrl"]?.GetValue<string>()
            ?? throw new InvalidOperationException($"/json/new gave no webSocketDebuggerUrl: {body}");
        var socket = new ClientWebSocket();
        try
        {
            using var connect = CancellationTokenSource.CreateLinkedTokenSource(ct);
            connect.CancelAfter(CommandTimeout);
            await socket.ConnectAsync(new Uri(url), connect.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new CdpPage(socket);
    }

    public async Task<JsonObject> SendAsync(string method, JsonObject? parameters, CancellationToken ct)
    {
        var id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        try
        {
            await _sendLock.WaitAsync(ct);
            try { await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, ct); }
            finally { _sendLock.Release(); }
            var result = await reply.Task.WaitAsync(CommandTimeout, ct);
            if (result["error"] is { } error) throw new InvalidOperationException($"{method}: {error.ToJsonString()}");
            return result["result"]?.AsObject() ?? new JsonObject();
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"no reply to {method} within {CommandTimeout.TotalSeconds:0} s");
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>Evaluates an expression in the page (awaiting a promise) and returns its value.</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression, CancellationToken ct)
    {
        var result = await SendAsync("Runtime.evaluate",
            new JsonObject { ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = true }, ct);
        if (result["exceptionDetails"] is { } details) throw new InvalidOperationException($"`{expression}` threw: {details.ToJsonString()}");
        return result["result"]?["value"]?.DeepClone();
    }

    public async Task<string> EvaluateStringAsync(string expression, CancellationToken ct) =>
        (await EvaluateAsync(expression, ct))?.GetValue<string>() ?? throw new InvalidOperationException($"`{expression}` gave no string");

    /// <summary>Polls until the expression is truthy; a TimeoutException says which condition never held.</summary>
    public async Task WaitForAsync(string condition, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await EvaluateAsync($"!!(window.playState && ({condition}))", ct) is JsonValue v && v.GetValue<bool>()) return;
            if (clock.Elapsed > WaitTimeout) throw new TimeoutException($"`{condition}` did not hold within {WaitTimeout.TotalSeconds:0} s");
            await Task.Delay(50, ct);
        }
    }

    /// <summary>SHA-256 of the RGB the canvas shows: proves the page decoded and drew the frame the server made.</summary>
    public Task<string> CanvasShaAsync(CancellationToken ct) => EvaluateStringAsync("""
        (async () => {
          const c = document.getElementById('screen');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          const rgb = new Uint8Array(c.width * c.height * 3);
          for (let i = 0, j = 0; i < d.length; i += 4) { rgb[j++] = d[i]; rgb[j++] = d[i + 1]; rgb[j++] = d[i + 2]; }
          const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', rgb));
          return Array.from(hash, b => b.toString(16).padStart(2, '0')).join('');
        })()
        """, ct);

    public async Task PressAsync(string key, CancellationToken ct)
    {
        await KeyAsync(key, down: true, ct);
        await KeyAsync(key, down: false, ct);
    }

    /// <summary>A real key event as a keyboard would send it: key, code and Windows virtual key code, text for printable keys.</summary>
    public async Task KeyAsync(string key, bool down, CancellationToken ct)
    {
        var (code, virtualKey) = KeyCodes(key);
        var text = key.Length == 1 ? key : null;
        var parameters = new JsonObject
        {
            ["type"] = down ? (text != null ? "keyDown" : "rawKeyDown") : "keyUp",
            ["key"] = key, ["code"] = code, ["windowsVirtualKeyCode"] = virtualKey, ["nativeVirtualKeyCode"] = virtualKey,
        };
        if (down && text != null) parameters["text"] = text;
        await SendAsync("Input.dispatchKeyEvent", parameters, ct);
    }

    private static (string Code, int VirtualKey) KeyCodes(string key) => key switch
    {
        "ArrowLeft" => ("ArrowLeft", 37),
        "ArrowUp" => ("ArrowUp", 38),
        "ArrowRight" => ("ArrowRight", 39),
        "ArrowDown" => ("ArrowDown", 40),
        " " => ("Space", 32),
        "-" => ("Minus", 189),
        "=" => ("Equal", 187),
        "[" => ("BracketLeft", 219),
        "]" => ("BracketRight", 221),
        "," => ("Comma", 188),
        "." => ("Period", 190),
        ";" => ("Semicolon", 186),
        "'" => ("Quote", 222),
        [var c and >= 'a' and <= 'z'] => ($"Key{char.ToUpperInvariant(c)}", char.ToUpperInvariant(c)),
        [var d and >= '0' and <= '9'] => ($"Digit{d}", d),
        _ => throw new ArgumentException($"no key code known for '{key}'", nameof(key)),
    };

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                var received = await _socket.ReceiveAsync(buffer, _closing.Token);
                if (received.MessageType == WebSocketMessageType.Close) break;
                message.Write(buffer, 0, received.Count);
                if (!received.EndOfMessage) continue;
                var node = JsonNode.Parse(message.GetBuffer().AsSpan(0, (int)message.Length))!.AsObject();
                message.SetLength(0);
                if (node["id"] is { } id && _pending.TryGetValue(id.GetValue<int>(), out var reply)) reply.TrySetResult(node);
                else if (node["method"]?.GetValue<string>() is "Runtime.consoleAPICalled" or "Runtime.exceptionThrown" && Console.Count < 200)
                    Console.Enqueue(node["params"]!.ToJsonString());
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException) { }
        finally
        {
            foreach (var reply in _pending.Values) reply.TrySetException(new InvalidOperationException("the DevTools connection closed"));
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            if (_socket.State == WebSocketState.Open) await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, quick.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException) { }
        _closing.Cancel();
        await _receiveLoop;
        _socket.Dispose();
        _closing.Dispose();
        _sendLock.Dispose();
    }
}
