#!/usr/bin/env python3
"""Data-parallel scaling on this machine: the Fashion-MNIST MLP trained by
bench_distributed under mpirun with 1 and 2 ranks (one thread each), and one
rank on every core for reference, at the same global batch. Each setting runs
in several fresh processes; the first epoch of each is a warm-up and is not
counted. Prints a markdown table of medians (min-max) and writes it, with the
raw epochs, to --out (distributed.md, distributed.json).

    python3 bench/distributed.py [--build build] [--runs 5] [--epochs 3] [--out docs/bench]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys


def run(binary, mpirun, ranks, bind, epochs, batch, overlap, bucket_kb):
    return launch(mpirun, ranks, bind, [binary, str(epochs), str(batch), str(int(overlap)), str(bucket_kb)])


def launch(mpirun, ranks, bind, program):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cmd = [mpirun, "-np", str(ranks), "--bind-to", bind] + program
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"distributed.py: {' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batches", default="64,256")
    ap.add_argument("--out", default="")
    ap.add_argument("--compute", default="8,16,32,64,128,256",
                    help="local batches at which one rank on one thread is timed, for tools/scaling_model.py")
    args = ap.parse_args()
    binary = os.path.join(args.build, "bench", "bench_distributed")
    mpirun = shutil.which("mpirun")
    if not mpirun or not os.path.exists(binary):
        sys.exit("distributed.py: needs mpirun and " + binary + " (Open MPI: sh tools/deps.sh, then tools/build.sh)")
    settings = [
        ("1 rank, 1 thread", 1, "core", True, 256),
        ("1 rank, 2 threads", 1, "none", True, 256),
        ("2 ranks x 1 thread, one reduction after backward (default)", 2, "core", False, 256),
        ("2 ranks x 1 thread, overlapped 256 KiB buckets", 2, "core", True, 256),
    ]
    rows, raw = [], []
    for batch in [int(b) for b in args.batches.split(",")]:
        for name, ranks, bind, overlap, bucket in settings:
            epochs = []
            for _ in range(args.runs):
                epochs += run(binary, mpirun, ranks, bind, args.epochs, batch, overlap, bucket)[1:]
            raw += epochs
            sec = [e["seconds"] for e in epochs]
            comm = [e["comm_seconds"] for e in epochs]
            rows.append({"setting": name, "batch": batch, "ranks": ranks, "threads": epochs[0]["threads"],
                         "median": statistics.median(sec), "min": min(sec), "max": max(sec),
                         "comm": statistics.median(comm), "steps": epochs[0]["steps"], "n": len(sec)})
            print(f"{name}, batch {batch}: {rows[-1]['median']:.3f} s", file=sys.stderr)
    allreduce = [launch(mpirun, 2, "core", [binary, "allreduce", str(kb)])[0] for kb in (64, 256, 1024)]
    for a in allreduce:
        print(f"all-reduce of the gradient arena, 2 ranks: {a['whole_us']:.0f} us in one call, "
              f"{a['buckets_us']:.0f} us in {a['bucket_kb']} KiB non-blocking buckets", file=sys.stderr)
    compute = []
    for batch in [int(b) for b in args.compute.split(",") if b]:
        epochs = run(binary, mpirun, 1, "core", 2, batch, True, 256)[1:]
        compute.append({"batch": batch, "step_seconds": epochs[0]["seconds"] / epochs[0]["steps"]})
        print(f"compute, 1 thread, batch {batch}: {1e6 * compute[-1]['step_seconds']:.0f} us/step", file=sys.stderr)
    lines = ["| global batch | setting | s/epoch, median (min-max) | all-reduce s/epoch | all-reduce share | "
             "µs/step | vs 1 rank, 1 thread |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        base = next(b for b in rows if b["batch"] == r["batch"] and b["setting"].startswith("1 rank, 1 thread"))
        share = f"{100 * r['comm'] / r['median']:.0f}%" if r["ranks"] > 1 else "-"
        comm = f"{r['comm']:.3f}" if r["ranks"] > 1 else "-"
        lines.append(f"| {r['batch']} | {r['setting']} | {r['median']:.3f} ({r['min']:.3f}-{r['max']:.3f}) | {comm} | "
                     f"{share} | {1e6 * r['median'] / r['steps']:.0f} | {base['median'] / r['median']:.2f}x |")
    lines += ["", "All-reduce of the gradient arena alone (235,146 floats, 2 ranks, median of 200):", "",
              "| how | µs |", "|---|---|", f"| one blocking call | {allreduce[0]['whole_us']:.0f} |"]
    lines += [f"| {a['bucket_kb']} KiB buckets, started together, then waited for | {a['buckets_us']:.0f} |"
              for a in allreduce]
    table = "\n".join(lines)
    print(table)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "distributed.md"), "w") as f:
            f.write(f"Medians over {args.runs} processes x {args.epochs - 1} epochs (the first epoch of each "
                    "process is a warm-up). All-reduce time: time inside the communicator's calls on rank 0.\n\n")
            f.write(table + "\n")
        with open(os.path.join(args.out, "distributed.json"), "w") as f:
            json.dump({"rows": rows, "compute": compute, "allreduce": allreduce, "epochs": raw}, f, indent=1)


if __name__ == "__main__":
    main()
