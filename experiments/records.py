#!/usr/bin/env python3
"""Direct comparisons of final validation losses in a results directory (docs/EXPERIMENTS.md).

Reads `points/*.json` of one or more results directories of `sparse-scaling run` (standard
library only, no fit) and prints, per model family:

  equal-N     every record against the least sparse record with the same non-zero count N and
              the same training length (dense when there is one: the paper's "sparse beats dense
              at equal N", Figure 1);
  equal-C     the same pairs at equal training cost C = 6·N/(1 − S)·D (docs/THEORY.md §3.2):
              the less sparse model trained (1 − S_b)/(1 − S) times longer, when that length
              was run (the records' version of S_opt(N, C));
  m(S)        the dense-equivalent multiplier read off the records: the dense size N* whose loss
              (interpolated linearly in log N between the dense records of the same length,
              on a segment where the dense loss falls with N) equals the sparse record's, divided
              by the sparse record's N; only inside the dense range, never extrapolated (paper §3.1, docs/THEORY.md §3.1);
  n:m         each n:m record against unstructured GMP at the same width, length and sparsity;
  shapes      schedule shapes at equal width, length and S: which is best, and whether the loss
              falls as N̄ (the records' mean non-zero count over training) grows;
  seeds       the spread of the final loss over seeds, where a point was trained with several.

Records are grouped by everything but width, sparsity and pruning (steps, batch, optimizer,
depth, …), so only like-for-like runs are compared. First comes the table of final losses
(width and length by sparsity and method). Usage:

    python3 experiments/records.py results/vit-sweep [more results dirs ...]
"""

import glob
import json
import math
import sys
from collections import defaultdict


def load(dirs):
    recs = {}
    for d in dirs:
        for f in glob.glob(f"{d}/points/*.json"):
            with open(f) as fh:
                r = json.load(fh)
            recs[r["hash"]] = r
    return list(recs.values())


def method(r):
    """A short label of a record's pruning: dense, gmp, gmp+geometric, 2:4, from-dense, ..."""
    p = r["spec"]["pruning"]
    if p == "Dense" or r["spec"]["sparsity"] == 0:
        return "dense"
    kind, v = next(iter(p.items()))
    if kind == "Gmp":
        shape = v.get("shape")
        if shape in (None, {"Polynomial": 3.0}):
            return "gmp"
        return "gmp+" + (shape if isinstance(shape, str) else json.dumps(shape)).lower()
    if kind == "NM":
        return f"{v['n']}:{v['m']}"
    return kind.lower()


def context(r):
    """Everything that must match for two records to be compared, except size, S and pruning."""
    s = dict(r["spec"])
    for k in ("dims", "sparsity", "pruning", "hash"):
        s.pop(k, None)
    s["depth"] = r["spec"]["dims"]["depth"]
    s["family"] = r["spec"]["family"]
    return json.dumps(s, sort_keys=True)


def context_any_length(r):
    """`context` without the training length and what follows from it (the validation interval,
    and the warm-up steps as a fraction of the run, to 2 decimals: 8 of 150 steps and 30 of 600
    are both the default 5 %), so that runs of different lengths can be compared at equal cost."""
    s = json.loads(context(r))
    steps = s.pop("steps")
    s.pop("val_every", None)
    if isinstance(s.get("lr"), dict) and "warmup_steps" in s["lr"]:
        s["lr"] = dict(s["lr"], warmup_steps=round(s["lr"]["warmup_steps"] / steps, 2))
    return json.dumps(s, sort_keys=True)


def row(r):
    s = r["spec"]
    return {
        "family": s["family"],
        "width": s["dims"]["width"],
        "S": s["sparsity"],
        "method": method(r),
        "steps": s["steps"],
        "N": r["outcome"]["nonzero_params"],
        "Nbar": r["outcome"].get("avg_nonzero_params"),
        "loss": r["outcome"]["final_val_loss"],
        "wall": r["run"]["wall_seconds"],
        "ctx": context(r),
        "ctx_len": context_any_length(r),
    }


def fmt(x):
    return f"{x:.4f}"


def loss_table(rows):
    cols = sorted({(r["S"], r["method"]) for r in rows}, key=lambda c: (c[0], c[1] != "gmp", c[1]))
    cells = {(r["width"], r["steps"], r["S"], r["method"]): r["loss"] for r in rows}
    print("\n## final validation loss")
    print("| width, steps | " + " | ".join(f"S = {s} {m}" for s, m in cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for w, t in sorted({(r["width"], r["steps"]) for r in rows}):
        vals = [cells.get((w, t, s, m)) for s, m in cols]
        print(f"| {w}, {t} | " + " | ".join("–" if v is None else fmt(v) for v in vals) + " |")


def equal_n(rows):
    groups = defaultdict(list)
    for r in rows:
        groups[(r["ctx"], r["N"])].append(r)
    print("\n## equal N, equal D (each record against the least sparse record of its N and length; < 0: sparser better)")
    print("| N | width, S, method | width, S, method | steps | loss | loss | diff |")
    print("|---|---|---|---|---|---|---|")
    wins = defaultdict(lambda: [0, 0])
    pairs_c = []
    for (_, n), g in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[1][0]["steps"])):
        base_s = min(r["S"] for r in g)
        bases = [r for r in g if r["S"] == base_s]
        if len(bases) != 1:
            continue
        b = bases[0]
        for r in sorted(g, key=lambda r: (r["S"], r["method"])):
            if r["S"] == base_s:
                continue
            diff = r["loss"] - b["loss"]
            key = (b["S"], b["method"], r["S"], r["method"])
            wins[key][0] += diff < 0
            wins[key][1] += 1
            print(f"| {n} | {b['width']}, {b['S']}, {b['method']} | {r['width']}, {r['S']}, {r['method']} | "
                  f"{r['steps']} | {fmt(b['loss'])} | {fmt(r['loss'])} | {diff:+.4f} |")
    for (bs, bm, s, m), (w, n) in sorted(wins.items()):
        print(f"S = {s} {m} against S = {bs} {bm}: sparser better in {w} of {n} equal-N, equal-D pairs")
    # equal cost: the least sparse model of the same N trained (1 - S_b)/(1 - S) times longer
    least = {}
    for r in rows:
        k = (r["ctx_len"], r["N"])
        if k not in least or r["S"] < least[k]:
            least[k] = r["S"]
    for r in sorted(rows, key=lambda r: (r["N"], r["S"], r["method"], r["steps"])):
        s_b = least[(r["ctx_len"], r["N"])]
        if r["S"] == s_b:
            continue
        longer = round(r["steps"] * (1 - s_b) / (1 - r["S"]))
        for bc in rows:
            if (bc["ctx_len"], bc["N"], bc["steps"], bc["S"]) == (r["ctx_len"], r["N"], longer, s_b):
                pairs_c.append((r, bc))
    print("\n## equal N, equal C = 6·N/(1-S)·D (the less sparse model trained (1-S_b)/(1-S) times longer)")
    print("| N | width, S, method, steps | width, S, method, steps | loss | loss | diff |")
    print("|---|---|---|---|---|---|")
    for r, b in pairs_c:
        print(f"| {r['N']} | {b['width']}, {b['S']}, {b['method']}, {b['steps']} | "
              f"{r['width']}, {r['S']}, {r['method']}, {r['steps']} | "
              f"{fmt(b['loss'])} | {fmt(r['loss'])} | {r['loss'] - b['loss']:+.4f} |")
    w = sum(r["loss"] < b["loss"] for r, b in pairs_c)
    print(f"sparser better in {w} of {len(pairs_c)} equal-N, equal-C pairs")


def multiplier(rows):
    dense = defaultdict(list)
    for r in rows:
        if r["method"] == "dense":
            dense[r["ctx"]].append(r)
    print("\n## dense-equivalent multiplier m = N*/N from the records (N*: dense size of equal loss, same length)")
    print("| S | method | width | steps | N | loss | N* | m |")
    print("|---|---|---|---|---|---|---|---|")
    ms = defaultdict(list)
    for r in sorted(rows, key=lambda r: (r["S"], r["method"], r["width"], r["steps"])):
        if r["method"] == "dense":
            continue
        ds = sorted(dense.get(r["ctx"], []), key=lambda d: d["N"])
        if len(ds) < 2:
            continue
        nstar, rising = None, False
        for a, b in zip(ds, ds[1:]):
            lo, hi = sorted((a["loss"], b["loss"]))
            if not (lo <= r["loss"] <= hi and a["loss"] != b["loss"]):
                continue
            if b["loss"] > a["loss"]:
                rising = True  # the larger dense model is worse here (undertrained): no size to read off
                continue
            t = (r["loss"] - a["loss"]) / (b["loss"] - a["loss"])
            nstar = math.exp(math.log(a["N"]) + t * (math.log(b["N"]) - math.log(a["N"])))
            break
        if nstar is None:
            if rising:
                where = "only on a part of the dense curve where loss rises with N"
            elif r["loss"] < min(d["loss"] for d in ds):
                where = "better than every dense"
            else:
                where = "worse than every dense"
            print(f"| {r['S']} | {r['method']} | {r['width']} | {r['steps']} | {r['N']} | {fmt(r['loss'])} | "
                  f"{where} | – |")
            continue
        m = nstar / r["N"]
        ms[(r["S"], r["method"])].append(m)
        print(f"| {r['S']} | {r['method']} | {r['width']} | {r['steps']} | {r['N']} | {fmt(r['loss'])} | "
              f"{nstar:.0f} | {m:.2f} |")
    for (s, meth), v in sorted(ms.items()):
        v = sorted(v)
        med = v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
        print(f"m({s}) {meth}: median {med:.2f}, range {v[0]:.2f}–{v[-1]:.2f} over {len(v)} records")


def n_m(rows):
    gmp = {(r["ctx"], r["width"], r["S"]): r for r in rows if r["method"] == "gmp"}
    dense = {(r["ctx"], r["width"]): r for r in rows if r["method"] == "dense"}
    out = [r for r in rows if ":" in r["method"]]
    if not out:
        return
    print("\n## n:m against unstructured GMP at the same width, length and sparsity")
    print("| width | steps | S | n:m | dense loss | GMP loss | n:m loss | n:m − GMP | share of the dense→GMP gap |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in sorted(out, key=lambda r: (r["S"], r["method"], r["width"], r["steps"])):
        g = gmp.get((r["ctx"], r["width"], r["S"]))
        d = dense.get((r["ctx"], r["width"]))
        if g is None or d is None:
            continue
        gap = g["loss"] - d["loss"]
        share = f"{(r['loss'] - g['loss']) / gap:+.2f}" if abs(gap) > 1e-9 else "–"
        print(f"| {r['width']} | {r['steps']} | {r['S']} | {r['method']} | {fmt(d['loss'])} | {fmt(g['loss'])} | "
              f"{fmt(r['loss'])} | {r['loss'] - g['loss']:+.4f} | {share} |")


def shapes(rows):
    cells = defaultdict(list)
    for r in rows:
        if r["method"].startswith("gmp") and r["Nbar"] is not None:
            cells[(r["ctx"], r["width"], r["S"])].append(r)
    cells = {k: g for k, g in cells.items() if len(g) > 1}
    if not cells:
        return
    print("\n## schedule shapes at equal final S and N (same width and length): does a larger N̄ mean a lower loss?")
    print("| width | steps | S | shape: N̄/N, loss (by N̄, largest first) | best | loss falls with N̄ |")
    print("|---|---|---|---|---|---|")
    best = defaultdict(int)
    mono = 0
    for (_, w, sp), g in sorted(cells.items(), key=lambda kv: (kv[0][2], kv[0][1], kv[1][0]["steps"])):
        g = sorted(g, key=lambda r: -r["Nbar"])
        b = min(g, key=lambda r: r["loss"])
        best[b["method"]] += 1
        falls = all(x["loss"] < y["loss"] for x, y in zip(g, g[1:]))
        mono += falls
        desc = "; ".join(f"{r['method']}: {r['Nbar'] / r['N']:.2f}, {fmt(r['loss'])}" for r in g)
        print(f"| {w} | {g[0]['steps']} | {sp} | {desc} | {b['method']} | {'yes' if falls else 'no'} |")
    print(f"loss falls monotonically with N̄ in {mono} of {len(cells)} cells; best shape: "
          + ", ".join(f"{m} {n}" for m, n in sorted(best.items())))


def seeds(rows):
    groups = defaultdict(list)
    for r in rows:
        ctx = json.loads(r["ctx"])
        ctx.pop("seed", None)
        groups[(json.dumps(ctx, sort_keys=True), r["width"], r["S"], r["method"])].append(r)
    groups = {k: g for k, g in groups.items() if len(g) > 1}
    if not groups:
        return
    print("\n## seed-to-seed spread (the same point trained with different seeds)")
    print("| width | S | method | steps | losses (seed: loss) | max − min |")
    print("|---|---|---|---|---|---|")
    spreads = []
    for (_, w, sp, m), g in sorted(groups.items(), key=lambda kv: kv[0][1:]):
        g = sorted(g, key=lambda r: json.loads(r["ctx"])["seed"])
        ls = [r["loss"] for r in g]
        spreads.append(max(ls) - min(ls))
        seeds_losses = ", ".join(f"{json.loads(r['ctx'])['seed']}: {fmt(r['loss'])}" for r in g)
        print(f"| {w} | {sp} | {m} | {g[0]['steps']} | {seeds_losses} | {max(ls) - min(ls):.4f} |")
    print(f"spread max − min: median {sorted(spreads)[len(spreads) // 2]:.4f}, largest {max(spreads):.4f}")


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: python3 experiments/records.py RESULTS_DIR [RESULTS_DIR ...]")
    recs = load(sys.argv[1:])
    if not recs:
        sys.exit(f"no records under {sys.argv[1:]}/points/: run `sparse-scaling run` first")
    rows = [row(r) for r in recs]
    for fam in sorted({r["family"] for r in rows}):
        fr = [r for r in rows if r["family"] == fam]
        wall = sum(r["wall"] for r in fr)
        print(f"# {fam}: {len(fr)} records from {', '.join(sys.argv[1:])}; training {wall:.0f} s in all (wall_seconds)")
        loss_table(fr)
        equal_n(fr)
        multiplier(fr)
        n_m(fr)
        shapes(fr)
        seeds(fr)


if __name__ == "__main__":
    main()
