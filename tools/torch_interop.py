#!/usr/bin/env python3
"""Checkpoints cross between ingot and PyTorch, both ways, on slices of Fashion-MNIST.

    python3 tools/torch_interop.py path/to/interop_driver [data_dir]

1. ingot trains the 784-256-128-10 MLP for an epoch and saves its state_dict;
   PyTorch loads it with model.load_state_dict(safetensors.torch.load_file(p))
   (strict) and must give the same logits and predicted classes on 1000 test
   images.
2. PyTorch initialises the same MLP and saves it with save_file; ingot loads
   it, trains one unshuffled SGD epoch, and its loss at every step must match
   the same epoch run in PyTorch.
Exits 77 (a skip for meson) with the reason when torch, safetensors or numpy
is missing.
"""
import gzip
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    from safetensors.torch import load_file, save_file
except ImportError as e:
    print(f"torch_interop.py: skipped, {e.name} is not installed (pip install torch==2.13.0 safetensors numpy)")
    sys.exit(77)

driver = sys.argv[1]
data_dir = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("INGOT_FASHION_MNIST_DIR",
                                                                 "/usr/share/datasets/fashion-mnist")


def idx(name):
    with gzip.open(os.path.join(data_dir, name)) as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mlp():
    return torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                               torch.nn.ReLU(), torch.nn.Linear(128, 10))


train_x = torch.tensor(idx("train-images-idx3-ubyte.gz")[:2000].reshape(2000, 784) / 255.0, dtype=torch.float32)
train_y = torch.tensor(idx("train-labels-idx1-ubyte.gz")[:2000].astype(np.int64))
test_x = torch.tensor(idx("t10k-images-idx3-ubyte.gz")[:1000].reshape(1000, 784) / 255.0, dtype=torch.float32)
failures = []

with tempfile.TemporaryDirectory() as tmp:
    # 1. ingot -> PyTorch
    weights, logits_path = os.path.join(tmp, "ingot.safetensors"), os.path.join(tmp, "logits.npy")
    subprocess.run([driver, "train", weights, logits_path], check=True)
    model = mlp()
    model.load_state_dict(load_file(weights))  # strict: every name and shape
    model.eval()
    with torch.no_grad():
        torch_logits = model(test_x).numpy()
    ingot_logits = np.load(logits_path)
    diff = float(np.max(np.abs(torch_logits - ingot_logits)))
    same_class = int(np.sum(torch_logits.argmax(1) == ingot_logits.argmax(1)))
    print(f"ingot -> torch: max |logit difference| {diff:.3g} over 1000 test images; "
          f"same predicted class on {same_class}/1000")
    if diff > 1e-4 or same_class != 1000:
        failures.append("ingot's checkpoint gives other predictions in PyTorch")

    # 2. PyTorch -> ingot
    torch.manual_seed(123)
    model = mlp()
    start = os.path.join(tmp, "torch.safetensors")
    save_file(model.state_dict(), start)
    losses_path = os.path.join(tmp, "losses.npy")
    subprocess.run([driver, "first-epoch", start, losses_path], check=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    torch_losses = []
    for b in range(0, 2000, 100):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(train_x[b:b + 100]), train_y[b:b + 100])
        loss.backward()
        opt.step()
        torch_losses.append(loss.item())
    ingot_losses = np.load(losses_path)
    rel = float(np.max(np.abs(ingot_losses - np.array(torch_losses)) / np.abs(np.array(torch_losses))))
    print(f"torch -> ingot: first-epoch losses {torch_losses[0]:.6f} ... {torch_losses[-1]:.6f} (torch), "
          f"{ingot_losses[0]:.6f} ... {ingot_losses[-1]:.6f} (ingot); max relative difference {rel:.3g} "
          f"over {len(torch_losses)} steps")
    if len(ingot_losses) != len(torch_losses) or rel > 1e-4:
        failures.append("PyTorch-initialised weights train differently in ingot")

if failures:
    print("torch_interop.py: FAILED: " + "; ".join(failures))
    sys.exit(1)
print("torch_interop.py: both directions agree")
