#!/usr/bin/python3
"""train_torch.py — PyTorch CPU training throughput on the same model and config as
bench/train_speed.c, for side-by-side comparison (Debian's python3-torch; not a test dependency).

    train_torch.py NAME DIM HIDDEN LAYERS HEADS KV_HEADS VOCAB SEQ BATCH THREADS STEPS PEAK_GFLOPS

A Llama block written here: RMSNorm, interleaved RoPE, grouped-query attention (causal;
scaled_dot_product_attention where PyTorch has it, else the explicit masked softmax), SwiGLU, tied embeddings; AdamW (fused=False, foreach
default); fp32. One warm-up step, then STEPS timed steps on random tokens."""
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, cos, sin):  # x (B, T, H, hd), pairs (2i, 2i+1)
    xr = x.float().reshape(*x.shape[:-1], -1, 2)
    a, b = xr[..., 0], xr[..., 1]
    return torch.stack((a * cos - b * sin, a * sin + b * cos), -1).flatten(3)


class Block(nn.Module):
    def __init__(self, d, hidden, h, kvh, seq):
        super().__init__()
        self.h, self.kvh, self.hd = h, kvh, d // h
        self.register_buffer("mask", torch.tril(torch.ones(seq, seq)), persistent=False)
        self.attn_norm, self.ffn_norm = RMSNorm(d), RMSNorm(d)
        self.wq = nn.Linear(d, d, bias=False)
        self.wk = nn.Linear(d, kvh * self.hd, bias=False)
        self.wv = nn.Linear(d, kvh * self.hd, bias=False)
        self.wo = nn.Linear(d, d, bias=False)
        self.w1 = nn.Linear(d, hidden, bias=False)
        self.w2 = nn.Linear(hidden, d, bias=False)
        self.w3 = nn.Linear(d, hidden, bias=False)

    def forward(self, x, cos, sin):
        B, T, D = x.shape
        h = self.attn_norm(x)
        q = rope(self.wq(h).view(B, T, self.h, self.hd), cos, sin)
        k = rope(self.wk(h).view(B, T, self.kvh, self.hd), cos, sin)
        v = self.wv(h).view(B, T, self.kvh, self.hd)
        rep = self.h // self.kvh
        k = k.repeat_interleave(rep, dim=2)
        v = v.repeat_interleave(rep, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if hasattr(F, "scaled_dot_product_attention"):  # PyTorch >= 2.0
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # Debian 12's 1.13: the explicit form llama2.c's model.py falls back to
            s = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd)
            s = s.masked_fill(self.mask[:T, :T] == 0, float("-inf"))
            o = F.softmax(s, dim=-1) @ v
        x = x + self.wo(o.transpose(1, 2).reshape(B, T, D))
        h = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class Model(nn.Module):
    def __init__(self, d, hidden, layers, h, kvh, vocab, seq):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(Block(d, hidden, h, kvh, seq) for _ in range(layers))
        self.norm = RMSNorm(d)
        hd = d // h
        freqs = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
        ang = torch.outer(torch.arange(seq).float(), freqs)
        self.register_buffer("cos", ang.cos()[None, :, None, :])
        self.register_buffer("sin", ang.sin()[None, :, None, :])

    def forward(self, idx, targets):
        x = self.emb(idx)
        for b in self.blocks:
            x = b(x, self.cos, self.sin)
        logits = F.linear(self.norm(x), self.emb.weight)
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))


def main():
    if len(sys.argv) < 13:
        sys.exit(__doc__)
    name = sys.argv[1]
    d, hidden, layers, h, kvh, vocab, seq, B, threads, steps = map(int, sys.argv[2:12])
    peak = float(sys.argv[12])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = Model(d, hidden, layers, h, kvh, vocab, seq)
    params = sum(p.numel() for p in m.parameters())
    decay = [p for p in m.parameters() if p.dim() >= 2]
    other = [p for p in m.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    data = torch.randint(0, vocab, (B, seq + 1))
    x, y = data[:, :-1], data[:, 1:]
    t0 = 0.0
    for step in range(steps + 1):
        if step == 1:
            t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = m(x, y)
        loss.backward()
        opt.step()
    dt = time.perf_counter() - t0
    tokens = steps * B * seq
    flops = tokens * (6.0 * params + 6.0 * layers * seq * d)
    print(f"{name:<12} params {params / 1e6:.3f}M  batch {B}x{seq}  threads {threads}  {tokens / dt:.0f} tok/s  "
          f"{flops / dt / 1e9:.1f} GFLOP/s ({100 * flops / dt / 1e9 / peak:.0f}% of {peak:.0f} peak)  torch {torch.__version__}")


if __name__ == "__main__":
    main()
