#!/bin/sh
# Builds bench_seed_step, runs it and the PyTorch equivalent in the same
# invocation, and prints a side-by-side table of median microseconds per step.
#   bench/run_seed_step.sh [builddir]
set -e
cd "$(dirname "$0")/.."
build=${1:-build}
[ -d "$build" ] || meson setup "$build" >/dev/null
ninja -C "$build" bench/bench_seed_step >/dev/null
ours=$("$build/bench/bench_seed_step" 15 20000)
echo "$ours"
if python3 -c 'import torch' 2>/dev/null; then
  theirs=$(python3 bench/seed_step_torch.py 15 2000)
  echo "$theirs"
else
  echo "torch is not installed (pip install torch==2.13.0): PyTorch column skipped"
  theirs=""
fi
a=$(echo "$ours" | awk '{print $4}')
b=$(echo "$theirs" | awk '{print $4}')
printf '\n| seed step (Linear 10->1, MSE, SGD, batch 100) | median us/step |\n|---|---|\n'
printf '| ingot | %s |\n' "$a"
if [ -n "$b" ]; then
  printf '| PyTorch eager | %s |\n' "$b"
  printf '| PyTorch / ingot | %s |\n' "$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.1fx", b/a}')"
fi
