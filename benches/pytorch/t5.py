"""PyTorch measuring stick for the crate's T5.1.1 (src/model/t5.rs): Hugging Face transformers'
T5 in the same configuration, dense step, with the crate's z-loss.

Usage: python3 benches/pytorch/t5.py [--width 64] [--layers 4] [--heads 4] [--batch 32]
       [--inputs 128] [--targets 32] [--threads 2] [--steps 10] [--reps 5]
Defaults are the `t5_64` shape of `benches/ops.rs` (`--width 128` is `t5_128`).
Model: T5.1.1 (pre-norm RMSNorm, relative position bias, gated-GELU MLP of 2.5·width with the
tanh GELU, no biases, untied output), byte vocabulary of 384, no dropout; loss: cross-entropy
of the targets (teacher forcing) + 1e-4·logsumexp² (z-loss), averaged over target tokens;
AdamW, clipping at 1.0. Needs `pip install torch transformers` (no weights are downloaded).
"""
import torch
import torch.nn.functional as F
from transformers import T5Config, T5ForConditionalGeneration

from common import args, measure

V = 384
a = args(width=64, layers=4, heads=4, batch=32, inputs=128, targets=32)
d, f = a.width, (5 * a.width) // 2
cfg = T5Config(vocab_size=V, d_model=d, d_kv=d // a.heads, d_ff=f, num_layers=a.layers,
               num_decoder_layers=a.layers, num_heads=a.heads, feed_forward_proj='gated-gelu',
               tie_word_embeddings=False, dropout_rate=0.0, decoder_start_token_id=0, pad_token_id=0)
model = T5ForConditionalGeneration(cfg).train()
g = torch.Generator().manual_seed(0)
x = torch.randint(3, V, (a.batch, a.inputs), generator=g)
y = torch.randint(3, V, (a.batch, a.targets), generator=g)
y_in = torch.cat([torch.zeros(a.batch, 1, dtype=y.dtype), y[:, :-1]], 1)


def loss_fn():
    logits = model(input_ids=x, decoder_input_ids=y_in).logits.view(-1, V)
    lse = torch.logsumexp(logits, -1)
    return (lse - logits.gather(1, y.view(-1, 1)).squeeze(1) + 1e-4 * lse * lse).mean()


def flops():
    """3 × the forward pass's matrix products (as benches/ops.rs counts)."""
    b, ti, to = a.batch, a.inputs, a.targets
    layer = lambda tok: 2 * tok * (4 * d * d + 3 * d * f)
    att = lambda sq, sk: 4 * b * sq * sk * d
    enc = a.layers * (layer(b * ti) + att(ti, ti))
    cross = 2 * (b * to * 2 * d * d + b * ti * 2 * d * d) + att(to, ti)
    dec = a.layers * (layer(b * to) + att(to, to) + cross)
    return 3 * (enc + dec + 2 * b * to * d * V)


measure(f't5 width={d} layers={a.layers}+{a.layers} batch={a.batch} tokens={a.inputs}+{a.targets}', a, model,
        loss_fn, flops())
