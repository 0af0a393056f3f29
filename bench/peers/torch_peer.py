"""Benchmark peer: the same measurements as `./dreamer bench torch`, in python3-torch.

Both sides run on the same libtorch. Run with Debian's /usr/bin/python3 (python3-torch).
Usage: torch_peer.py '<json config>'  -> prints one JSON object with the timings.
The reference model here mirrors stages/WorldModel SpaceTimeTransformer op for op.
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F


class RMSNorm(torch.nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x, parts):
    pieces = x.chunk(2 * parts, dim=-1)
    out = []
    for p in range(parts):
        out += [-pieces[2 * p + 1], pieces[2 * p]]
    return torch.cat(out, dim=-1)


def rope_tables(positions_per_part, part_dim, base=10000.0):
    """cos/sin [L, 1, parts * part_dim]: each part rotates its slice of the head dim with its own positions."""
    half = part_dim // 2
    inv_freq = 1.0 / (base ** (2.0 * torch.arange(half, dtype=torch.float64) / part_dim))
    cos, sin = [], []
    for positions in positions_per_part:
        angles = positions.double()[:, None] * inv_freq[None, :]
        angles = torch.cat((angles, angles), dim=-1)
        cos.append(angles.cos())
        sin.append(angles.sin())
    return torch.cat(cos, -1).float()[:, None, :], torch.cat(sin, -1).float()[:, None, :], len(positions_per_part)


def rope_1d(length, head_dim):
    return rope_tables([torch.arange(length)], head_dim)


def rope_grid(rows, cols, head_dim):
    r = torch.arange(rows).repeat_interleave(cols)
    c = torch.arange(cols).repeat(rows)
    return rope_tables([r, c], head_dim // 2)


def apply_rope(x, rope):
    cos, sin, parts = rope
    return x * cos + rotate_half(x, parts) * sin


class Attention(torch.nn.Module):
    def __init__(self, dim, heads, kv_heads, softcap):
        super().__init__()
        self.heads, self.kv_heads = heads, kv_heads
        self.head_dim = dim // heads
        self.softcap = softcap
        self.q = torch.nn.Linear(dim, heads * self.head_dim, bias=False)
        self.k = torch.nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.v = torch.nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.o = torch.nn.Linear(heads * self.head_dim, dim, bias=False)
        self.q_norm = RMSNorm(self.head_dim)
        self.k_norm = RMSNorm(self.head_dim)

    def forward(self, x, rope, mask):
        b, t, _ = x.shape
        h, hkv, dh = self.heads, self.kv_heads, self.head_dim
        g = h // hkv
        q = self.q_norm(self.q(x).view(b, t, h, dh))
        k = self.k_norm(self.k(x).view(b, t, hkv, dh))
        v = self.v(x).view(b, t, hkv, dh)
        q, k = apply_rope(q, rope), apply_rope(k, rope)
        q5 = q.transpose(1, 2).reshape(b, hkv, g, t, dh)
        k5 = k.transpose(1, 2).unsqueeze(2)
        v5 = v.transpose(1, 2).unsqueeze(2)
        logits = torch.matmul(q5, k5.transpose(-2, -1)) * (1.0 / math.sqrt(dh))
        logits = logits.view(b, h, t, t)
        logits = (logits / self.softcap).tanh() * self.softcap
        if mask is not None:
            logits = logits.masked_fill(mask.logical_not(), float("-inf"))
        probs = logits.softmax(-1).view(b, hkv, g, t, t)
        o = torch.matmul(probs, v5).reshape(b, h, t, dh).transpose(1, 2).reshape(b, t, h * dh)
        return self.o(o)


class SwiGLU(torch.nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.gate = torch.nn.Linear(dim, hidden, bias=False)
        self.up = torch.nn.Linear(dim, hidden, bias=False)
        self.down = torch.nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(torch.nn.Module):
    def __init__(self, dim, heads, kv_heads, hidden, softcap, has_time):
        super().__init__()
        self.space_norm = RMSNorm(dim)
        self.space_attn = Attention(dim, heads, kv_heads, softcap)
        self.has_time = has_time
        if has_time:
            self.time_norm = RMSNorm(dim)
            self.time_attn = Attention(dim, heads, kv_heads, softcap)
        self.mlp_norm = RMSNorm(dim)
        self.mlp = SwiGLU(dim, hidden)

    def forward(self, x, space_rope, time_rope, causal):
        b, t, s, d = x.shape
        h = self.space_attn(self.space_norm(x).reshape(b * t, s, d), space_rope, None)
        x = x + h.view(b, t, s, d)
        if self.has_time:
            xt = self.time_norm(x).transpose(1, 2).reshape(b * s, t, d)
            h = self.time_attn(xt, time_rope, causal)
            x = x + h.view(b, s, t, d).transpose(1, 2)
        return x + self.mlp(self.mlp_norm(x))


class SpaceTimeTransformer(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["dim"]
        self.blocks = torch.nn.ModuleList(
            Block(d, cfg["heads"], cfg["kv_heads"], cfg["hidden"], cfg["softcap"], (i + 1) % cfg["time_every"] == 0)
            for i in range(cfg["layers"]))
        self.out_norm = RMSNorm(d)
        hd = d // cfg["heads"]
        side = int(math.isqrt(cfg["tokens"]))
        self.space_rope = rope_grid(side, cfg["tokens"] // side, hd)
        self.time_rope = rope_1d(cfg["frames"], hd)
        self.causal = torch.ones(cfg["frames"], cfg["frames"], dtype=torch.bool).tril()

    def forward(self, x):
        for block in self.blocks:
            x = block(x, self.space_rope, self.time_rope, self.causal)
        return self.out_norm(x)


def bench_step(cfg):
    torch.manual_seed(cfg["seed"])
    model = SpaceTimeTransformer(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01, foreach=False)
    x = torch.randn(cfg["batch"], cfg["frames"], cfg["tokens"], cfg["dim"])
    target = torch.randn_like(x)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(model(x), target)
        loss.backward()
        opt.step()
        return loss

    for _ in range(cfg["warmup"]):
        step()
    times = []
    for _ in range(cfg["steps"]):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return {"step_seconds": times, "params": sum(p.numel() for p in model.parameters())}


def bench_adds(cfg):
    a = torch.rand(cfg["add_size"])
    b = torch.rand(cfg["add_size"])
    for _ in range(1000):
        c = a + b
    t0 = time.perf_counter()
    for _ in range(cfg["adds"]):
        c = a + b
    return {"add_seconds": time.perf_counter() - t0, "check": float(c.sum())}


def bench_matmul(cfg):
    n = cfg["matmul_n"]
    torch.manual_seed(cfg["seed"])
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    for _ in range(2):
        torch.matmul(a, b)
    times = []
    for _ in range(cfg["matmul_reps"]):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        times.append(time.perf_counter() - t0)
    return {"matmul_seconds": times}


def main():
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(cfg["threads"])
    out = {"torch_version": torch.__version__, "threads": torch.get_num_threads()}
    for part in cfg["parts"]:
        out.update({"adds": bench_adds, "matmul": bench_matmul, "step": bench_step}[part](cfg))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
