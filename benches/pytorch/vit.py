"""PyTorch measuring stick for the crate's ViT (src/model/vit.rs): the same model, dense step.

Usage: python3 benches/pytorch/vit.py [--width 64] [--depth 4] [--image 28] [--patch 7]
       [--channels 1] [--batch 64] [--heads 4] [--classes 10] [--threads 2] [--steps 10] [--reps 5]
Defaults are the `vit64` shape of `benches/ops.rs`; the study shape `vit_c128` is
`--width 128 --depth 6 --image 32 --patch 4 --channels 3 --batch 128`.
Model: patch embedding with bias, class token, learned positions, pre-norm blocks (LayerNorm,
self-attention with biased q, k, v, o projections, LayerNorm, MLP 4·width with exact-erf GELU),
final LayerNorm, linear head on the class token; softmax cross-entropy; AdamW, clipping at 1.0.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import args, measure


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.qkv, self.o = nn.LayerNorm(d), nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.ln2, self.fc1, self.fc2 = nn.LayerNorm(d), nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, d)
        x = x + self.o(a)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class Vit(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.p, self.c = a.patch, a.channels
        patches = (a.image // a.patch) ** 2
        self.embed = nn.Linear(a.channels * a.patch * a.patch, a.width)
        self.cls = nn.Parameter(torch.zeros(1, 1, a.width))
        self.pos = nn.Parameter(torch.randn(1, patches, a.width) * a.width ** -0.5)
        self.blocks = nn.Sequential(*[Block(a.width, a.heads) for _ in range(a.depth)])
        self.ln, self.head = nn.LayerNorm(a.width), nn.Linear(a.width, a.classes)

    def forward(self, img):
        b, c, h, w = img.shape
        p = self.p
        x = img.view(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5).reshape(b, (h // p) * (w // p), c * p * p)
        x = torch.cat([self.cls.expand(b, -1, -1), self.embed(x) + self.pos], 1)
        return self.head(self.ln(self.blocks(x))[:, 0])


def flops(a):
    """Model FLOPs of one step: 3 × the forward pass's matrix products (as benches/ops.rs counts)."""
    np_, d = (a.image // a.patch) ** 2, a.width
    t, tok = np_ + 1, a.batch * (np_ + 1)
    layer = 2 * tok * (4 * d * d + 2 * d * 4 * d) + 4 * a.batch * t * t * d
    fwd = 2 * a.batch * np_ * a.channels * a.patch ** 2 * d + a.depth * layer + 2 * a.batch * d * a.classes
    return 3 * fwd


a = args(width=64, depth=4, image=28, patch=7, channels=1, batch=64, heads=4, classes=10)
model = Vit(a).train()
img = torch.randn(a.batch, a.channels, a.image, a.image)
labels = torch.tensor([(7 * i) % a.classes for i in range(a.batch)])
measure(f'vit width={a.width} depth={a.depth} image={a.image} patch={a.patch} batch={a.batch}', a, model,
        lambda: F.cross_entropy(model(img), labels), flops(a))
