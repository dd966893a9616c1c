#!/usr/bin/env python3
"""One epoch of the 784-256-128-10 MLP on Fashion-MNIST in PyTorch eager (CPU),
timed like bench_mlp_epoch: Adam lr 1e-3, cross-entropy, shuffled batches.

    python3 bench/mlp_epoch_torch.py [epochs] [batch_size] [threads]
"""
import gzip
import os
import sys
import time

try:
    import torch
except ImportError:
    sys.exit("mlp_epoch_torch.py: torch is not installed (pip install torch==2.13.0)")

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 64
if len(sys.argv) > 3:
    torch.set_num_threads(int(sys.argv[3]))
folder = os.environ.get("INGOT_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def idx(name, offset):
    with gzip.open(os.path.join(folder, name), "rb") as f:
        return torch.frombuffer(bytearray(f.read()[offset:]), dtype=torch.uint8)


x = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784).float() / 255.0
y = idx("train-labels-idx1-ubyte.gz", 8).long()
torch.manual_seed(1)
model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(),
                            torch.nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()
times = []
for _ in range(epochs):
    start = time.perf_counter()
    perm = torch.randperm(x.shape[0])
    total = 0.0
    for first in range(0, x.shape[0], batch):
        idx_b = perm[first:first + batch]
        opt.zero_grad()
        loss = loss_fn(model(x[idx_b]), y[idx_b])
        loss.backward()
        opt.step()
        total += loss.item() * idx_b.numel()
    times.append(time.perf_counter() - start)
times.sort()
print("torch mlp_epoch median_s %.4f min_s %.4f max_s %.4f epochs %d batch %d final_loss %.4f threads %d" % (
    times[len(times) // 2], times[0], times[-1], epochs, batch, total / x.shape[0], torch.get_num_threads()))
