"""PyTorch measuring stick for the crate's decoder-only model (src/model/decoder.rs): the same
model in plain PyTorch, dense step.

Usage: python3 benches/pytorch/decoder.py [--width 256] [--layers 6] [--heads 4] [--batch 16]
       [--len 256] [--threads 2] [--steps 5] [--reps 3]
Defaults are the `dec256` shape of `benches/ops.rs`.
Model: token embedding, layers of `x + attn(RMS(x))`, `x + mlp(RMS(x))` with causal
self-attention (no score scaling, no biases) plus a learned relative position bias over 32
causal buckets (max distance 128) shared by the layers, gated-GELU MLP of 2.5·width with the
tanh GELU, final RMSNorm, untied output projection over a byte vocabulary of 384; loss:
next-token cross-entropy + 1e-4·logsumexp² (z-loss); AdamW, clipping at 1.0.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import args, measure

V, NB, MAX_DIST = 384, 32, 128


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.g = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.g


class Layer(nn.Module):
    def __init__(self, d, f, heads):
        super().__init__()
        self.heads = heads
        self.n1, self.qkv, self.o = RMSNorm(d), nn.Linear(d, 3 * d, bias=False), nn.Linear(d, d, bias=False)
        self.n2 = RMSNorm(d)
        self.wi0, self.wi1, self.wo = (nn.Linear(d, f, bias=False), nn.Linear(d, f, bias=False),
                                       nn.Linear(f, d, bias=False))

    def forward(self, x, bias):
        b, t, d = x.shape
        q, k, v = self.qkv(self.n1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=1.0).transpose(1, 2).reshape(b, t, d)
        x = x + self.o(a)
        h = self.n2(x)
        return x + self.wo(F.gelu(self.wi0(h), approximate='tanh') * self.wi1(h))


def causal_buckets(t):
    """T5's relative position buckets for a causal stack (`bidirectional=False`)."""
    pos = torch.arange(t)
    n = (pos[:, None] - pos[None, :]).clamp(min=0)  # query − key ≥ 0
    exact = NB // 2
    large = exact + (torch.log(n.float().clamp(min=1) / exact) / math.log(MAX_DIST / exact)
                     * (NB - exact)).long()
    return torch.where(n < exact, n, large.clamp(max=NB - 1))


class Decoder(nn.Module):
    def __init__(self, a):
        super().__init__()
        d, f = a.width, (5 * a.width) // 2
        self.heads = a.heads
        self.embed = nn.Embedding(V, d)
        self.rel = nn.Embedding(NB, a.heads)
        self.layers = nn.ModuleList([Layer(d, f, a.heads) for _ in range(a.layers)])
        self.norm, self.head = RMSNorm(d), nn.Linear(d, V, bias=False)
        t = a.len
        self.register_buffer('buckets', causal_buckets(t))
        self.register_buffer('mask', torch.full((t, t), float('-inf')).triu(1))

    def forward(self, tokens):
        bias = (self.rel(self.buckets).permute(2, 0, 1) + self.mask).unsqueeze(0)  # (1, heads, t, t)
        x = self.embed(tokens)
        for layer in self.layers:
            x = layer(x, bias)
        return self.head(self.norm(x))


a = args(width=256, layers=6, heads=4, batch=16, len=256)
model = Decoder(a).train()
g = torch.Generator().manual_seed(0)
tokens = torch.randint(3, V, (a.batch, a.len), generator=g)
inputs = torch.cat([torch.zeros(a.batch, 1, dtype=tokens.dtype), tokens[:, :-1]], 1)


def loss_fn():
    logits = model(inputs).view(-1, V)
    lse = torch.logsumexp(logits, -1)
    return (lse - logits.gather(1, tokens.view(-1, 1)).squeeze(1) + 1e-4 * lse * lse).mean()


def flops():
    """3 × the forward pass's matrix products (as benches/ops.rs counts)."""
    d, f, b, t = a.width, (5 * a.width) // 2, a.batch, a.len
    layer = 2 * b * t * (4 * d * d + 3 * d * f) + 4 * b * t * t * d
    return 3 * (a.layers * layer + 2 * b * t * d * V)


measure(f'decoder width={a.width} layers={a.layers} batch={a.batch} len={a.len}', a, model, loss_fn, flops())
