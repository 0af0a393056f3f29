using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dreamer.Torch;
using Dreamer.Torch.NN;
using Dreamer.Torch.Optim;
using Dreamer.WorldModel;

namespace Dreamer.Bench;

// The class Dreamer.Torch.Torch, not the namespace Dreamer.Torch that Dreamer.* code would otherwise see.
using Torch = Dreamer.Torch.Torch;

/// <summary>
/// `./dreamer bench torch`: our binding against python3-torch on the same libtorch, side by side in one
/// run: the reference space-time training step, per-op overhead, matmul throughput, and the model FLOP
/// utilisation of the reference step against the measured matmul peak.
/// </summary>
public static class TorchBench
{
    private const string Python = "/usr/bin/python3";

    public static async Task<int> RunAsync(string[] args)
    {
        var quick = args.Contains("--quick");
        var threads = Environment.ProcessorCount;
        var model = new SpaceTimeConfig { Dim = 256, Heads = 8, KvHeads = 8, Hidden = 704, Layers = 4, TimeEvery = 1 };
        const long frames = 16, tokens = 64, batch = 1, addSize = 16, n = 2048;
        int adds = quick ? 20_000 : 100_000, matmulReps = quick ? 3 : 7, warmup = 2, steps = quick ? 3 : 8;
        var cfg = new JsonObject
        {
            ["threads"] = threads, ["seed"] = 1,
            ["adds"] = adds, ["add_size"] = addSize,
            ["matmul_n"] = n, ["matmul_reps"] = matmulReps,
            ["dim"] = model.Dim, ["heads"] = model.Heads, ["kv_heads"] = model.KvHeads, ["hidden"] = model.Hidden,
            ["softcap"] = model.SoftCap, ["time_every"] = model.TimeEvery, ["layers"] = model.Layers,
            ["tokens"] = tokens, ["frames"] = frames, ["batch"] = batch,
            ["warmup"] = warmup, ["steps"] = steps,
        };
        if (!File.Exists(Python) || !await PythonHasTorchAsync())
        {
            Console.Error.WriteLine($"bench torch: {Python} with torch is required (run: ./dreamer setup --bench)");
            return 2;
        }
        Torch.NumThreads = threads;
        Torch.ManualSeed(1);
        Console.Error.WriteLine($"libtorch {Torch.Version}, {threads} threads; python peer {Python}");

        // Each part runs ours and the peer back to back, the peer first, so both see the same machine state.
        var peerAdds = await RunPeerAsync(cfg, "adds");
        var (oursAdd, engineAdd) = MeasureAdds(adds, addSize);
        var peerAdd = peerAdds["add_seconds"]!.GetValue<double>() / adds;
        // What each binding adds on top of libtorch's own at::add.
        var oursOverhead = Math.Max(oursAdd - engineAdd, 0);
        var peerOverhead = Math.Max(peerAdd - engineAdd, 1e-12);

        var peerMatmul = await RunPeerAsync(cfg, "matmul");
        var oursMatmul = BenchMeasure.Matmul(n, matmulReps);
        var peerMatmulT = BenchMeasure.Median(peerMatmul["matmul_seconds"]!.AsArray().Select(v => v!.GetValue<double>()));
        var flopsMatmul = 2.0 * n * n * n;

        var peerStep = await RunPeerAsync(cfg, "step");
        var (oursStep, oursParams) = MeasureStep(model, batch, frames, tokens, warmup, steps);
        var peerStepT = BenchMeasure.Median(peerStep["step_seconds"]!.AsArray().Select(v => v!.GetValue<double>()));
        var peerParams = peerStep["params"]!.GetValue<long>();
        if (peerParams != oursParams)
            Console.Error.WriteLine($"warning: parameter counts differ (ours {oursParams}, python {peerParams})");

        var stepFlops = 3 * SpaceTimeTransformer.ForwardFlops(model, batch, frames, tokens);
        var peak = Math.Max(flopsMatmul / oursMatmul, flopsMatmul / peerMatmulT);
        var mfuOurs = stepFlops / oursStep / peak;
        var mfuPeer = stepFlops / peerStepT / peak;

        var report = new BenchReport($"bench torch: ours vs python3-torch (libtorch {Torch.Version}, {threads} threads)");
        report.Row("reference step (4 space-time layers, d=256, 16x64 tokens, fwd+bwd+AdamW)",
            $"{oursStep * 1000:0.0} ms", $"{peerStepT * 1000:0.0} ms", $"{oursStep / peerStepT:0.000}");
        report.Row($"small add ({addSize} floats), per op, total", $"{oursAdd * 1e6:0.00} us", $"{peerAdd * 1e6:0.00} us", $"{oursAdd / peerAdd:0.000}");
        report.Row("  of which libtorch's at::add itself (C++ loop)", $"{engineAdd * 1e6:0.00} us", $"{engineAdd * 1e6:0.00} us", "");
        report.Row("  binding overhead per op (total - engine)", $"{oursOverhead * 1e6:0.00} us", $"{peerOverhead * 1e6:0.00} us", $"{oursOverhead / peerOverhead:0.000}");
        report.Row($"matmul {n}x{n} float32", $"{flopsMatmul / oursMatmul / 1e9:0.0} GFLOP/s", $"{flopsMatmul / peerMatmulT / 1e9:0.0} GFLOP/s",
            $"{peerMatmulT / oursMatmul:0.000}");
        report.Row("reference step MFU (vs measured matmul peak)", $"{mfuOurs:P1}", $"{mfuPeer:P1}", $"{mfuOurs / mfuPeer:0.000}");
        report.Row("reference step GFLOP (3x forward)", $"{stepFlops / 1e9:0.00}", "", "");
        report.Row("parameters", $"{oursParams:N0}", $"{peerParams:N0}", "");
        report.Goal("step_time_ratio_vs_pytorch", oursStep / peerStepT, "<=1.0");
        report.Goal("op_overhead_ratio_vs_pytorch", oursOverhead / peerOverhead, "<=0.5");
        report.Goal("op_time_ratio_vs_pytorch", oursAdd / peerAdd, "<=1.0");
        report.Goal("matmul_gflops_ratio_vs_pytorch", peerMatmulT / oursMatmul, ">=0.95");
        report.Goal("reference_step_mfu_ratio_vs_pytorch", mfuOurs / mfuPeer, ">=1.0");
        report.Print();
        return 0;
    }

    /// <summary>Seconds per `c = a + b` through our binding, and through libtorch alone.</summary>
    private static (double Ours, double Engine) MeasureAdds(int count, long size)
    {
        using var a = Torch.Rand([size]);
        using var b = Torch.Rand([size]);
        for (var i = 0; i < 1000; i++) { using var warm = a + b; }
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < count; i++) { using var c = a + b; }
        var ours = clock.Elapsed.TotalSeconds / count;
        var engine = Torch.EngineAddLoopSeconds(a, b, count) / count;
        return (ours, engine);
    }

    private static (double Seconds, long Params) MeasureStep(SpaceTimeConfig config, long batch, long frames, long tokens, int warmup, int steps)
    {
        Torch.ManualSeed(1);
        using var model = new SpaceTimeTransformer(config);
        using var optimizer = new AdamW(model, lr: 1e-4, weightDecay: 0.01);
        using var x = Torch.Randn([batch, frames, tokens, config.Dim]);
        using var target = Torch.RandnLike(x);
        var side = (long)Math.Sqrt(tokens);
        // Every token reads every token on a grid, every slot time-attends causally: the peer's model.
        var layout = TokenLayout.Grid(side, tokens / side);

        void Step()
        {
            using var scope = Torch.NewDisposeScope();
            optimizer.ZeroGrad();
            var loss = Torch.MseLoss(model.Forward(x, layout), target);
            loss.Backward();
            optimizer.Step();
        }

        for (var i = 0; i < warmup; i++) Step();
        var times = new List<double>();
        for (var i = 0; i < steps; i++)
        {
            var clock = Stopwatch.StartNew();
            Step();
            times.Add(clock.Elapsed.TotalSeconds);
        }
        return (BenchMeasure.Median(times), model.Parameters().Sum(p => p.NumEl));
    }


    private static string PeerScript => Path.Combine(AppContext.BaseDirectory, "peers", "torch_peer.py");

    private static async Task<bool> PythonHasTorchAsync()
    {
        using var process = Process.Start(new ProcessStartInfo(Python, "-c \"import torch\"") { RedirectStandardError = true })!;
        await process.WaitForExitAsync();
        return process.ExitCode == 0;
    }

    private static async Task<JsonObject> RunPeerAsync(JsonObject cfg, string part)
    {
        var config = (JsonObject)cfg.DeepClone();
        config["parts"] = new JsonArray(part);
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(PeerScript);
        psi.ArgumentList.Add(config.ToJsonString());
        // Same threading as ours: libtorch's intra-op pool sized by the call in the script.
        psi.Environment["OMP_NUM_THREADS"] = cfg["threads"]!.ToString();
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"python peer failed ({part}): {await stderr}");
        return JsonNode.Parse(await stdout)!.AsObject();
    }
}
