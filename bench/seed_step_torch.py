#!/usr/bin/env python3
"""The seed loop's training step in PyTorch eager (CPU), timed like bench_seed_step.

    python3 bench/seed_step_torch.py [runs] [steps_per_run]
"""
import sys
import time

try:
    import torch
except ImportError:
    sys.exit("seed_step_torch.py: torch is not installed (pip install torch==2.13.0)")

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
torch.manual_seed(0)
x, y = torch.randn(100, 10), torch.randn(100, 1)
model = torch.nn.Linear(10, 1)
criterion = torch.nn.MSELoss()
opt = torch.optim.SGD(model.parameters(), lr=0.01)
per_step = []
for _ in range(runs):
    start = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()
    per_step.append((time.perf_counter() - start) / steps * 1e6)
per_step.sort()
print("torch seed_step median_us %.4f min_us %.4f max_us %.4f runs %d steps %d threads %d" % (
    per_step[len(per_step) // 2], per_step[0], per_step[-1], runs, steps, torch.get_num_threads()))
