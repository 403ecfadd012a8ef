#!/usr/bin/python3
"""Time one DiT training step in PyTorch and in imagegen on this machine.

Developer tool, not a test dependency. It needs PyTorch (Debian's
python3-torch, 1.13, CPU) and Go. Both sides train the same network
(onnx_export/train_dit.go): patchify by a strided conv, learned position
embedding, sinusoidal timestep embedding (flip_sin_to_cos) through
Linear-SiLU-Linear, DiT blocks with adaLN modulation (shift, scale, gate)
around LayerNorms without affine parameters (the modulation projections
and the final linear start at zero: adaLN-Zero), multi-head self-attention
(q/k/v without bias), a GELU MLP of ratio 4, a modulated final layer and
unpatchify; MSE loss on the noise, clip_grad_norm_(1.0), AdamW
(weight decay 0.01) and an EMA of the weights (decay 0.999).

imagegen runs forward, backward, clipping, AdamW and EMA as one ONNX
Runtime run (BenchmarkDiTTrainStep); PyTorch runs its eager equivalent.
Both report the median step time over the same number of steps; the
ratio imagegen/PyTorch is printed (below 1 means imagegen is faster).

    scripts/bench_dit_train.py [--batch 8 --size 16 --hidden 128 --depth 4 --heads 4 --steps 30 --threads 2]
"""

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # flip_sin_to_cos


def modulate(x, shift, scale):
    return F.layer_norm(x, x.shape[-1:], eps=1e-6) * (1 + scale) + shift


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(dim, dim, bias=False)
        self.to_v = nn.Linear(dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x):
        b, s, d = x.shape
        h = self.heads

        def split(t):
            return t.reshape(b, s, h, d // h).transpose(1, 2)

        q, k, v = split(self.to_q(x)), split(self.to_k(x)), split(self.to_v(x))
        scores = (q * (1 / math.sqrt(d // h))) @ k.transpose(-1, -2)
        out = scores.softmax(-1) @ v
        return self.to_out(out.transpose(1, 2).reshape(b, s, d))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.adaLN_modulation = nn.Linear(dim, 6 * dim)
        self.attn = Attention(dim, heads)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x, c):
        m = self.adaLN_modulation(c).unsqueeze(1).chunk(6, dim=-1)
        x = x + m[2] * self.attn(modulate(x, m[0], m[1]))
        return x + m[5] * self.fc2(F.gelu(self.fc1(modulate(x, m[3], m[4]))))


class DiT(nn.Module):
    def __init__(self, channels, size, patch, hidden, depth, heads):
        super().__init__()
        self.c, self.s, self.p, self.d = channels, size, patch, hidden
        g = size // patch
        self.x_embedder = nn.Conv2d(channels, hidden, patch, stride=patch)
        self.pos_embed = nn.Parameter(torch.randn(1, g * g, hidden) * 0.02)
        self.t1 = nn.Linear(hidden, hidden)
        self.t2 = nn.Linear(hidden, hidden)
        self.blocks = nn.ModuleList([Block(hidden, heads) for _ in range(depth)])
        self.final_mod = nn.Linear(hidden, 2 * hidden)
        self.final = nn.Linear(hidden, patch * patch * channels)
        # adaLN-Zero, as onnx_export.DiT starts.
        for lin in [blk.adaLN_modulation for blk in self.blocks] + [self.final_mod, self.final]:
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, x, t):
        b = x.shape[0]
        g, p, c = self.s // self.p, self.p, self.c
        h = self.x_embedder(x).reshape(b, self.d, g * g).transpose(1, 2) + self.pos_embed
        cond = F.silu(self.t2(F.silu(self.t1(timestep_embedding(t, self.d)))))
        for blk in self.blocks:
            h = blk(h, cond)
        shift, scale = self.final_mod(cond).unsqueeze(1).chunk(2, dim=-1)
        h = self.final(modulate(h, shift, scale))
        h = h.reshape(b, g, g, p, p, c).permute(0, 5, 1, 3, 2, 4)
        return h.reshape(b, c, self.s, self.s)


def bench_torch(a):
    torch.manual_seed(0)
    model = DiT(a.channels, a.size, a.patch, a.hidden, a.depth, a.heads)
    ema = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    x = torch.randn(a.batch, a.channels, a.size, a.size)
    target = torch.randn_like(x)
    t = torch.randint(0, 1000, (a.batch,)).float()

    def step():
        loss = F.mse_loss(model(x, t), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema, model.parameters()):
                e.mul_(0.999).add_(p, alpha=0.001)
        return loss.item()

    for _ in range(3):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    params = sum(p.numel() for p in model.parameters())
    return statistics.median(times), params


def bench_imagegen(a):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["IMAGEGEN_DIT_BENCH"] = ",".join(str(v) for v in (a.batch, a.channels, a.size, a.patch, a.hidden, a.depth, a.heads))
    cmd = ["go", "test", "./onnx_export/", "-run", "^$", "-bench", "^BenchmarkDiTTrainStep$",
           "-benchtime", "%dx" % a.steps, "-count", "1"]
    out = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("go benchmark failed:\n" + out.stdout + out.stderr)
    m = re.search(r"([\d.]+) ms/step-median\s+(\d+) params", out.stdout)
    if not m:
        sys.exit("cannot parse the go benchmark output:\n" + out.stdout)
    return float(m.group(1)), int(m.group(2))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--channels", type=int, default=4)
    p.add_argument("--size", type=int, default=16)
    p.add_argument("--patch", type=int, default=2)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="PyTorch intra-op threads (ONNX Runtime uses its default, one per core)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    tt, tparams = bench_torch(a)
    gt, gparams = bench_imagegen(a)
    print("DiT batch %d, %dx%dx%d latents, patch %d, hidden %d, depth %d, heads %d"
          % (a.batch, a.channels, a.size, a.size, a.patch, a.hidden, a.depth, a.heads))
    print("parameters: pytorch %d, imagegen %d%s" % (tparams, gparams, "" if tparams == gparams else "  (MISMATCH)"))
    print("pytorch %s (%d threads): %.2f ms/step (median of %d)" % (torch.__version__, a.threads, tt, a.steps))
    print("imagegen (ONNX Runtime):   %.2f ms/step (median of %d)" % (gt, a.steps))
    print("ratio imagegen/pytorch: %.2f" % (gt / tt))


if __name__ == "__main__":
    main()
