#!/usr/bin/env python3
"""Draws a metrics file (the example's --metrics, CSV or JSON lines) as a PNG:
the training and validation loss, and the validation accuracy, per epoch.

    python3 tools/plot_metrics.py metrics.csv [out.png]

Needs matplotlib (pip install matplotlib).
"""
import csv
import json
import math
import sys

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("plot_metrics.py: matplotlib is not installed (pip install matplotlib)")

if len(sys.argv) < 2:
    sys.exit(__doc__)
path = sys.argv[1]
out = sys.argv[2] if len(sys.argv) > 2 else path.rsplit(".", 1)[0] + ".png"


def number(v):
    try:
        return float(v) if v is not None else math.nan
    except ValueError:
        return math.nan


with open(path) as f:
    if path.endswith(".csv"):
        rows = list(csv.DictReader(f))
    else:
        rows = [json.loads(line) for line in f if line.strip()]
if not rows:
    sys.exit(f"plot_metrics.py: {path} has no rows")
for i, r in enumerate(rows):
    if "epoch" not in r or "loss" not in r:
        sys.exit(f"plot_metrics.py: {path}: row {i + 1} has no epoch or loss column")

epochs = [int(number(r["epoch"])) for r in rows]
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
ax_loss.plot(epochs, [number(r["loss"]) for r in rows], marker="o", label="training loss")
if "val_loss" in rows[0]:
    ax_loss.plot(epochs, [number(r.get("val_loss")) for r in rows], marker="o", label="validation loss")
ax_loss.set_xlabel("epoch")
ax_loss.set_ylabel("cross-entropy")
ax_loss.legend()
ax_loss.grid(alpha=0.3)
if "val_accuracy" in rows[0]:
    ax_acc.plot(epochs, [100 * number(r.get("val_accuracy")) for r in rows], marker="o", color="C2")
    ax_acc.set_ylabel("validation accuracy (%)")
else:
    ax_acc.text(0.5, 0.5, "no validation metrics", ha="center", va="center", transform=ax_acc.transAxes)
ax_acc.set_xlabel("epoch")
ax_acc.grid(alpha=0.3)
fig.suptitle(path)
fig.tight_layout()
fig.savefig(out, dpi=100)
print(f"plot_metrics.py: wrote {out}")
