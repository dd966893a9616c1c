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


def norms():
    """BatchNorm1d and LayerNorm: values and gradients of sum(y * R) for a fixed random projection R,
    BatchNorm1d's running statistics after three training steps and its evaluation-mode output."""
    torch.manual_seed(4)
    out = {}
    rows, n = 7, 11
    bn = torch.nn.BatchNorm1d(n)
    with torch.no_grad():
        bn.weight.copy_(torch.randn(n))
        bn.bias.copy_(torch.randn(n))
    w0, b0 = flat(bn.weight), flat(bn.bias)
    xs = [(2 * torch.randn(rows, n) + 0.5).requires_grad_() for _ in range(3)]
    proj = torch.randn(rows, n)
    bn.train()
    y = bn(xs[0])
    (y * proj).sum().backward()
    first = {"x": flat(xs[0]), "y": flat(y), "grad_x": flat(xs[0].grad), "grad_weight": flat(bn.weight.grad),
             "grad_bias": flat(bn.bias.grad)}
    for x in xs[1:]:
        bn(x)
    x_eval = 2 * torch.randn(rows, n) + 0.5
    bn.eval()
    y_eval = bn(x_eval)
    out["batchnorm1d"] = {"rows": rows, "features": n, "weight": w0, "bias": b0, "projection": flat(proj),
                          "first_step": first, "x_steps": [flat(x) for x in xs],
                          "running_mean": flat(bn.running_mean), "running_var": flat(bn.running_var),
                          "num_batches_tracked": int(bn.num_batches_tracked), "x_eval": flat(x_eval),
                          "y_eval": flat(y_eval)}

    rows, n = 5, 13
    ln = torch.nn.LayerNorm(n)
    with torch.no_grad():
        ln.weight.copy_(torch.randn(n))
        ln.bias.copy_(torch.randn(n))
    x = (3 * torch.randn(rows, n) - 1).requires_grad_()
    proj = torch.randn(rows, n)
    y = ln(x)
    (y * proj).sum().backward()
    out["layernorm"] = {"rows": rows, "features": n, "weight": flat(ln.weight), "bias": flat(ln.bias), "x": flat(x),
                        "projection": flat(proj), "y": flat(y), "grad_x": flat(x.grad),
                        "grad_weight": flat(ln.weight.grad), "grad_bias": flat(ln.bias.grad)}
    write("norms.json", out)


def mlp_batchnorm_dropout():
    """Five full-batch SGD steps (momentum 0.9) of Linear(7,16), BatchNorm1d(16), ReLU, Dropout(0),
    Linear(16,3) under cross-entropy: the losses, the final parameters and the final running statistics.
    SGD rather than Adam: the bias before BatchNorm has no gradient, and Adam would scale its rounding
    noise up to steps of lr, leaving nothing to compare."""
    torch.manual_seed(5)
    x = torch.randn(20, 7)
    labels = torch.randint(0, 3, (20,))
    model = torch.nn.Sequential(torch.nn.Linear(7, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
                                torch.nn.Dropout(0.0), torch.nn.Linear(16, 3))
    with torch.no_grad():
        model[1].weight.copy_(1 + 0.2 * torch.randn(16))
        model[1].bias.copy_(0.1 * torch.randn(16))
    init = {k: flat(v) for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.train()
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        eval_logits = model(x)
    final = {k: flat(v) for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    write("mlp_batchnorm_dropout.json", {
        "x": flat(x), "labels": [int(v) for v in labels], "init": init, "losses": losses, "final": final,
        "num_batches_tracked": int(model[1].num_batches_tracked), "eval_logits": flat(eval_logits)})


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    seed_loop()
    losses()
    optimizers()
    mlp_adam()
    norms()
    mlp_batchnorm_dropout()
