#!/bin/sh
# Runs every benchmark in ingot and its PyTorch equivalent in the same
# invocation and prints a table of medians and ratios.
#   bench/run.sh [builddir]
set -e
cd "$(dirname "$0")/.."
build=${1:-build}
sh tools/build.sh bench/bench_seed_step bench/bench_mlp_epoch >/dev/null
have_torch=0
python3 -c 'import torch' 2>/dev/null && have_torch=1
[ $have_torch = 1 ] || echo "torch is not installed (pip install torch==2.13.0): PyTorch columns are skipped"

field() { echo "$1" | awk -v k="$2" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}'; }

seed=$("$build/bench/bench_seed_step" 15 20000); echo "$seed"
mlp=$("$build/bench/bench_mlp_epoch" 5 64); echo "$mlp"
if [ $have_torch = 1 ]; then
  tseed=$(python3 bench/seed_step_torch.py 15 2000); echo "$tseed"
  tmlp=$(python3 bench/mlp_epoch_torch.py 3 64); echo "$tmlp"
  tmlp1=$(python3 bench/mlp_epoch_torch.py 3 64 1); echo "$tmlp1"
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a > 0 && b > 0) printf "%.2fx", b / a; else print "-" }'; }
echo
echo "| benchmark | ingot (1 thread) | PyTorch eager | PyTorch / ingot |"
echo "|---|---|---|---|"
s_i=$(field "$seed" median_us); m_i=$(field "$mlp" median_s)
if [ $have_torch = 1 ]; then
  s_t=$(field "$tseed" median_us); m_t=$(field "$tmlp" median_s); m_t1=$(field "$tmlp1" median_s)
  echo "| seed step, us (Linear 10->1, MSE, SGD, batch 100) | $s_i | $s_t ($(field "$tseed" threads) threads) | $(ratio "$s_i" "$s_t") |"
  echo "| MLP epoch, s (784-256-128-10, Adam, batch 64) | $m_i | $m_t ($(field "$tmlp" threads) threads) | $(ratio "$m_i" "$m_t") |"
  echo "| MLP epoch, s, PyTorch on 1 thread | $m_i | $m_t1 (1 thread) | $(ratio "$m_i" "$m_t1") |"
else
  echo "| seed step, us | $s_i | - | - |"
  echo "| MLP epoch, s | $m_i | - | - |"
fi
