#!/usr/bin/env python3
"""ingot against PyTorch (eager, default threads and 1 thread; torch.compile)
and JAX (jit per step; an epoch under lax.scan) on the same machine, in one
invocation. bench/run.sh calls it with a Python that has torch and jax.

First it checks that every side computes the same losses from the same
initial weights (20 steps on the first batches in order); only then does it
time. Each measurement runs in several fresh processes, the sides of a
workload taking turns; a process reports several timed repetitions after a
warm-up. The table gives the median over
all repetitions, the min-max, ingot's speedup over each peer, and ingot's
GFLOP/s with its share of the FMA peak measured on this machine.

    python3 bench/suite.py [--processes N] [--quick] [--out DIR] [--only w1,w2] [--no-peers]

Workloads: seed, mlp64, mlp256, mlp64-bf16, mlp256-bf16, width, infer,
infer-bf16, cnn (bench/cnn.py: PyTorch eager and JAX's jit; no torch.compile
or lax.scan side). The -bf16 workloads run the products with bfloat16
operands and float sums on every side (ingot's set_matmul_precision,
torch.autocast, JAX's bfloat16 dots with float32 results), where the target
has AVX-512 BF16; their share is of the bfloat16 peak (vdpbf16ps), which
the suite measures beside the float one. A peer's best setting may be its
float one: compare the rows as well as the ratios.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDTHS = [64, 128, 256, 512, 1024, 2048]
PEERS = ["torch", "torch-1t", "torch.compile", "jax-jit", "jax-scan"]
# Relative, per loss: the first steps must agree closely; later ones drift
# apart as Adam's normalisation amplifies float rounding (on the 2048-wide
# model torch and ingot reach 3e-3 by step 20 from 1e-7 at step 1).
CHECK_TOLERANCE_FIRST = 1e-4  # the first 5 of 20 steps
CHECK_TOLERANCE = 1e-2  # all 20


def training_flops(dims, rows):
    """GEMM FLOPs of forward + backward over `rows` samples: the forward and
    weight-gradient products of every layer, the input-gradient product of
    every layer but the first."""
    macs = sum(a * b for a, b in zip(dims, dims[1:]))
    return 2.0 * rows * (3 * macs - dims[0] * dims[1])


def forward_flops(dims, rows):
    return 2.0 * rows * sum(a * b for a, b in zip(dims, dims[1:]))


class Runner:
    def __init__(self, args):
        self.args = args
        self.ingot = os.path.join(args.build, "bench", "bench_workloads")
        self.records = []

    def run(self, cmd, what):
        sys.stdout.write(f"  {what} ... ")
        sys.stdout.flush()
        start = time.perf_counter()
        env = dict(os.environ, PYTHONWARNINGS="ignore", TF_CPP_MIN_LOG_LEVEL="3")
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
        if p.returncode != 0 or not lines:
            print("failed")
            sys.exit(f"suite.py: {' '.join(cmd)} failed:\n{p.stderr[-3000:]}")
        rec = json.loads(lines[-1])
        print(f"{time.perf_counter() - start:.1f} s")
        return rec

    def impl_cmd(self, impl, args):
        if impl.startswith("ingot"):
            return [self.ingot] + args
        threads = []
        name = impl
        if impl == "torch-1t":
            name, threads = "torch", ["--threads", "1"]
        return [sys.executable, os.path.join(ROOT, "bench", "peers.py"), name] + threads + args

    def measure_row(self, workload, sides, label=None):
        """Times every side of one workload ({impl: args}) in fresh
        processes, taken in turns (process 1 of each side, then process 2 of
        each, ...), so that a change in the machine's load during the row
        falls on all sides alike rather than on whichever ran then. Records
        every repetition; returns {impl: record}."""
        times = {impl: [] for impl in sides}
        links = {impl: [] for impl in sides}  # ingot's core link after each all-core process
        last = {}
        for p in range(self.args.processes):
            for impl, args in sides.items():
                rec = self.run(self.impl_cmd(impl, args), f"{workload} {impl} (process {p + 1})")
                times[impl] += rec["times"]
                if rec.get("core_round_trip_ns"):
                    links[impl].append(rec["core_round_trip_ns"])
                last[impl] = rec
        row = {}
        for impl, rec in last.items():
            t = times[impl]
            row[impl] = {"workload": label or workload, "impl": impl, "unit": rec["unit"], "threads": rec["threads"],
                         "loss": rec["loss"], "times": t, "median": statistics.median(t), "min": min(t),
                         "max": max(t), "core_round_trip_ns": links[impl]}
            self.records.append(row[impl])
        return row


def check(runner, peers, models):
    """Same initial weights, same batches: the peers' losses must match ingot's."""
    print("checking that every side computes the same losses")
    worst = {}
    with tempfile.TemporaryDirectory() as folder:
        for model, batch, impls in models:
            ref = runner.run([runner.ingot, "check", model, "20", str(batch), folder], f"check {model} ingot")
            for impl in impls:
                if impl not in peers or impl == "torch-1t":  # the same code as torch
                    continue
                name = impl
                rec = runner.run(runner.impl_cmd(name, ["check", model, "20", str(batch), folder]),
                                 f"check {model} {name}")
                rel = [abs(a - b) / max(abs(a), 1e-12) for a, b in zip(ref["losses"], rec["losses"])]
                first, diff = max(rel[:5]), max(rel)
                if len(rec["losses"]) != len(ref["losses"]) or not (first <= CHECK_TOLERANCE_FIRST and
                                                                    diff <= CHECK_TOLERANCE):
                    sys.exit(f"suite.py: {name} disagrees with ingot on {model}: max relative loss difference "
                             f"{first:.3g} over the first 5 steps (tolerance {CHECK_TOLERANCE_FIRST}), {diff:.3g} "
                             f"over 20 (tolerance {CHECK_TOLERANCE})\n  ingot {ref['losses']}\n  {name} "
                             f"{rec['losses']}")
                worst[f"{model} {name}"] = (first, diff)
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--processes", type=int, default=3, help="fresh processes per measurement (default 3)")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and widths: a smoke run")
    ap.add_argument("--out", default=os.path.join(ROOT, "build-bench"), help="folder for results.{json,md}, bench.png")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="ingot's meson build folder")
    ap.add_argument("--only", default="seed,mlp64,mlp256,mlp64-bf16,mlp256-bf16,width,infer,infer-bf16,cnn", help="comma-separated workloads")
    ap.add_argument("--no-peers", action="store_true", help="ingot only")
    args = ap.parse_args()
    runner = Runner(args)
    only = set(args.only.split(","))
    peers = [] if args.no_peers else PEERS
    quick = args.quick
    epochs = "1" if quick else "2"
    widths = [64, 512, 2048] if quick else WIDTHS
    os.makedirs(args.out, exist_ok=True)

    peak1, peak_all = measure_peaks(runner)

    models = [("seed", 100, peers), ("mlp-256-128", 64, peers)]
    if "width" in only:
        models += [(f"mlp-{w}-{w}", 64, ["torch", "jax-jit"]) for w in (widths[0], widths[-1])]
    agreement = check(runner, peers, models) if peers else {}

    results = []  # (workload, flops per unit or None, {impl: record})
    if "seed" in only:
        print("seed: Linear 10->1, MSE, SGD lr 0.01, batch 100; us per step")
        sides = {"ingot": ["seed", "5", "20000"]}
        for impl in peers:
            sides[impl] = ["seed", "5", "20000" if impl == "jax-scan" else "2000"]
        row = runner.measure_row("seed", sides)
        results.append(("seed (Linear 10→1, SGD), µs/step", None, row))
    for name, batch in (("mlp64", 64), ("mlp256", 256), ("mlp64-bf16", 64), ("mlp256-bf16", 256)):
        if name not in only:
            continue
        bf16 = name.endswith("-bf16")
        if bf16 and not peak_all.get("peak_gflops_bf16", 0) > 0:
            print(f"{name}: skipped, this build's target has no AVX-512 BF16")
            continue
        print(f"{name}: Fashion-MNIST 784-256-128-10, Adam 1e-3, batch {batch}, one epoch with shuffling"
              + (", bfloat16 products" if bf16 else ""))
        precision = ["bf16"] if bf16 else []
        args_i = ["mlp", "256", "128", str(batch), str(int(epochs) + 1)]
        sides = {"ingot": args_i + ["0"] + precision, "ingot-1t": args_i + ["1"] + precision}
        for impl in peers:
            sides[impl] = ["mlp", "256", "128", str(batch), epochs] + precision
        row = runner.measure_row(name, sides)
        for rec in (row["ingot"], row["ingot-1t"]):  # ingot's first epoch is its warm-up, as the peers'
            rec["times"] = [t for i, t in enumerate(rec["times"]) if i % (int(epochs) + 1) != 0]
            rec["median"], rec["min"], rec["max"] = statistics.median(rec["times"]), min(rec["times"]), max(rec["times"])
        results.append((f"{name} (784-256-128-10, Adam, batch {batch}" + (", bfloat16 products" if bf16 else "")
                        + "), s/epoch",
                        training_flops([784, 256, 128, 10], 60000), row))
    if "width" in only:
        print("width: 784-W-W-10, Adam, batch 64, contiguous batches; seconds per step")
        for w in widths:
            flops = training_flops([784, w, w, 10], 64)
            steps = str(max(20, min(400, int(3e10 / flops)))) if not quick else "20"
            label = f"width {w}"
            sides = {"ingot": ["steps", str(w), "64", steps, "3", "0"],
                     "ingot-1t": ["steps", str(w), "64", steps, "3", "1"]}
            for impl in ("torch", "jax-jit", "jax-scan"):
                if impl in peers:
                    sides[impl] = ["steps", str(w), "64", steps, "3"]
            row = runner.measure_row(label, sides, label)
            results.append((f"width {w} (784-{w}-{w}-10, batch 64), ms/step", flops, row))
    if "infer" in only:
        print("infer: the 784-256-128-10 MLP's outputs for the 10,000 test images")
        sides = {"ingot": ["infer", "20", "10000", "0"], "ingot-1t": ["infer", "20", "10000", "1"]}
        for impl in ("torch", "torch-1t", "torch.compile", "jax-jit"):
            if impl in peers:
                sides[impl] = ["infer", "20"]
        row = runner.measure_row("infer", sides)
        results.append(("infer (10,000 test images), ms", forward_flops([784, 256, 128, 10], 10000), row))
    if "infer-bf16" in only:
        if peak_all.get("peak_gflops_bf16", 0) > 0:
            print("infer-bf16: the same outputs with bfloat16 operands and float sums")
            sides = {"ingot": ["infer", "20", "10000", "0", "bf16"], "ingot-1t": ["infer", "20", "10000", "1", "bf16"]}
            for impl in ("torch", "torch-1t", "torch.compile", "jax-jit"):
                if impl in peers:
                    sides[impl] = ["infer", "20", "bf16"]
            row = runner.measure_row("infer-bf16", sides)
            results.append(("infer, bfloat16 products (10,000 test images), ms", forward_flops([784, 256, 128, 10], 10000),
                            row))
        else:
            print("infer-bf16: skipped, this build's target has no AVX-512 BF16")
    if "cnn" in only:
        row, flops, cnn_agreement = cnn(args, peak_all, peers)
        agreement.update(cnn_agreement)
        runner.records += list(row.values())
        results.append(("cnn (2 conv + BatchNorm2d + pool, 3136-128-10, Adam, batch 64), ms/step", flops, row))

    # The peak again after the workloads, the larger kept: a measurement that
    # shares the cores with another process reads low (a compile running
    # beside the first one halved the 2-thread figure), and a low peak
    # inflates every share in the table.
    again1, again_all = measure_peaks(runner)
    peak1 = max(peak1, again1, key=lambda r: r["peak_gflops"])
    links = [r for r in (peak_all, again_all) if r.get("core_round_trip_ns")]
    peak_all = dict(max(peak_all, again_all, key=lambda r: r["peak_gflops"]), links=links)
    peaks = {1: peak1["peak_gflops"], peak_all["threads"]: peak_all["peak_gflops"]}
    peaks_bf16 = {1: peak1.get("peak_gflops_bf16", 0), peak_all["threads"]: peak_all.get("peak_gflops_bf16", 0)}
    table = report(results, peaks, agreement, peak_all, peaks_bf16)
    print()
    print(table)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"peaks": peaks, "peaks_bf16": peaks_bf16, "peak_256bit": {1: peak1["peak_gflops_256bit"],
                                                   peak_all["threads"]: peak_all["peak_gflops_256bit"]},
                   "core_links": peak_all.get("links", []), "agreement": agreement, "records": runner.records,
                   "rows": [[label, flops, list(row)] for label, flops, row in results]}, f, indent=1)
    plot(results, os.path.join(args.out, "bench.png"), peaks)


def measure_peaks(runner):
    return (runner.run([runner.ingot, "peak", "1"], "FMA peak, 1 thread"),
            runner.run([runner.ingot, "peak", "0"], "FMA peak, all cores"))


def cnn(args, peak_all, peers):
    """The CNN workload: bench/cnn.py checks the losses and times every side
    in fresh processes; its cnn.json becomes one row of the table."""
    print("cnn: the Fashion-MNIST CNN of examples/fashion_mnist_cnn without Dropout, Adam, batch 64")
    cmd = [sys.executable, os.path.join(ROOT, "bench", "cnn.py"), "--processes", str(args.processes),
           "--peak", str(peak_all["peak_gflops"]), "--build", args.build, "--out", args.out]
    if args.quick:
        cmd += ["--steps", "20", "--runs", "2"]
    if not peers:
        cmd.append("--no-peers")
    if subprocess.run(cmd).returncode != 0:
        sys.exit("suite.py: bench/cnn.py failed")
    with open(os.path.join(args.out, "cnn.json")) as f:
        saved = json.load(f)
    row = {}
    for impl, r in saved["results"].items():
        rec = {"workload": "cnn", "impl": impl, "unit": "s/step", "threads": saved["threads"][impl], "loss": None,
               "times": r["times"], "median": r["median"], "min": r["min"], "max": r["max"],
               "core_round_trip_ns": saved.get("ingot_round_trips_ns", []) if impl == "ingot" else []}
        row[impl] = rec
    return row, saved["train_flops_per_step"], {f"cnn {p}": tuple(v) for p, v in saved["agreement"].items()}


def scale(label):
    return 1e3 if ("ms/step" in label or ", ms" in label) else 1.0


def report(results, peaks, agreement, peak_all, peaks_bf16):
    cols = ["ingot", "ingot-1t"] + PEERS
    present = [c for c in cols if any(c in row for _, _, row in results)]
    lines = []
    machine = machine_name()
    lines.append(f"Machine: {machine}; FMA peak measured {peaks[1]:.0f} GFLOP/s on 1 thread, "
                 f"{peak_all['peak_gflops']:.0f} on {peak_all['threads']} (float, {peak_all['simd_bytes'] * 8}-bit "
                 f"vectors)" + (f"; bfloat16 pairs (vdpbf16ps) {peaks_bf16[1]:.0f} and "
                                  f"{peaks_bf16[peak_all['threads']]:.0f}." if peaks_bf16.get(1) else "."))
    links = peak_all.get("links", [])
    if links:
        lines.append("Cores 0 and 1, before and after the workloads: a cache line's round trip "
                     + " and ".join(f"{l['core_round_trip_ns']:.0f}" for l in links)
                     + " ns; thread 0 reads 4 MB written by thread 1 at "
                     + " and ".join(f"{l['remote_read_gbs']:.0f}" for l in links) + " GB/s, its own at "
                     + " and ".join(f"{l['local_read_gbs']:.0f}" for l in links)
                     + " GB/s (a virtual machine's vCPUs may or may not share a cache, and two-thread figures "
                       "depend on it).")
    if agreement:
        first = max(agreement, key=lambda k: agreement[k][0])
        whole = max(agreement, key=lambda k: agreement[k][1])
        lines.append(f"Losses agree before timing (same initial weights, the first 20 batches in order): largest "
                     f"relative difference to ingot {agreement[first][0]:.2g} over the first 5 steps ({first}), "
                     f"{agreement[whole][1]:.2g} over 20 ({whole}).")
    trips = [(label.split(" (")[0], row["ingot"]["core_round_trip_ns"]) for label, _, row in results
             if "ingot" in row and row["ingot"].get("core_round_trip_ns")]
    if trips:
        lines.append("The same round trip after each of ingot's all-core processes, ns: "
                     + "; ".join(f"{name} " + ", ".join(f"{t:.0f}" for t in ts) for name, ts in trips) + ".")
    lines.append("")
    lines.append("Median (min–max) of all timed repetitions; the ratio is the peer's median over ingot's on all "
                 "cores (over ingot on 1 thread for the 1-thread columns).")
    lines.append("")
    lines.append("| workload | " + " | ".join(present) + " | ingot GFLOP/s (share of peak) |")
    lines.append("|---|" + "---|" * (len(present) + 1))
    for label, flops, row in results:
        k = scale(label)
        cells = []
        for c in present:
            r = row.get(c)
            if not r:
                cells.append("—")
                continue
            cell = f"{r['median'] * k:.4g} ({r['min'] * k:.3g}–{r['max'] * k:.3g})"
            if not c.startswith("ingot"):
                ref = row.get("ingot-1t", row["ingot"]) if c.endswith("-1t") else row["ingot"]
                cell += f" **{r['median'] / ref['median']:.2f}x**"
            cells.append(cell)
        gf = "—"
        # A bfloat16 row's share is of the bfloat16 peak.
        pk = peaks_bf16 if "bfloat16" in label else peaks
        if flops:
            parts = []
            for c in ("ingot", "ingot-1t"):
                if c in row:
                    t = row[c]["threads"]
                    g = flops / row[c]["median"] * 1e-9
                    parts.append(f"{g:.0f} ({100 * g / pk.get(t, pk[1]):.0f}% of {t}-thread peak)")
            gf = "; ".join(parts)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {gf} |")
    return "\n".join(lines)


def machine_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{os.cpu_count()} cores"


def plot(results, path, peaks):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("suite.py: matplotlib is not installed, no chart")
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5.2))
    fixed = [(l, f, r) for l, f, r in results if not l.startswith("width")]
    peers = [p for p in PEERS if any(p in r for _, _, r in fixed)]
    n = max(1, len(peers))
    for i, p in enumerate(peers):
        xs, ys = [], []
        for j, (label, _, row) in enumerate(fixed):
            if p in row:
                ref = row.get("ingot-1t", row["ingot"]) if p.endswith("-1t") else row["ingot"]
                xs.append(j + (i - (n - 1) / 2) * 0.8 / n)
                ys.append(row[p]["median"] / ref["median"])
        ax1.bar(xs, ys, width=0.8 / n, label=p)
    ax1.axhline(1.0, color="black", lw=0.8)
    ax1.set_yscale("log")
    ax1.set_xticks(range(len(fixed)))
    ax1.set_xticklabels([l.split(" (")[0] for l, _, _ in fixed], rotation=30, ha="right")
    ax1.set_ylabel("peer time / ingot time (above 1: ingot faster)")
    ax1.set_title("ingot's speedup over each peer")
    ax1.legend(fontsize=8)
    widths = [(int(l.split()[1]), f, r) for l, f, r in results if l.startswith("width")]
    if widths:
        for impl in ["ingot", "ingot-1t", "torch", "jax-jit", "jax-scan"]:
            pts = [(w, f / r[impl]["median"] * 1e-9) for w, f, r in widths if impl in r]
            if pts:
                ax2.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=impl)
        for t, g in sorted(peaks.items()):
            ax2.axhline(g, ls="--", lw=0.8, color="gray")
            ax2.text(widths[0][0], g, f" FMA peak, {t} thread{'s' if t > 1 else ''}", va="bottom", fontsize=8)
        ax2.set_xscale("log", base=2)
        ax2.set_xlabel("hidden width W (784-W-W-10, batch 64)")
        ax2.set_ylabel("GFLOP/s (training GEMM FLOPs)")
        ax2.set_title("width scaling")
        ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"chart: {path}")


if __name__ == "__main__":
    main()
