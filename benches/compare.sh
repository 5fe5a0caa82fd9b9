#!/usr/bin/env bash
# Side-by-side training-step speed: ours (the `ops` bench binary, OPS_MODEL=<shape>) against a
# PyTorch script of the same model (benches/pytorch/), interleaved, as docs/PERFORMANCE.md
# describes. For each round, shape and thread count: ours (two run lengths; steady state =
# difference of the two runs' total times over the difference of their step counts), then
# PyTorch (median of its timed repetitions). Prints per shape and thread count the median and
# min–max of the rounds for both, and the ratio ours/PyTorch (median of the per-round ratios,
# and their min–max). Higher steps/s is better; ratio > 1 means ours is faster.
#
# Usage: benches/compare.sh [-r ROUNDS] [-s "SHAPES"] [-t "THREADS"]
#   ROUNDS   rounds (default 3)
#   SHAPES   any of vit64 vit128 t5_64 t5_128 vit_c128 vit_c256 dec256 (default: vit64 t5_64 vit_c128)
#   THREADS  thread counts (default: 1 2, and `nproc` when it is above 2)
# Environment: CARGO_TARGET_DIR as for cargo; PYTHON (default python3); RUN_PREFIX, a command put
# before every measured run (e.g. "chrt -f 1" to measure on a machine that other jobs share:
# real-time priority keeps them from taking the cores mid-run); PAUSE, seconds to sleep after
# each measured run (default 0; lets the other jobs run between bursts).
set -euo pipefail

rounds=3
shapes="vit64 t5_64 vit_c128"
threads="1 2"
if [ "$(nproc)" -gt 2 ]; then threads="1 2 $(nproc)"; fi
while getopts "r:s:t:h" opt; do
    case $opt in
        r) rounds=$OPTARG ;;
        s) shapes=$OPTARG ;;
        t) threads=$OPTARG ;;
        *) sed -n '2,15p' "$0"; exit 2 ;;
    esac
done
for s in $shapes; do
    case $s in
        vit64 | vit128 | t5_64 | t5_128 | vit_c128 | vit_c256 | dec256) ;;
        *) echo "unknown shape $s (use vit64 vit128 t5_64 t5_128 vit_c128 vit_c256 dec256)" >&2; exit 2 ;;
    esac
done
py=${PYTHON:-python3}
prefix=${RUN_PREFIX:-}
pause=${PAUSE:-0}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

echo "building the ops bench binary (cargo bench --bench ops --no-run) ..." >&2
build_log=$(cargo bench --bench ops --no-run 2>&1) || { echo "$build_log" >&2; exit 1; }
bin=$(echo "$build_log" | sed -n 's/.*Executable benches\/ops.rs (\(.*\)).*/\1/p' | tail -1)
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "could not find the ops bench executable in cargo's output:" >&2
    echo "$build_log" >&2
    exit 1
fi
case $bin in /*) ;; *) bin="$root/$bin" ;; esac

have_torch=1
if ! $py -c "import torch" >/dev/null 2>&1; then
    have_torch=0
    echo "PyTorch not installed: pip install torch transformers"
fi
have_transformers=0
if [ $have_torch = 1 ] && $py -c "import transformers" >/dev/null 2>&1; then have_transformers=1; fi

# Our two run lengths per shape, and the PyTorch command.
lengths() {
    case $1 in
        vit64 | vit128) echo "20 120" ;;
        t5_64) echo "5 25" ;;
        t5_128) echo "3 13" ;;
        vit_c128 | dec256) echo "2 8" ;;
        vit_c256) echo "1 4" ;;
        *) echo "unknown shape $1 (use vit64 vit128 t5_64 t5_128 vit_c128 vit_c256 dec256)" >&2; exit 2 ;;
    esac
}
torch_cmd() {
    local p=benches/pytorch
    case $1 in
        vit64) echo "$p/vit.py --width 64" ;;
        vit128) echo "$p/vit.py --width 128" ;;
        t5_64) echo "$p/t5.py --width 64" ;;
        t5_128) echo "$p/t5.py --width 128" ;;
        vit_c128) echo "$p/vit.py --width 128 --depth 6 --image 32 --patch 4 --channels 3 --batch 128 --steps 2 --reps 3 --warmup 1" ;;
        vit_c256) echo "$p/vit.py --width 256 --depth 6 --image 32 --patch 4 --channels 3 --batch 128 --steps 1 --reps 3 --warmup 1" ;;
        dec256) echo "$p/decoder.py --steps 2 --reps 3 --warmup 1" ;;
    esac
}

# total seconds of one run of ours: steps × "wall ms/step" / 1000
ours_run() { # shape threads steps
    local out
    # shellcheck disable=SC2086
    out=$(RAYON_NUM_THREADS=$2 OPS_TRAIN_STEPS=$3 OPS_MODEL=$1 $prefix "$bin")
    sleep "$pause"
    echo "$out" | sed -n 's/.*wall ms\/step=\([0-9.]*\).*/\1/p' | awk -v n="$3" '{ printf "%.6f\n", n * $1 / 1000 }'
}

results=$(mktemp)
trap 'rm -f "$results"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min); $(nproc) cores; run prefix: '${prefix}'"
for r in $(seq 1 "$rounds"); do
    for s in $shapes; do
        read -r n1 n2 <<<"$(lengths "$s")"
        for t in $threads; do
            a=$(ours_run "$s" "$t" "$n1")
            b=$(ours_run "$s" "$t" "$n2")
            ours=$(awk -v a="$a" -v b="$b" -v n1="$n1" -v n2="$n2" 'BEGIN { printf "%.3f", (n2 - n1) / (b - a) }')
            echo "$s $t ours $r $ours" >>"$results"
            line="round $r  $s  threads $t  ours $ours steps/s"
            if [ $have_torch = 1 ]; then
                if [[ $s == t5* ]] && [ $have_transformers = 0 ]; then
                    line="$line  (transformers not installed: pip install transformers)"
                else
                    # shellcheck disable=SC2046
                    tl=$($prefix $py $(torch_cmd "$s") --threads "$t")
                    sleep "$pause"
                    pt=$(echo "$tl" | sed -n 's/.*steps\/s median=\([0-9.]*\).*/\1/p')
                    echo "$s $t torch $r $pt" >>"$results"
                    line="$line  PyTorch $pt steps/s"
                fi
            fi
            echo "$line"
        done
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
gflop() { RAYON_NUM_THREADS=1 OPS_TRAIN_STEPS=0 OPS_MODEL=$1 "$bin" | sed -n 's/.*GFLOP\/step=\([0-9.]*\).*/\1/p'; }
printf '%-9s %7s  %-26s %-26s %-22s %s\n' shape threads "ours steps/s: med (min–max)" "PyTorch: med (min–max)" "ours/PyTorch: med (min–max)" "ours GFLOP/s"
for s in $shapes; do
    gf=$(gflop "$s")
    for t in $threads; do
        awk -v s="$s" -v t="$t" -v gf="$gf" '
            function med(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
                                             return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
            $1 == s && $2 == t && $3 == "ours" { o[$4] = $5 }
            $1 == s && $2 == t && $3 == "torch" { p[$4] = $5 }
            END {
                n = 0; m = 0; k = 0
                for (r in o) { n++; oa[n] = o[r]; if (r in p) { k++; ra[k] = o[r] / p[r] } }
                for (r in p) { m++; pa[m] = p[r] }
                om = med(oa, n); omin = oa[1]; omax = oa[n]
                ours = sprintf("%.2f (%.2f–%.2f)", om, omin, omax)
                if (m > 0) { pm = med(pa, m); torch = sprintf("%.2f (%.2f–%.2f)", pm, pa[1], pa[m]) } else torch = "–"
                if (k > 0) { rm = med(ra, k); ratio = sprintf("%.2f (%.2f–%.2f)", rm, ra[1], ra[k]) } else ratio = "–"
                printf "%-9s %7s  %-26s %-26s %-22s %.1f\n", s, t, ours, torch, ratio, om * gf
            }' "$results"
    done
done
