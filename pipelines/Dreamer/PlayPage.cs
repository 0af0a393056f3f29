namespace Dreamer.Cli;

/// <summary>
/// The play page served at `/`: the frame on a canvas scaled up without smoothing, a frames/s readout, the
/// key legend and context selector built from /info, and the input loop. Kept in C# (not an embedded file)
/// so the ./dreamer launcher, which rebuilds when a *.cs changes, never serves a stale page.
/// </summary>
internal static class PlayPage
{
    public const string Html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>dreamer play</title>
        <style>
          :root { color-scheme: dark; }
          body { margin: 0; padding: 24px; display: flex; flex-wrap: wrap; gap: 32px; align-items: flex-start;
                 background: #15171a; color: #d8dde3; font: 14px/1.5 system-ui, sans-serif; }
          #screen { display: block; image-rendering: pixelated; background: #000; box-shadow: 0 0 0 1px #333; }
          #bar { margin-top: 8px; font-variant-numeric: tabular-nums; color: #9aa4ae; }
          #fps { color: #e8f0f8; font-weight: 600; }
          #error { margin-top: 8px; color: #ff7a6b; white-space: pre-wrap; max-width: 480px; }
          h1 { font-size: 18px; margin: 0 0 12px; }
          h2 { font-size: 13px; margin: 18px 0 6px; color: #9aa4ae; text-transform: uppercase; letter-spacing: .05em; }
          .row { display: flex; gap: 8px; align-items: center; margin-bottom: 8px; }
          table { border-collapse: collapse; }
          td { padding: 2px 12px 2px 0; vertical-align: top; }
          kbd { display: inline-block; min-width: 1.4em; padding: 0 5px; margin: 0 3px 3px 0; border: 1px solid #555;
                border-bottom-width: 2px; border-radius: 4px; background: #22262b; text-align: center;
                font: 12px/1.6 ui-monospace, monospace; }
          tr.held td { color: #ffd45c; }
          .hint { color: #7d8791; max-width: 340px; margin: 0; }
        </style>
        </head>
        <body>
        <main>
          <canvas id="screen" width="64" height="64"></canvas>
          <div id="bar"><span id="fps">0.0</span> frames/s · frame <span id="frame">-</span> · step <span id="step">-</span>
            · world <span id="millis">-</span> ms/frame</div>
          <div id="error"></div>
        </main>
        <aside>
          <h1>dreamer play</h1>
          <div class="row"><label for="context">Context</label><select id="context"></select><button id="reset">Reset</button></div>
          <div class="row"><label><input type="checkbox" id="live" checked> live</label></div>
          <p class="hint">Live: frames stream as fast as the world allows, driven by the keys you hold.
            Off: one step per key press.</p>
          <h2>Keys</h2>
          <table id="legend"></table>
        </aside>
        <script>
        "use strict";
        // window.playState is what tests read (and handy in the console); it changes only after a frame is drawn.
        const state = window.playState = {
          ready: false, frame: -1, step: -1, context: 0, sha: "", millis: 0, fps: 0, queued: 0, busy: false, live: true, error: null,
        };
        const params = new URLSearchParams(location.search);
        const scale = Math.max(1, Math.floor(Number(params.get("scale")) || 6));
        const $ = id => document.getElementById(id);
        const canvas = $("screen");
        const ctx = canvas.getContext("2d");

        let info = null;
        const byKey = new Map();  // KeyboardEvent.key -> its bindings
        let held = [];            // keys held, in press order: within a component the last pressed wins
        let queue = [];           // requests still to send, in order: one step per key press, resets
        let pumping = false;
        const frameTimes = [];

        function keyOf(e) { return e.key.length === 1 ? e.key.toLowerCase() : e.key; }

        function currentAction() {
          const action = info.defaultAction.slice();
          for (const key of held) for (const b of byKey.get(key) || []) action[b.column] = b.value;
          return action;
        }

        function enqueue(request) { queue.push(request); state.queued = queue.length; pump(); }

        // The only sender: one request in flight at a time, so frames arrive and are drawn in order. With the
        // queue empty in live mode it asks for the next frame as soon as the previous one is drawn.
        async function pump() {
          if (pumping) return;
          pumping = true;
          try {
            for (;;) {
              let request;
              if (queue.length) request = queue.shift();
              else if (state.live && state.ready && !document.hidden) request = { path: "/step", body: { action: currentAction() } };
              else break;
              state.queued = queue.length;
              state.busy = true;
              try {
                await send(request);
              } catch (e) {
                showError(e.message);
                await new Promise(resolve => setTimeout(resolve, 1000));  // never spin on a failing server
              } finally {
                state.busy = false;
              }
            }
          } finally {
            pumping = false;
          }
        }

        async function send(request) {
          const response = await fetch(request.path, {
            method: "POST", cache: "no-store",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify(request.body),
          });
          if (!response.ok) {
            let message = response.status + " " + response.statusText;
            try { message = (await response.json()).error || message; } catch { }
            throw new Error(request.path + ": " + message);
          }
          const bitmap = await createImageBitmap(await response.blob());
          ctx.drawImage(bitmap, 0, 0);
          bitmap.close();
          const header = name => response.headers.get(name);
          state.frame = Number(header("X-Play-Frame"));
          state.step = Number(header("X-Play-Step"));
          state.context = Number(header("X-Play-Context"));
          state.millis = Number(header("X-Play-Millis"));
          state.sha = header("X-Play-Sha256");
          state.error = null;
          $("error").textContent = "";
          frameTimes.push(performance.now());
          $("frame").textContent = state.frame;
          $("step").textContent = state.step;
          $("millis").textContent = state.millis.toFixed(1);
        }

        function showError(message) { state.error = message; $("error").textContent = message; }

        function reset() {
          queue = [];  // steps still queued belong to the old episode
          enqueue({ path: "/reset", body: { context: Number($("context").value || 0) } });
        }

        function buildLegend() {
          const rows = new Map();  // label -> its bindings, in keymap order
          for (const b of info.keymap) {
            if (!rows.has(b.label)) rows.set(b.label, []);
            rows.get(b.label).push(b);
          }
          const table = $("legend");
          for (const [label, bindings] of rows) {
            const tr = table.insertRow();
            tr.dataset.keys = JSON.stringify(bindings.map(b => b.key));
            const keys = tr.insertCell();
            for (const b of bindings) {
              const kbd = document.createElement("kbd");
              kbd.textContent = b.display;
              keys.append(kbd);
            }
            tr.insertCell().textContent = label;
          }
          for (const a of info.actions) {
            if (a.kind !== "categorical") continue;
            const tr = table.insertRow();
            tr.insertCell().textContent = "no key";
            tr.insertCell().textContent = a.labels[info.defaultAction[a.offset]] + (info.actions.length > 1 ? " (" + a.name + ")" : "");
          }
        }

        function highlight() {
          for (const tr of $("legend").rows) {
            const keys = tr.dataset.keys ? JSON.parse(tr.dataset.keys) : [];
            tr.classList.toggle("held", keys.some(k => held.includes(k)));
          }
        }

        window.addEventListener("keydown", e => {
          if (!info || e.ctrlKey || e.metaKey || e.altKey || e.target instanceof HTMLSelectElement) return;
          const key = keyOf(e);
          if (!byKey.has(key)) return;
          e.preventDefault();  // arrows and Space would scroll the page
          if (e.repeat) {
            // Live, a held key already streams; paused, auto-repeat steps but never piles up requests.
            if (!state.live && queue.length === 0) enqueue({ path: "/step", body: { action: currentAction() } });
            return;
          }
          held = held.filter(k => k !== key);
          held.push(key);
          highlight();
          // One step per press, so a tap shorter than a frame still moves the world.
          enqueue({ path: "/step", body: { action: currentAction() } });
        });
        window.addEventListener("keyup", e => {
          const key = keyOf(e);
          if (!held.includes(key)) return;
          e.preventDefault();
          held = held.filter(k => k !== key);
          highlight();
        });
        // A key released while the page has no focus never sends keyup: forget all held keys.
        window.addEventListener("blur", () => { held = []; highlight(); });
        document.addEventListener("visibilitychange", () => pump());

        async function init() {
          const response = await fetch("/info", { cache: "no-store" });
          if (!response.ok) throw new Error("/info: " + response.status + " " + response.statusText);
          info = await response.json();
          canvas.width = info.width;
          canvas.height = info.height;
          canvas.style.width = info.width * scale + "px";
          canvas.style.height = info.height * scale + "px";
          for (const b of info.keymap) {
            if (!byKey.has(b.key)) byKey.set(b.key, []);
            byKey.get(b.key).push(b);
          }
          buildLegend();

          const select = $("context");
          const contexts = info.contexts.length ? info.contexts : ["default"];
          contexts.forEach((name, i) => select.add(new Option(i + ": " + name, String(i))));
          const wanted = Number(params.get("context") || 0);
          select.value = String(Number.isInteger(wanted) && wanted >= 0 && wanted < contexts.length ? wanted : 0);
          // Controls give the focus back at once, so Space and the arrows keep driving the world.
          select.addEventListener("change", () => { select.blur(); reset(); });
          $("reset").addEventListener("click", () => { $("reset").blur(); reset(); });
          const live = $("live");
          live.checked = params.get("live") !== "0";
          state.live = live.checked;
          live.addEventListener("change", () => { live.blur(); state.live = live.checked; pump(); });

          setInterval(() => {
            const now = performance.now();
            while (frameTimes.length && frameTimes[0] < now - 1000) frameTimes.shift();
            const n = frameTimes.length;
            state.fps = n >= 2 ? (n - 1) * 1000 / Math.max(1, frameTimes[n - 1] - frameTimes[0]) : 0;
            $("fps").textContent = state.fps.toFixed(1);
          }, 250);

          state.ready = true;
          reset();
        }

        init().catch(e => showError("could not start: " + e.message));
        </script>
        </body>
        </html>
        """;
}
