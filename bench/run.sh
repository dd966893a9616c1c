#!/bin/sh
# The benchmark suite in one command: builds ingot's side, makes sure a
# Python with torch 2.13.0, jax and matplotlib is at hand (a virtual
# environment in build-bench/venv, installed on first use), checks that all
# sides compute the same losses, times every workload and writes
# build-bench/results.md (the table), results.json and bench.png (the chart).
#   sh bench/run.sh [--quick] [--processes N] [--only seed,mlp64,...,cnn] [--no-peers] [--out DIR]
#   sh bench/run.sh cnn [--steps N] [--runs N] [--processes N]   the CNN workload alone (bench/cnn.py)
set -e
cd "$(dirname "$0")/.."
script=bench/suite.py
if [ "${1:-}" = "cnn" ]; then
  shift
  script=bench/cnn.py
fi
sh tools/build.sh bench/bench_workloads bench/bench_cnn >/dev/null
python=python3
if ! python3 -c 'import torch, jax, matplotlib' 2>/dev/null; then
  venv=build-bench/venv
  if ! "$venv/bin/python" -c 'import torch, jax, matplotlib' 2>/dev/null; then
    echo "bench: torch, jax or matplotlib is missing; installing torch==2.13.0 (CPU), jax and matplotlib into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q torch==2.13.0
    "$venv/bin/pip" install -q jax matplotlib numpy
  fi
  python="$venv/bin/python"
fi
exec "$python" "$script" "$@"
