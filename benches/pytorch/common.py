"""Shared timing loop of the PyTorch measuring sticks in this folder (not part of the crate).

Each script builds one model in plain PyTorch (or Hugging Face transformers for T5), then
`measure` runs warm-up steps and `--reps` timed runs of `--steps` training steps and prints one
line: `torch <name> ... threads=N steps/s median=M min=A max=B GFLOP/step=G`.
"""
import argparse
import statistics
import time

import torch


def args(**defaults):
    """Command-line flags `--name value` for every default (all ints), plus `--threads`, `--steps`, `--reps`."""
    ap = argparse.ArgumentParser()
    for k, v in dict(defaults, threads=2, steps=10, reps=5, warmup=3).items():
        ap.add_argument('--' + k, type=int, default=v)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    return a


def train_step(model, opt, loss_fn):
    """One dense training step: forward, backward, global-norm clipping at 1.0, AdamW."""
    loss = loss_fn()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=False)
    return loss


def measure(name, a, model, loss_fn, flops_per_step):
    """Times `a.reps` runs of `a.steps` steps after `a.warmup` steps; prints the summary line."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    for _ in range(a.warmup):
        train_step(model, opt, loss_fn)
    rates = []
    for _ in range(a.reps):
        t = time.perf_counter()
        for _ in range(a.steps):
            train_step(model, opt, loss_fn)
        rates.append(a.steps / (time.perf_counter() - t))
    n = sum(p.numel() for p in model.parameters())
    print(f'torch {name} threads={a.threads} params={n} steps/s median={statistics.median(rates):.3f} '
          f'min={min(rates):.3f} max={max(rates):.3f} GFLOP/step={flops_per_step * 1e-9:.2f}', flush=True)
