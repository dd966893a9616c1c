#!/usr/bin/env python3
"""The cost model of data-parallel training in docs/scaling.md.

A step on p nodes costs the forward and backward pass on the node's part of
the global batch, t_c(B / p), plus a ring all-reduce of the gradient arena
(M bytes) over links of bandwidth beta and latency alpha:

    t_ar(p) = 2 (p - 1) alpha + 2 (p - 1) / p * M / beta

(reduce-scatter then all-gather: each node sends and receives 2 (p - 1) / p
of the arena). t_c(b) is measured: one rank, one thread, per-step time at
local batch b (bench/distributed.py --compute, in docs/bench/distributed.json),
fitted as t0 + b * t_row. Without overlap a step costs t_c + t_ar; with
perfect overlap, max(t_c, t_ar) — the two bounds are drawn.

    python3 tools/scaling_model.py [docs/bench/distributed.json] [--out docs]
needs matplotlib for the chart (the bench venv has it); the table prints
without it.
"""
import argparse
import json
import sys

ARENA_BYTES = 235146 * 4  # the 784-256-128-10 MLP's parameters, float
GBITS = [10, 25, 100]
ALPHA = 10e-6  # seconds per message hop: TCP on a data-centre network; RDMA is nearer 2 us
NODES = [1, 2, 4, 8, 16, 32, 64]


def fit(points):
    """Least squares t = t0 + b * t_row over (b, t) points."""
    n = len(points)
    mb = sum(b for b, _ in points) / n
    mt = sum(t for _, t in points) / n
    row = sum((b - mb) * (t - mt) for b, t in points) / sum((b - mb) ** 2 for b, _ in points)
    return mt - row * mb, row


def allreduce(p, gbit, alpha=ALPHA, m=ARENA_BYTES):
    if p == 1:
        return 0.0
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * m / (gbit * 1e9 / 8)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("measured", nargs="?", default="docs/bench/distributed.json")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    with open(args.measured) as f:
        data = json.load(f)
    compute = sorted((c["batch"], c["step_seconds"]) for c in data["compute"])
    t0, row = fit(compute)
    tc = lambda b: t0 + row * b  # noqa: E731
    print(f"compute per step, 1 thread: t_c(b) = {t0 * 1e6:.1f} us + b * {row * 1e6:.2f} us "
          f"(fitted to local batches {', '.join(str(b) for b, _ in compute)})")
    print(f"gradient arena {ARENA_BYTES / 1e6:.2f} MB; latency {ALPHA * 1e6:.0f} us per hop\n")
    cases = [("strong", 256), ("strong", 1024), ("weak", 64), ("weak", 256)]
    lines = ["| scaling | batch | link | " + " | ".join(f"{p} nodes" for p in NODES) + " | comm > compute from |",
             "|---|---|---|" + "---|" * len(NODES) + "---|"]
    for kind, batch in cases:
        for g in GBITS:
            cells, cross = [], "-"
            for p in NODES:
                local = batch / p if kind == "strong" else batch
                total = tc(batch if kind == "strong" else batch)
                step = tc(local) + allreduce(p, g)
                # Speedup in samples per second over one node.
                speed = (p * total / step) if kind == "weak" else total / step
                cells.append(f"{speed:.1f}x")
                if cross == "-" and allreduce(p, g) > tc(local):
                    cross = f"{p} nodes"
            label = f"global {batch}" if kind == "strong" else f"{batch} per node"
            lines.append(f"| {kind} | {label} | {g} Gb/s | " + " | ".join(cells) + f" | {cross} |")
    table = "\n".join(lines)
    print("Speedup in samples per second over one node (no overlap):\n")
    print(table)
    if not args.out:
        return
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("scaling_model.py: matplotlib is missing (bench/run.sh installs it in build-bench/venv)")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (kind, batch) in zip(axes, [("strong", 256), ("weak", 64)]):
        for g, colour in zip(GBITS, ["tab:red", "tab:orange", "tab:green"]):
            lo, hi = [], []
            for p in NODES:
                local = batch / p if kind == "strong" else batch
                total = tc(batch)
                ar = allreduce(p, g)
                f = (lambda s: p * total / s) if kind == "weak" else (lambda s: total / s)
                lo.append(f(tc(local) + ar))
                hi.append(f(max(tc(local), ar)))
            ax.plot(NODES, lo, "-o", color=colour, label=f"{g} Gb/s, no overlap")
            ax.plot(NODES, hi, "--", color=colour, alpha=0.6, label=f"{g} Gb/s, full overlap")
        ax.plot(NODES, NODES, ":", color="grey", label="linear")
        measured = [r for r in data["rows"] if r["batch"] == batch and r["threads"] == 1]
        if kind == "strong" and measured:
            base = next(r for r in measured if r["ranks"] == 1)["median"]
            two = min(r["median"] for r in measured if r["ranks"] == 2)
            ax.plot([2], [base / two], "k*", markersize=12, label="measured: 2 ranks, one machine")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xlabel("nodes (one core each)")
        ax.set_ylabel("speedup over one node")
        title = f"global batch {batch}" if kind == "strong" else f"{batch} samples per node"
        ax.set_title(f"MLP 784-256-128-10, {title}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = f"{args.out}/scaling.png"
    fig.savefig(path, dpi=110)
    print(f"\nchart: {path}")


if __name__ == "__main__":
    main()
