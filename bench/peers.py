#!/usr/bin/env python3
"""The peers' side of the benchmark suite: each workload of bench_workloads
in PyTorch (eager, torch.compile) and JAX (jit per step, or lax.scan over the
steps), printing the same JSON lines. bench/suite.py runs it.

    peers.py IMPL [--threads N] seed RUNS STEPS
    peers.py IMPL [--threads N] mlp H1 H2 BATCH EPOCHS [bf16]
    peers.py IMPL [--threads N] steps W BATCH STEPS RUNS
    peers.py IMPL [--threads N] infer RUNS [bf16]
    peers.py IMPL check MODEL STEPS BATCH DIR

IMPL is torch, torch.compile, jax-jit or jax-scan. check loads the initial
weights (and the seed loop's data) that bench_workloads wrote to DIR and
prints the losses of the first STEPS steps on the batches in order.
A trailing bf16 runs the products with bfloat16 operands: PyTorch under
torch.autocast("cpu", dtype=torch.bfloat16) (the forward pass and the loss;
backward follows the forward's types), JAX with bfloat16 operands and
float32 results (preferred_element_type), as ingot's set_matmul_precision.
Parameters, gradients and optimizer state stay float32 on every side.
Timed runs measure training only: the data is loaded and, for the compiled
peers, compiled by a warm-up run first.
"""
import gzip
import json
import os
import struct
import sys
import time

import numpy as np

FOLDER = os.environ.get("INGOT_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def fashion(split):
    def read(name, offset):
        with gzip.open(os.path.join(FOLDER, name), "rb") as f:
            return np.frombuffer(f.read()[offset:], dtype=np.uint8)
    x = read(f"{split}-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / np.float32(255)
    y = read(f"{split}-labels-idx1-ubyte.gz", 8).astype(np.int64)
    return x, y


def load_safetensors(path):
    """The tensors of a safetensors file as numpy arrays (F32 and I64 only)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": np.float32, "I64": np.int64}[t["dtype"]]
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(blob[8 + n + a:8 + n + b], dtype=dtype).reshape(t["shape"])
    return out


def emit(impl, **fields):
    print(json.dumps({"impl": impl, **fields}), flush=True)


# ---------------------------------------------------------------- PyTorch

def torch_side(impl, threads, argv):
    import torch
    if threads:
        torch.set_num_threads(threads)
    compiled = impl == "torch.compile"

    def make(dims):
        layers = []
        for i in range(len(dims) - 1):
            layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
            if i + 2 < len(dims):
                layers.append(torch.nn.ReLU())
        return torch.nn.Sequential(*layers)

    def trainer(model, opt, loss_fn, bf16=False):
        """A step function: eager, or with the model and the optimizer step compiled (torch's recipe);
        bf16: the forward pass and the loss under autocast, torch's mixed-precision recipe."""
        fwd = torch.compile(model) if compiled else model
        opt_step = torch.compile(opt.step) if compiled else opt.step

        def step(x, y):
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = loss_fn(fwd(x), y)
            loss.backward()
            opt_step()
            return loss
        return step

    def fashion_mlp(dims, bf16=False):
        """The training images and labels as tensors, and an Adam step for an MLP of these sizes."""
        xs, ys = fashion("train")
        torch.manual_seed(1)
        model = make(dims)
        step = trainer(model, torch.optim.Adam(model.parameters(), lr=1e-3), torch.nn.CrossEntropyLoss(), bf16)
        return torch.from_numpy(xs), torch.from_numpy(ys), step

    name = impl if threads == 0 else f"{impl}-{threads}t"
    cmd = argv[0]
    if cmd == "seed":
        runs, steps = int(argv[1]), int(argv[2])
        torch.manual_seed(0)
        x, y = torch.randn(100, 10), torch.randn(100, 1)
        model = torch.nn.Linear(10, 1)
        step = trainer(model, torch.optim.SGD(model.parameters(), lr=0.01), torch.nn.MSELoss())
        for _ in range(steps):
            loss = step(x, y)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            for _ in range(steps):
                loss = step(x, y)
            loss.item()
            times.append((time.perf_counter() - start) / steps * 1e6)
        emit(name, workload="seed", unit="us/step", threads=torch.get_num_threads(), loss=loss.item(), times=times)
    elif cmd == "mlp":
        h1, h2, batch, epochs = map(int, argv[1:5])
        bf16 = argv[5:6] == ["bf16"]
        x, y, step = fashion_mlp([784, h1, h2, 10], bf16)
        times = []
        for epoch in range(epochs + 1):  # the first epoch warms up (and compiles)
            start = time.perf_counter()
            perm = torch.randperm(x.shape[0])
            total = torch.zeros(())
            for first in range(0, x.shape[0], batch):
                idx = perm[first:first + batch]
                total += step(x[idx], y[idx]).detach() * idx.numel()
            mean = total.item() / x.shape[0]
            if epoch:
                times.append(time.perf_counter() - start)
        emit(name, workload=f"mlp-{h1}-{h2}-b{batch}" + ("-bf16" if bf16 else ""), unit="s/epoch",
             threads=torch.get_num_threads(), loss=mean, times=times)
    elif cmd == "steps":
        w, batch, steps, runs = map(int, argv[1:5])
        x, y, step = fashion_mlp([784, w, w, 10])
        batches = x.shape[0] // batch
        b = 0

        def one():
            nonlocal b
            loss = step(x[b * batch:(b + 1) * batch], y[b * batch:(b + 1) * batch])
            b = (b + 1) % batches
            return loss
        for _ in range(min(steps, 20)):
            loss = one()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            for _ in range(steps):
                loss = one()
            loss.item()
            times.append((time.perf_counter() - start) / steps)
        emit(name, workload=f"width-{w}", unit="s/step", threads=torch.get_num_threads(), loss=loss.item(),
             times=times)
    elif cmd == "infer":
        runs = int(argv[1])
        xs, _ = fashion("t10k")
        x = torch.from_numpy(xs)
        torch.manual_seed(1)
        model = make([784, 256, 128, 10]).eval()
        fwd = torch.compile(model) if compiled else model
        bf16 = argv[2:3] == ["bf16"]
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = fwd(x)
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                out = fwd(x)
                times.append(time.perf_counter() - start)
        emit(name, workload="infer-bf16" if bf16 else "infer", unit="s", threads=torch.get_num_threads(),
             loss=float(out.float().sum()), times=times)
    elif cmd == "check":
        model_name, steps, batch, folder = argv[1], int(argv[2]), int(argv[3]), argv[4]
        state = {k: torch.from_numpy(v.copy()) for k, v in load_safetensors(f"{folder}/{model_name}.safetensors").items()}
        losses = []
        if model_name == "seed":
            model = torch.nn.Sequential(torch.nn.Linear(10, 1))
            model.load_state_dict(state)
            x = torch.from_numpy(np.load(f"{folder}/seed_x.npy"))
            y = torch.from_numpy(np.load(f"{folder}/seed_y.npy"))
            step = trainer(model, torch.optim.SGD(model.parameters(), lr=0.01), torch.nn.MSELoss())
            losses = [step(x, y).item() for _ in range(steps)]
        else:
            _, h1, h2 = model_name.split("-")
            model = make([784, int(h1), int(h2), 10])
            model.load_state_dict(state)
            xs, ys = fashion("train")
            x, y = torch.from_numpy(xs), torch.from_numpy(ys)
            step = trainer(model, torch.optim.Adam(model.parameters(), lr=1e-3), torch.nn.CrossEntropyLoss())
            losses = [step(x[s * batch:(s + 1) * batch], y[s * batch:(s + 1) * batch]).item() for s in range(steps)]
        emit(name, check=model_name, losses=losses)
    else:
        sys.exit(f"peers.py: unknown command {cmd}")


# ---------------------------------------------------------------- JAX

def jax_side(impl, argv):
    import jax
    import jax.numpy as jnp
    scan = impl == "jax-scan"
    bf16 = argv[-1] == "bf16"  # mlp and infer: products with bfloat16 operands

    def init_linear(rng, n_in, n_out):
        # torch.nn.Linear's default: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
        bound = 1.0 / np.sqrt(n_in)
        return {"weight": rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32),
                "bias": rng.uniform(-bound, bound, (n_out,)).astype(np.float32)}

    def mlp_params(dims, seed=1):
        rng = np.random.default_rng(seed)
        return [jax.tree_util.tree_map(jnp.asarray, init_linear(rng, dims[i], dims[i + 1])) for i in range(len(dims) - 1)]

    def forward(params, x):
        for i, layer in enumerate(params):
            x = x @ layer["weight"].T + layer["bias"]
            if i + 1 < len(params):
                x = jax.nn.relu(x)
        return x

    def forward_bf16(params, x):
        # bfloat16 operands, float32 sums and results.
        for i, layer in enumerate(params):
            x = jnp.dot(x.astype(jnp.bfloat16), layer["weight"].T.astype(jnp.bfloat16),
                        preferred_element_type=jnp.float32) + layer["bias"]
            if i + 1 < len(params):
                x = jax.nn.relu(x)
        return x

    def cross_entropy(params, x, y):
        logits = (forward_bf16 if bf16 else forward)(params, x)
        return jnp.mean(jax.nn.logsumexp(logits, axis=1) - jnp.take_along_axis(logits, y[:, None], axis=1)[:, 0])

    def mse(params, x, y):
        return jnp.mean((forward(params, x) - y) ** 2)

    # Adam as torch computes it: p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    def adam_init(params):
        def zeros():
            return jax.tree_util.tree_map(jnp.zeros_like, params)
        return {"m": zeros(), "v": zeros(), "t": jnp.zeros((), jnp.float32)}

    def adam_update(params, grads, state, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        t = state["t"] + 1
        m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, state["m"], grads)
        v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, state["v"], grads)
        step_size = lr / (1 - b1 ** t)
        root = jnp.sqrt(1 - b2 ** t)
        params = jax.tree_util.tree_map(lambda p, m, v: p - step_size * m / (jnp.sqrt(v) / root + eps), params, m, v)
        return params, {"m": m, "v": v, "t": t}

    def adam_step(params, state, x, y):
        loss, grads = jax.value_and_grad(cross_entropy)(params, x, y)
        params, state = adam_update(params, grads, state)
        return params, state, loss

    def sgd_step(params, x, y):
        loss, grads = jax.value_and_grad(mse)(params, x, y)
        return jax.tree_util.tree_map(lambda p, g: p - 0.01 * g, params, grads), loss

    adam_jit = jax.jit(adam_step, donate_argnums=(0, 1))

    def scan_steps(params, state, xs, ys):
        """Steps over stacked batches (steps x batch x ...) in one compiled loop."""
        def body(carry, batch):
            p, s, loss = adam_step(carry[0], carry[1], batch[0], batch[1])
            return (p, s), loss
        (params, state), losses = jax.lax.scan(body, (params, state), (xs, ys))
        return params, state, losses

    scan_jit = jax.jit(scan_steps, donate_argnums=(0, 1))
    threads = os.cpu_count()
    cmd = argv[0]
    if cmd == "seed":
        runs, steps = int(argv[1]), int(argv[2])
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.standard_normal((100, 10)).astype(np.float32))
        y = jnp.asarray(rng.standard_normal((100, 1)).astype(np.float32))
        params = mlp_params([10, 1])
        if scan:
            run = jax.jit(lambda p: jax.lax.scan(lambda c, _: sgd_step(c, x, y), p, None, length=steps),
                          donate_argnums=0)
            params, losses = run(params)
            losses.block_until_ready()
        else:
            step = jax.jit(sgd_step, donate_argnums=0)
            for _ in range(steps):
                params, loss = step(params, x, y)
            loss.block_until_ready()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            if scan:
                params, losses = run(params)
                losses.block_until_ready()
                loss = losses[-1]
            else:
                for _ in range(steps):
                    params, loss = step(params, x, y)
                loss.block_until_ready()
            times.append((time.perf_counter() - start) / steps * 1e6)
        emit(impl, workload="seed", unit="us/step", threads=threads, loss=float(loss), times=times)
    elif cmd == "mlp":
        h1, h2, batch, epochs = map(int, argv[1:5])
        xs, ys = fashion("train")
        x, y = jnp.asarray(xs), jnp.asarray(ys.astype(np.int32))
        params = mlp_params([784, h1, h2, 10])
        state = adam_init(params)
        n = x.shape[0]
        full = n // batch
        gather_step = jax.jit(lambda p, s, idx: adam_step(p, s, x[idx], y[idx]), donate_argnums=(0, 1))

        def slice_step(p, s, perm, first):
            idx = jax.lax.dynamic_slice_in_dim(perm, first, batch)
            return adam_step(p, s, x[idx], y[idx])
        slice_step = jax.jit(slice_step, donate_argnums=(0, 1))

        def scan_epoch(p, s, perm):
            idx = perm[:full * batch].reshape(full, batch)
            return scan_steps(p, s, x[idx], y[idx])
        scan_epoch_jit = jax.jit(scan_epoch, donate_argnums=(0, 1))
        key = jax.random.PRNGKey(1)
        times = []
        for epoch in range(epochs + 1):  # the first epoch compiles
            start = time.perf_counter()
            key, sub = jax.random.split(key)
            perm = jax.random.permutation(sub, n)
            if scan:
                params, state, losses = scan_epoch_jit(params, state, perm)
                total = jnp.sum(losses) * batch
                if n % batch:
                    params, state, last = gather_step(params, state, perm[full * batch:])
                    total = total + last * (n % batch)
            else:
                total = jnp.zeros(())
                for first in range(0, full * batch, batch):
                    params, state, loss = slice_step(params, state, perm, first)
                    total = total + loss * batch
                if n % batch:
                    params, state, last = gather_step(params, state, perm[full * batch:])
                    total = total + last * (n % batch)
            mean = float(total) / n
            if epoch:
                times.append(time.perf_counter() - start)
        emit(impl, workload=f"mlp-{h1}-{h2}-b{batch}" + ("-bf16" if bf16 else ""), unit="s/epoch", threads=threads,
             loss=mean, times=times)
    elif cmd == "steps":
        w, batch, steps, runs = map(int, argv[1:5])
        xs, ys = fashion("train")
        batches = xs.shape[0] // batch
        x = jnp.asarray(xs[:batches * batch].reshape(batches, batch, 784))
        y = jnp.asarray(ys[:batches * batch].astype(np.int32).reshape(batches, batch))
        params = mlp_params([784, w, w, 10])
        state = adam_init(params)
        if scan:
            count = min(steps, batches)
            run = jax.jit(lambda p, s, first: scan_steps(p, s, jax.lax.dynamic_slice_in_dim(x, first, count),
                                                         jax.lax.dynamic_slice_in_dim(y, first, count)),
                          donate_argnums=(0, 1))
            params, state, losses = run(params, state, 0)
            losses.block_until_ready()
        else:
            b = 0
            for _ in range(min(steps, 20)):
                params, state, loss = adam_jit(params, state, x[b], y[b])
                b = (b + 1) % batches
            loss.block_until_ready()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            if scan:
                params, state, losses = run(params, state, 0)
                losses.block_until_ready()
                loss = losses[-1]
                done = count
            else:
                for _ in range(steps):
                    params, state, loss = adam_jit(params, state, x[b], y[b])
                    b = (b + 1) % batches
                loss.block_until_ready()
                done = steps
            times.append((time.perf_counter() - start) / done)
        emit(impl, workload=f"width-{w}", unit="s/step", threads=threads, loss=float(loss), times=times)
    elif cmd == "infer":
        runs = int(argv[1])
        xs, _ = fashion("t10k")
        x = jnp.asarray(xs)
        params = mlp_params([784, 256, 128, 10])
        fwd = jax.jit(forward_bf16 if bf16 else forward)
        out = fwd(params, x).block_until_ready()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            out = fwd(params, x).block_until_ready()
            times.append(time.perf_counter() - start)
        emit(impl, workload="infer-bf16" if bf16 else "infer", unit="s", threads=threads, loss=float(out.sum()),
             times=times)
    elif cmd == "check":
        model_name, steps, batch, folder = argv[1], int(argv[2]), int(argv[3]), argv[4]
        state_dict = load_safetensors(f"{folder}/{model_name}.safetensors")
        layers = sorted({k.split(".")[0] for k in state_dict}, key=int)
        params = [{"weight": jnp.asarray(state_dict[f"{i}.weight"]), "bias": jnp.asarray(state_dict[f"{i}.bias"])}
                  for i in layers]
        if model_name == "seed":
            x, y = jnp.asarray(np.load(f"{folder}/seed_x.npy")), jnp.asarray(np.load(f"{folder}/seed_y.npy"))
            if scan:
                _, losses = jax.jit(lambda p: jax.lax.scan(lambda c, _: sgd_step(c, x, y), p, None, length=steps))(params)
                losses = [float(v) for v in losses]
            else:
                step = jax.jit(sgd_step)
                losses = []
                for _ in range(steps):
                    params, loss = step(params, x, y)
                    losses.append(float(loss))
        else:
            xs, ys = fashion("train")
            x = jnp.asarray(xs[:steps * batch].reshape(steps, batch, 784))
            y = jnp.asarray(ys[:steps * batch].astype(np.int32).reshape(steps, batch))
            state = adam_init(params)
            if scan:
                _, _, out = scan_jit(params, state, x, y)
                losses = [float(v) for v in out]
            else:
                losses = []
                for s in range(steps):
                    params, state, loss = adam_jit(params, state, x[s], y[s])
                    losses.append(float(loss))
        emit(impl, check=model_name, losses=losses)
    else:
        sys.exit(f"peers.py: unknown command {cmd}")


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    impl, args = args[0], args[1:]
    threads = 0
    if args[:1] == ["--threads"]:
        threads, args = int(args[1]), args[2:]
    if impl in ("torch", "torch.compile"):
        try:
            import torch  # noqa: F401
        except ImportError:
            sys.exit("peers.py: torch is not installed (pip install torch==2.13.0)")
        torch_side(impl, threads, args)
    elif impl in ("jax-jit", "jax-scan"):
        try:
            import jax  # noqa: F401
        except ImportError:
            sys.exit("peers.py: jax is not installed (pip install jax)")
        jax_side(impl, args)
    else:
        sys.exit(f"peers.py: unknown implementation {impl}")


if __name__ == "__main__":
    main()
