#!/usr/bin/python3
"""Builds tests/Torch.Tests/data/reference.safetensors with python3-torch (a test peer only).

A 2-block transformer (d=32): token embedding, pre-RMSNorm, GQA attention (4 query heads,
2 KV heads) with QK-norm, RoPE (block 0: 1-D, block 1: axial over a 2x4 grid), logit
soft-capping and a causal mask, SwiGLU MLP, final RMSNorm and a linear head; cross-entropy loss.
Saved: initial weights (param/*), input (input/*), logits and loss (expected/*), gradients of the
loss (grad/*), weights after 3 AdamW steps (adamw/*), plus a few dtypes for the reader (misc/*).
The file is written with a hand-rolled writer of the published format (no safetensors package).
Run: /usr/bin/python3 tests/Torch.Tests/data/make_reference.py
"""
import json
import math
import os
import struct

import torch

D, H, HKV, DH, HID, V, B, T = 32, 4, 2, 8, 64, 16, 2, 8
GRID = (2, 4)
EPS = 1e-6
CAP = 5.0
THETA = 10000.0


def rope_tables(positions_per_part, part_dim):
    # cos/sin [T, 1, parts*part_dim] in float64, then float32, like Rope.Tables in C#.
    half = part_dim // 2
    cols_cos, cols_sin = [], []
    for pos in positions_per_part:
        inv = torch.tensor([1.0 / math.pow(THETA, 2.0 * j / part_dim) for j in range(half)], dtype=torch.float64)
        ang = torch.tensor(pos, dtype=torch.float64)[:, None] * inv[None, :]
        cols_cos += [ang.cos(), ang.cos()]
        cols_sin += [ang.sin(), ang.sin()]
    cos = torch.cat(cols_cos, -1).float()[:, None, :]
    sin = torch.cat(cols_sin, -1).float()[:, None, :]
    return cos, sin, len(positions_per_part)


def rotate_half(x, parts):
    pieces = x.chunk(2 * parts, -1)
    out = []
    for p in range(parts):
        out += [-pieces[2 * p + 1], pieces[2 * p]]
    return torch.cat(out, -1)


def apply_rope(x, rope):
    cos, sin, parts = rope
    return x * cos + rotate_half(x, parts) * sin


def rms_norm(x, w):
    return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + EPS) * w


def attention(x, p, pre, mask, rope):
    b, t, _ = x.shape
    g = H // HKV
    q = torch.nn.functional.linear(x, p[pre + "wq.weight"]).view(b, t, H, DH)
    k = torch.nn.functional.linear(x, p[pre + "wk.weight"]).view(b, t, HKV, DH)
    v = torch.nn.functional.linear(x, p[pre + "wv.weight"]).view(b, t, HKV, DH)
    q = rms_norm(q, p[pre + "q_norm.weight"])
    k = rms_norm(k, p[pre + "k_norm.weight"])
    q = apply_rope(q, rope)
    k = apply_rope(k, rope)
    q5 = q.transpose(1, 2).reshape(b, HKV, g, t, DH)
    k5 = k.transpose(1, 2).unsqueeze(2)
    v5 = v.transpose(1, 2).unsqueeze(2)
    logits = q5.matmul(k5.transpose(-2, -1)) * (1.0 / math.sqrt(DH))
    logits = logits.view(b, H, t, t)
    logits = (logits / CAP).tanh() * CAP
    logits = logits.masked_fill(mask.logical_not(), float("-inf"))
    probs = logits.softmax(-1).view(b, HKV, g, t, t)
    o = probs.matmul(v5).reshape(b, H, t, DH).transpose(1, 2).reshape(b, t, H * DH)
    return torch.nn.functional.linear(o, p[pre + "wo.weight"])


def mlp(x, p, pre):
    lin = torch.nn.functional.linear
    return lin(torch.nn.functional.silu(lin(x, p[pre + "gate.weight"])) * lin(x, p[pre + "up.weight"]), p[pre + "down.weight"])


def forward(p, tokens):
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    ropes = [
        rope_tables([list(range(T))], DH),
        rope_tables([[i // GRID[1] for i in range(T)], [i % GRID[1] for i in range(T)]], DH // 2),
    ]
    x = torch.nn.functional.embedding(tokens, p["embed.weight"])
    for i in range(2):
        pre = f"blocks.{i}."
        x = x + attention(rms_norm(x, p[pre + "norm1.weight"]), p, pre + "attn.", mask, ropes[i])
        x = x + mlp(rms_norm(x, p[pre + "norm2.weight"]), p, pre + "mlp.")
    return torch.nn.functional.linear(rms_norm(x, p["norm.weight"]), p["head.weight"], p["head.bias"])


def init_params(gen):
    p = {"embed.weight": torch.randn(V, D, generator=gen)}
    for i in range(2):
        pre = f"blocks.{i}."
        p[pre + "norm1.weight"] = 1 + 0.1 * torch.randn(D, generator=gen)
        p[pre + "attn.wq.weight"] = 0.2 * torch.randn(H * DH, D, generator=gen)
        p[pre + "attn.wk.weight"] = 0.2 * torch.randn(HKV * DH, D, generator=gen)
        p[pre + "attn.wv.weight"] = 0.2 * torch.randn(HKV * DH, D, generator=gen)
        p[pre + "attn.wo.weight"] = 0.2 * torch.randn(D, H * DH, generator=gen)
        p[pre + "attn.q_norm.weight"] = 1 + 0.1 * torch.randn(DH, generator=gen)
        p[pre + "attn.k_norm.weight"] = 1 + 0.1 * torch.randn(DH, generator=gen)
        p[pre + "norm2.weight"] = 1 + 0.1 * torch.randn(D, generator=gen)
        p[pre + "mlp.gate.weight"] = 0.2 * torch.randn(HID, D, generator=gen)
        p[pre + "mlp.up.weight"] = 0.2 * torch.randn(HID, D, generator=gen)
        p[pre + "mlp.down.weight"] = 0.2 * torch.randn(D, HID, generator=gen)
    p["norm.weight"] = 1 + 0.1 * torch.randn(D, generator=gen)
    p["head.weight"] = 0.2 * torch.randn(V, D, generator=gen)
    p["head.bias"] = 0.1 * torch.randn(V, generator=gen)
    return p


DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
          torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
          torch.uint8: "U8", torch.bool: "BOOL"}


def save_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        # Raw bytes through a uint8 view (works for bfloat16, which numpy lacks).
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(1234)
    params = init_params(gen)
    tokens = torch.randint(0, V, (B, T), generator=gen)
    targets = torch.randint(0, V, (B, T), generator=gen)
    out = {f"param/{k}": v.clone() for k, v in params.items()}
    out["input/tokens"] = tokens
    out["input/targets"] = targets

    p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    logits = forward(p, tokens)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
    loss.backward()
    out["expected/logits"] = logits.detach()
    out["expected/loss"] = loss.detach()
    for k, v in p.items():
        out[f"grad/{k}"] = v.grad.clone()

    # 3 AdamW steps from the initial weights (torch.optim.AdamW defaults, single-tensor path).
    names = list(params)
    p = {k: params[k].clone().requires_grad_(True) for k in names}
    opt = torch.optim.AdamW([p[k] for k in names], lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    for _ in range(3):
        opt.zero_grad()
        l = torch.nn.functional.cross_entropy(forward(p, tokens).reshape(-1, V), targets.reshape(-1))
        l.backward()
        opt.step()
    for k in names:
        out[f"adamw/{k}"] = p[k].detach().clone()
        st = opt.state[p[k]]
        out[f"adamw_state/{k}.exp_avg"] = st["exp_avg"].clone()
        out[f"adamw_state/{k}.exp_avg_sq"] = st["exp_avg_sq"].clone()

    # Extra dtypes for the reader.
    out["misc/f16"] = torch.tensor([1.5, -2.25, 65504.0], dtype=torch.float16)
    out["misc/bf16"] = torch.tensor([1.5, -2.25, 3.0e38], dtype=torch.bfloat16)
    out["misc/f64"] = torch.tensor([[math.pi, -math.e]], dtype=torch.float64)
    out["misc/i32"] = torch.tensor([-7, 2147483647], dtype=torch.int32)
    out["misc/u8"] = torch.tensor([0, 255, 7], dtype=torch.uint8)
    out["misc/bool"] = torch.tensor([True, False, True])
    out["misc/scalar"] = torch.tensor(2.5)

    meta = {"creator": "make_reference.py", "torch": torch.__version__, "model": "2-block GQA transformer d=32"}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.safetensors")
    save_safetensors(path, out, meta)
    print(f"wrote {path} ({os.path.getsize(path)} bytes), loss {loss.item():.6f}")


if __name__ == "__main__":
    main()
