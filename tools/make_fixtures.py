#!/usr/bin/env python3
"""Writes the PyTorch reference values that ingot's tests compare against.

Run from the repository root:  python3 tools/make_fixtures.py [outdir]
Needs torch (pip install torch==2.13.0). The JSON files it writes are
committed, so the test suite itself never needs torch.
"""
import json
import os
import sys

try:
    import torch
except ImportError:
    sys.exit("make_fixtures.py: torch is not installed (pip install torch==2.13.0); "
             "the committed fixtures in tests/fixtures are what the tests use")

torch.set_default_dtype(torch.float32)
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def write(name, obj):
    obj["torch_version"] = torch.__version__
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print("wrote", path)


def seed_loop():
    """The seed's loop: Linear(10, 1), MSE, SGD lr 0.01, 100 samples, full batch, 20 epochs."""
    torch.manual_seed(0)
    x = torch.randn(100, 10)
    y = torch.randn(100, 1)
    model = torch.nn.Linear(10, 1)
    w0, b0 = model.weight.detach().clone(), model.bias.detach().clone()
    criterion = torch.nn.MSELoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    write("seed_linear_regression.json", {
        "x": flat(x), "y": flat(y), "weight": flat(w0), "bias": flat(b0), "losses": losses,
        "final_weight": flat(model.weight), "final_bias": flat(model.bias)})


def losses():
    torch.manual_seed(1)
    out = {}
    y = torch.randn(6, 11, requires_grad=True)
    t = torch.randn(6, 11)
    loss = torch.nn.functional.mse_loss(y, t)
    loss.backward()
    out["mse"] = {"rows": 6, "cols": 11, "y": flat(y), "t": flat(t), "loss": loss.item(), "grad": flat(y.grad)}

    logits = (3 * torch.randn(6, 11)).requires_grad_()
    labels = torch.randint(0, 11, (6,))
    loss = torch.nn.functional.cross_entropy(logits, labels)
    loss.backward()
    out["cross_entropy"] = {"rows": 6, "cols": 11, "logits": flat(logits), "labels": [int(v) for v in labels],
                            "loss": loss.item(), "grad": flat(logits.grad)}

    p = (0.05 + 0.9 * torch.rand(6, 3)).requires_grad_()
    t = torch.rand(6, 3)
    loss = torch.nn.functional.binary_cross_entropy(p, t)
    loss.backward()
    out["bce"] = {"rows": 6, "cols": 3, "p": flat(p), "t": flat(t), "loss": loss.item(), "grad": flat(p.grad)}
    write("losses.json", out)


def optimizers():
    """Five steps of each optimizer on a 37-element parameter with given gradients."""
    torch.manual_seed(2)
    n, steps = 37, 5
    p0 = torch.randn(n)
    grads = [torch.randn(n) for _ in range(steps)]
    configs = [
        ("sgd", torch.optim.SGD, {"lr": 0.1}),
        ("sgd_momentum", torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
        ("sgd_dampening_wd", torch.optim.SGD, {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01}),
        ("sgd_nesterov_wd", torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05}),
        ("adam", torch.optim.Adam, {"lr": 0.01}),
        ("adam_wd_betas", torch.optim.Adam, {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ]
    out = {"n": n, "p0": flat(p0), "grads": [flat(g) for g in grads], "cases": []}
    for name, cls, kw in configs:
        p = torch.nn.Parameter(p0.clone())
        opt = cls([p], **kw)
        after = []
        for g in grads:
            p.grad = g.clone()
            opt.step()
            after.append(flat(p))
        opts = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()}
        out["cases"].append({"name": name, "optimizer": cls.__name__, "options": opts, "after": after})
    write("optimizers.json", out)


def mlp_adam():
    """Ten full-batch Adam steps of Sequential(Linear(7,13), ReLU, Linear(13,3)) under cross-entropy."""
    torch.manual_seed(3)
    x = torch.randn(20, 7)
    labels = torch.randint(0, 3, (20,))
    model = torch.nn.Sequential(torch.nn.Linear(7, 13), torch.nn.ReLU(), torch.nn.Linear(13, 3))
    init = {k: flat(v) for k, v in model.state_dict().items()}
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    final = {k: flat(v) for k, v in model.state_dict().items()}
    write("mlp_adam.json", {"x": flat(x), "labels": [int(v) for v in labels], "init": init, "losses": losses,
                            "final": final})


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    seed_loop()
    losses()
    optimizers()
    mlp_adam()
