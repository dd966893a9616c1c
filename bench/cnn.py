#!/usr/bin/env python3
"""The CNN benchmark: ingot against PyTorch eager (default threads and 1
thread) and JAX's jit on the Fashion-MNIST CNN of examples/fashion_mnist_cnn
(two 3x3 convolutions with BatchNorm2d, ReLU and 2x2 max pooling, then
3136-128-10; no Dropout, so that losses can be compared), Adam 1e-3, batch 64.

It first checks that every side computes the same losses as ingot from the
same initial weights over the first batches, then times training steps on
contiguous batches in fresh processes (several repetitions each) and prints
a markdown table: median seconds per step, min-max, the epoch (938 steps)
that makes, ingot's speedup (a peer on one thread against ingot on one thread),
GFLOP/s and the share of the FMA peak; it writes build-bench/cnn.md and cnn.json.

    python3 bench/cnn.py [--steps N] [--runs N] [--processes N] [--peak GFLOPS] [--no-peers]
    python3 bench/cnn.py --table build-bench/cnn.json    (the table again)
Needs torch and jax (bench/run.sh makes a virtual environment with both).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from peers import fashion, load_safetensors  # noqa: E402

BATCH = 64
STEPS_PER_EPOCH = 938  # 60000 images in batches of 64
# Forward multiply-adds per image: conv1, conv2, the two dense layers.
MACS = 28 * 28 * 32 * 9 + 14 * 14 * 64 * 288 + 3136 * 128 + 128 * 10
# Training: forward, weight gradients, input gradients (none for conv1).
TRAIN_FLOPS = 2.0 * (3 * MACS - 28 * 28 * 32 * 9)
# Relative, per loss: the first steps agree closely, later ones drift apart
# as Adam amplifies float rounding (as in bench/suite.py).
CHECK_TOLERANCE_FIRST = 1e-4  # the first 5 of 20 steps
CHECK_TOLERANCE = 1e-2  # all 20


def emit(**fields):
    print(json.dumps(fields), flush=True)


def torch_model(state_dict):
    import torch
    m = torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 28, 28)), torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.BatchNorm2d(32),
        torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.BatchNorm2d(64),
        torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(3136, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 10))
    if state_dict is not None:
        m.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state_dict.items()})
    return m


def torch_side(threads, cmd, args):
    import torch
    if threads:
        torch.set_num_threads(threads)
    xs, ys = fashion("train")
    x, y = torch.from_numpy(xs), torch.from_numpy(ys)
    if cmd == "check":
        steps, folder = int(args[0]), args[1]
        model = torch_model(load_safetensors(os.path.join(folder, "cnn.safetensors")))
    else:
        steps, runs = int(args[0]), int(args[1])
        torch.manual_seed(1)
        model = torch_model(None)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    batches = x.shape[0] // BATCH
    state = {"b": 0}

    def step():
        b = state["b"]
        state["b"] = (b + 1) % batches
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[b * BATCH:(b + 1) * BATCH]), y[b * BATCH:(b + 1) * BATCH])
        loss.backward()
        opt.step()
        return loss
    if cmd == "check":
        emit(losses=[step().item() for _ in range(steps)])
        return
    for _ in range(5):
        step()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(steps):
            loss = step()
        loss.item()
        times.append((time.perf_counter() - start) / steps)
    emit(threads=torch.get_num_threads(), loss=loss.item(), times=times)


def jax_side(cmd, args):
    import jax
    import jax.numpy as jnp
    xs, ys = fashion("train")
    if cmd == "check":
        steps, folder = int(args[0]), args[1]
        sd = load_safetensors(os.path.join(folder, "cnn.safetensors"))
    else:
        steps, runs = int(args[0]), int(args[1])
        sd = {k: v for k, v in torch_free_init().items()}
    # Channels-last inside JAX; weights converted from PyTorch's layout.
    params = {
        "c1": jnp.asarray(sd["1.weight"].transpose(2, 3, 1, 0)), "b1": jnp.asarray(sd["1.bias"]),
        "g1": jnp.asarray(sd["2.weight"]), "h1": jnp.asarray(sd["2.bias"]),
        "c2": jnp.asarray(sd["5.weight"].transpose(2, 3, 1, 0)), "b2": jnp.asarray(sd["5.bias"]),
        "g2": jnp.asarray(sd["6.weight"]), "h2": jnp.asarray(sd["6.bias"]),
        "w3": jnp.asarray(sd["10.weight"]), "b3": jnp.asarray(sd["10.bias"]),
        "w4": jnp.asarray(sd["12.weight"]), "b4": jnp.asarray(sd["12.bias"]),
    }

    def conv(x, w, b):
        y = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y + b

    def bn(x, g, h):
        mean = jnp.mean(x, axis=(0, 1, 2))
        var = jnp.mean(jnp.square(x - mean), axis=(0, 1, 2))
        return (x - mean) / jnp.sqrt(var + 1e-5) * g + h

    def pool(x):
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    def forward(p, x):
        x = x.reshape(-1, 28, 28, 1)
        x = pool(jax.nn.relu(bn(conv(x, p["c1"], p["b1"]), p["g1"], p["h1"])))
        x = pool(jax.nn.relu(bn(conv(x, p["c2"], p["b2"]), p["g2"], p["h2"])))
        x = x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1)  # PyTorch's flatten order
        x = jax.nn.relu(x @ p["w3"].T + p["b3"])
        return x @ p["w4"].T + p["b4"]

    def loss_fn(p, x, y):
        logits = forward(p, x)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    def adam(p, s, x, y, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        t = s["t"] + 1
        m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, s["m"], g)
        v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, s["v"], g)
        p = jax.tree_util.tree_map(
            lambda p, m, v: p - lr * (m / (1 - b1 ** t)) / (jnp.sqrt(v / (1 - b2 ** t)) + eps), p, m, v)
        return p, {"t": t, "m": m, "v": v}, loss
    step_jit = jax.jit(adam, donate_argnums=(0, 1))
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    state = {"t": jnp.zeros((), jnp.float32), "m": zeros, "v": jax.tree_util.tree_map(jnp.zeros_like, params)}
    x = jnp.asarray(xs)
    y = jnp.asarray(ys.astype(np.int32))
    batches = xs.shape[0] // BATCH
    b = 0
    if cmd == "check":
        losses = []
        for s in range(steps):
            params, state, loss = step_jit(params, state, x[s * BATCH:(s + 1) * BATCH], y[s * BATCH:(s + 1) * BATCH])
            losses.append(float(loss))
        emit(losses=losses)
        return
    for _ in range(5):
        params, state, loss = step_jit(params, state, x[b * BATCH:(b + 1) * BATCH], y[b * BATCH:(b + 1) * BATCH])
        b = (b + 1) % batches
    loss.block_until_ready()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(steps):
            params, state, loss = step_jit(params, state, x[b * BATCH:(b + 1) * BATCH], y[b * BATCH:(b + 1) * BATCH])
            b = (b + 1) % batches
        loss.block_until_ready()
        times.append((time.perf_counter() - start) / steps)
    emit(threads=os.cpu_count(), loss=float(loss), times=times)


def torch_free_init():
    """Initial weights for timing runs of the JAX side: PyTorch's default
    initialisation bounds, drawn with numpy."""
    rng = np.random.default_rng(1)

    def u(shape, fan_in):
        bound = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape).astype(np.float32)
    return {"1.weight": u((32, 1, 3, 3), 9), "1.bias": u((32,), 9), "2.weight": np.ones(32, np.float32),
            "2.bias": np.zeros(32, np.float32), "5.weight": u((64, 32, 3, 3), 288), "5.bias": u((64,), 288),
            "6.weight": np.ones(64, np.float32), "6.bias": np.zeros(64, np.float32),
            "10.weight": u((128, 3136), 3136), "10.bias": u((128,), 3136), "12.weight": u((10, 128), 128),
            "12.bias": u((10,), 128)}


def make_table(results, peak):
    """Markdown: a peer on one thread is compared with ingot on one thread."""
    lines = ["| side | ms/step (median) | min-max | s/epoch (938 steps) | ingot's speedup | GFLOP/s | share of peak |",
             "|---|---|---|---|---|---|---|"]
    for impl, r in results.items():
        base = results["ingot-1t" if impl.endswith("-1t") else "ingot"]["median"]
        ratio = "—" if impl.startswith("ingot") else f"**{r['median'] / base:.2f}x**"
        gflops = TRAIN_FLOPS * BATCH / r["median"] / 1e9
        share = f"{100 * gflops / peak:.0f}%" if peak and not impl.endswith("-1t") else "—"
        lines.append(f"| {impl} | {r['median'] * 1e3:.1f} | {r['min'] * 1e3:.1f}-{r['max'] * 1e3:.1f} | "
                     f"{r['median'] * STEPS_PER_EPOCH:.1f} | {ratio} | {gflops:.0f} | {share} |")
    return "\n".join(lines)


def link_line(records):
    """The two cores' link as ingot's all-core processes measured it after
    their timing (bench/core_link.hpp), or '' on one core."""
    links = [r for r in records if r.get("core_round_trip_ns")]
    if not links:
        return ""
    return ("Cores 0 and 1 after each of ingot's all-core processes: a cache line's round trip "
            + ", ".join(f"{r['core_round_trip_ns']:.0f}" for r in links) + " ns; thread 0 reads 4 MB written by "
            "thread 1 at " + ", ".join(f"{r['remote_read_gbs']:.0f}" for r in links) + " GB/s, its own at "
            + ", ".join(f"{r['local_read_gbs']:.0f}" for r in links) + " GB/s (a virtual machine's vCPUs may or "
            "may not share a cache; two-thread times depend on it).")


def run(cmd):
    env = dict(os.environ, PYTHONWARNINGS="ignore", TF_CPP_MIN_LOG_LEVEL="3")
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        sys.exit(f"cnn.py: {' '.join(cmd)} failed:\n{p.stderr[-3000:]}")
    return json.loads(lines[-1])


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--table":  # the table again from a saved cnn.json
        saved = json.load(open(sys.argv[2]))
        print(make_table(saved["results"], saved["peak"]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--side":
        side, cmd, rest = sys.argv[2], sys.argv[3], sys.argv[4:]
        if side == "torch":
            torch_side(0, cmd, rest)
        elif side == "torch-1t":
            torch_side(1, cmd, rest)
        else:
            jax_side(cmd, rest)
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=100, help="steps per timed repetition (default 100)")
    ap.add_argument("--runs", type=int, default=3, help="timed repetitions per process (default 3)")
    ap.add_argument("--processes", type=int, default=3, help="fresh processes per side (default 3)")
    ap.add_argument("--peak", type=float, default=0, help="the machine's FMA peak, GFLOP/s (default: measured)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--no-peers", action="store_true", help="ingot only")
    a = ap.parse_args()
    ingot = os.path.join(a.build, "bench", "bench_cnn")
    me = [sys.executable, os.path.abspath(__file__), "--side"]
    peers = [] if a.no_peers else ["torch", "torch-1t", "jax-jit"]
    agreement = {}
    if peers:
        print("checking that every side computes ingot's losses (20 steps from the same weights)")
        with tempfile.TemporaryDirectory() as folder:
            ref = run([ingot, "check", str(BATCH), "20", folder])["losses"]
            for p in ["torch", "jax-jit"]:
                got = run(me + [p, "check", "20", folder])["losses"]
                rel = [abs(g - r) / abs(r) for g, r in zip(got, ref)]
                first, worst = max(rel[:5]), max(rel)
                print(f"  {p}: max relative loss difference {first:.2g} over the first 5 steps, {worst:.2g} over 20")
                if len(got) != len(ref) or first > CHECK_TOLERANCE_FIRST or worst > CHECK_TOLERANCE:
                    sys.exit(f"cnn.py: {p} disagrees with ingot: {got} vs {ref}")
                agreement[p] = (first, worst)
    # The peak, and how far apart the two cores are (a virtual machine's
    # vCPUs can share a cache or not, and the placement can change).
    machine = run([os.path.join(a.build, "bench", "bench_workloads"), "peak", "0"])
    peak = a.peak or machine.get("peak_gflops", 0)
    # The sides take turns (process 1 of each, then process 2 of each, ...):
    # a change in the machine's load falls on all of them alike.
    impls = ["ingot", "ingot-1t"] + peers
    times = {impl: [] for impl in impls}
    threads = {}
    ingot_records = []
    for proc in range(a.processes):
        for impl in impls:
            if impl.startswith("ingot"):
                cmd = [ingot, "time", str(BATCH), str(a.steps), str(a.runs), "1" if impl == "ingot-1t" else "0"]
            else:
                cmd = me + [impl, "time", str(a.steps), str(a.runs)]
            rec = run(cmd)
            if impl == "ingot":
                ingot_records.append(rec)
            times[impl] += rec["times"]
            threads[impl] = rec.get("threads", 0)
            print(f"  {impl} process {proc + 1}: {statistics.median(rec['times']) * 1e3:.1f} ms/step", flush=True)
    results = {impl: {"median": statistics.median(t), "min": min(t), "max": max(t), "times": t}
               for impl, t in times.items()}
    table = make_table(results, peak)
    print()
    print(table)
    print(f"\nFMA peak used for the share: {peak:.0f} GFLOP/s (all cores); training FLOPs per image "
          f"{TRAIN_FLOPS / 1e6:.1f} M")
    link = link_line(ingot_records)
    if link:
        print(link)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "cnn.md"), "w") as f:
        f.write(table + "\n" + (f"\n{link}\n" if link else ""))
    with open(os.path.join(a.out, "cnn.json"), "w") as f:
        json.dump({"peak": peak, "results": results, "threads": threads, "agreement": agreement,
                   "train_flops_per_step": TRAIN_FLOPS * BATCH, "machine": machine,
                   "ingot_round_trips_ns": [r["core_round_trip_ns"] for r in ingot_records
                                            if r.get("core_round_trip_ns")]}, f, indent=1)


if __name__ == "__main__":
    main()
