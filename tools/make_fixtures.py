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


def optimizer_runs():
    """Ten full-batch steps of Sequential(Linear(5, 3), Tanh, Linear(3, 2)) under MSE for each optimizer,
    option, parameter-group layout and gradient clipping, from one initialisation."""
    torch.manual_seed(7)
    x = torch.randn(7, 5)
    y = torch.randn(7, 2)
    base = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    init = {k: v.detach().clone() for k, v in base.state_dict().items()}
    O = torch.optim
    configs = [
        ("sgd_nesterov_wd", O.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}, None, {}),
        ("adam_amsgrad", O.Adam, {"lr": 0.05, "amsgrad": True}, None, {}),
        ("adam_amsgrad_wd", O.Adam, {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1, "betas": (0.8, 0.95)}, None, {}),
        ("adamw", O.AdamW, {"lr": 0.05}, None, {}),
        ("adamw_wd_amsgrad", O.AdamW, {"lr": 0.05, "weight_decay": 0.3, "amsgrad": True, "eps": 1e-6}, None, {}),
        ("rmsprop", O.RMSprop, {"lr": 0.01}, None, {}),
        ("rmsprop_all", O.RMSprop,
         {"lr": 0.005, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.05, "momentum": 0.8, "centered": True}, None, {}),
        ("rmsprop_centered", O.RMSprop, {"lr": 0.01, "centered": True}, None, {}),
        ("adagrad", O.Adagrad, {"lr": 0.1}, None, {}),
        ("adagrad_all", O.Adagrad,
         {"lr": 0.2, "lr_decay": 0.05, "weight_decay": 0.02, "initial_accumulator_value": 0.3, "eps": 1e-8}, None, {}),
        ("adamw_no_decay_vectors", O.AdamW, {"lr": 0.05, "weight_decay": 0.5}, "no_decay_vectors", {}),
        ("sgd_group_lr", O.SGD, {"lr": 0.1, "momentum": 0.5}, "layer2_lr", {}),
        ("sgd_clip_norm", O.SGD, {"lr": 0.2}, None, {"clip_grad_norm": 0.25}),
        ("adam_clip_value", O.Adam, {"lr": 0.05}, None, {"clip_grad_value": 0.05}),
        ("sgd_l2_penalty", O.SGD, {"lr": 0.1, "momentum": 0.9}, None, {"penalty": "l2_weights"}),
        ("adam_l1_l2_penalty_named", O.Adam, {"lr": 0.05}, None, {"penalty": "l1_w0_l2_b2"}),
    ]

    def penalty(model, kind):
        if kind == "l2_weights":  # 0.01 * sum of squares of every weight matrix
            return 0.01 * sum((p ** 2).sum() for p in model.parameters() if p.ndim > 1)
        if kind == "l1_w0_l2_b2":
            return 0.005 * model[0].weight.abs().sum() + 0.02 * (model[2].bias ** 2).sum()
        return 0.0
    cases = []
    for name, cls, kw, groups, clip in configs:
        model = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
        model.load_state_dict(init)
        named = dict(model.named_parameters())
        if groups == "no_decay_vectors":
            params = [{"params": [p for p in named.values() if p.ndim > 1]},
                      {"params": [p for p in named.values() if p.ndim <= 1], "weight_decay": 0.0}]
        elif groups == "layer2_lr":
            params = [{"params": list(model[0].parameters())}, {"params": list(model[2].parameters()), "lr": 0.02}]
        else:
            params = model.parameters()
        opt = cls(params, **kw)
        losses, norms = [], []
        for _ in range(10):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y) + penalty(model, clip.get("penalty"))
            loss.backward()
            if "clip_grad_norm" in clip:
                norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip["clip_grad_norm"])))
            if "clip_grad_value" in clip:
                torch.nn.utils.clip_grad_value_(model.parameters(), clip["clip_grad_value"])
            opt.step()
            losses.append(loss.item())
        opts = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()}
        cases.append({"name": name, "optimizer": cls.__name__, "options": opts, "groups": groups, "clip": clip,
                      "losses": losses, "grad_norms": norms,
                      "final": {k: flat(v) for k, v in model.state_dict().items()}})
    write("optimizer_runs.json", {"x": flat(x), "y": flat(y), "init": {k: flat(v) for k, v in init.items()},
                                  "cases": cases})


def schedules():
    """The learning rate (and OneCycleLR's momentum) at each of 40 steps of every schedule, from an SGD
    optimizer with lr 0.1 and momentum 0.9; ReduceLROnPlateau fed a fixed metric sequence."""
    S = torch.optim.lr_scheduler
    metrics = [1.0, 0.9, 0.95, 0.95, 0.9, 0.91, 0.92, 0.899, 0.85, 0.86, 0.86, 0.86, 0.86, 0.86, 0.7, 0.71,
               0.72, 0.72, 0.72, 0.72, 0.72, 0.72, 0.72, 0.72, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6,
               0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    configs = [
        ("step", lambda o: S.StepLR(o, step_size=7, gamma=0.5), {"step_size": 7, "gamma": 0.5}),
        ("multistep", lambda o: S.MultiStepLR(o, milestones=[5, 12, 30], gamma=0.3),
         {"milestones": [5, 12, 30], "gamma": 0.3}),
        ("exponential", lambda o: S.ExponentialLR(o, gamma=0.93), {"gamma": 0.93}),
        ("cosine", lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.002), {"T_max": 10, "eta_min": 0.002}),
        ("linear", lambda o: S.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=15),
         {"start_factor": 0.2, "end_factor": 0.9, "total_iters": 15}),
        ("warmup_cosine", lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5),
                                                       S.CosineAnnealingLR(o, T_max=35, eta_min=0.001)],
                                                   milestones=[5]), {}),
        ("warmup_step", lambda o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.25, total_iters=3),
                                                     S.StepLR(o, step_size=10, gamma=0.5)], milestones=[3]), {}),
        ("chained_constant_exponential",
         lambda o: S.ChainedScheduler([S.ConstantLR(o, factor=0.5, total_iters=4), S.ExponentialLR(o, gamma=0.9)]),
         {}),
        ("chained_linear_step",
         lambda o: S.ChainedScheduler([S.LinearLR(o, start_factor=0.2, total_iters=6), S.StepLR(o, step_size=5, gamma=0.5)]),
         {}),
        ("onecycle", lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=40), {"max_lr": 0.5, "total_steps": 40}),
        ("onecycle_three_phase_linear",
         lambda o: S.OneCycleLR(o, max_lr=0.3, total_steps=45, pct_start=0.25, anneal_strategy="linear",
                                three_phase=True, div_factor=10, final_div_factor=100),
         {"max_lr": 0.3, "total_steps": 45, "pct_start": 0.25, "div_factor": 10, "final_div_factor": 100}),
        ("plateau_min_rel", lambda o: S.ReduceLROnPlateau(o, patience=3, cooldown=2, factor=0.5, min_lr=0.004),
         {"patience": 3, "cooldown": 2, "factor": 0.5, "min_lr": 0.004}),
        ("plateau_max_abs", lambda o: S.ReduceLROnPlateau(o, mode="max", threshold_mode="abs", threshold=0.05,
                                                         patience=2, factor=0.3),
         {"patience": 2, "factor": 0.3, "threshold": 0.05}),
    ]
    out = {"metrics": metrics, "cases": []}
    for name, make, kw in configs:
        p = torch.nn.Parameter(torch.zeros(3))
        opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
        sched = make(opt)
        lrs = [opt.param_groups[0]["lr"]]
        momenta = [opt.param_groups[0]["momentum"]]
        for e in range(39):
            opt.step()
            if name.startswith("plateau"):
                sched.step(metrics[e])
            else:
                sched.step()
            lrs.append(opt.param_groups[0]["lr"])
            momenta.append(opt.param_groups[0]["momentum"])
        out["cases"].append({"name": name, "options": kw, "lrs": lrs, "momenta": momenta})
    write("schedules.json", out)


def loss_options():
    """Every loss, option and reduction: value and gradient with respect to the prediction, on 7 x 11
    inputs (BCE on 7 x 3), some differences exactly zero and some logits far from zero."""
    torch.manual_seed(11)
    F = torch.nn.functional
    rows, cols = 7, 11
    y = torch.randn(rows, cols) * 1.5
    t = torch.randn(rows, cols)
    t[0, :3] = y[0, :3]  # zero differences: the L1 family's gradient is 0 there
    labels = torch.randint(0, cols, (rows,))
    weight = torch.rand(cols) + 0.2
    probs = torch.softmax(torch.randn(rows, cols), dim=1)
    logits = torch.randn(rows, 3) * 4
    logits[0, 0], logits[1, 1] = 40.0, -40.0  # softplus far from zero
    bt = torch.rand(rows, 3)
    pos_weight = torch.tensor([0.5, 2.0, 3.0])
    pb = torch.sigmoid(torch.randn(rows, 3))
    logp = torch.log_softmax(torch.randn(rows, cols), dim=1)
    cases = []

    def case(name, fn, pred, target, **extra):
        p = pred.clone().requires_grad_(True)
        value = fn(p)
        value.backward()
        c = {"name": name, "rows": pred.shape[0], "cols": pred.shape[1], "y": flat(pred), "value": value.item(),
             "grad": flat(p.grad)}
        c["t"] = [int(v) for v in target] if target.dtype == torch.int64 else flat(target)
        c.update({k: flat(v) for k, v in extra.items()})
        cases.append(c)

    for red in ("mean", "sum"):
        case("mse_" + red, lambda p: F.mse_loss(p, t, reduction=red), y, t)
        case("l1_" + red, lambda p: F.l1_loss(p, t, reduction=red), y, t)
        case("bce_" + red, lambda p: F.binary_cross_entropy(p, bt, reduction=red), pb, bt)
        case("bce_logits_" + red, lambda p: F.binary_cross_entropy_with_logits(p, bt, reduction=red), logits, bt)
        case("bce_logits_pos_weight_" + red,
             lambda p: F.binary_cross_entropy_with_logits(p, bt, pos_weight=pos_weight, reduction=red), logits, bt,
             pos_weight=pos_weight)
        case("nll_" + red, lambda p: F.nll_loss(p, labels, reduction=red), logp, labels)
        case("nll_weighted_" + red, lambda p: F.nll_loss(p, labels, weight=weight, reduction=red), logp, labels,
             weight=weight)
        case("ce_" + red, lambda p: F.cross_entropy(p, labels, reduction=red), y, labels)
        case("ce_smoothing_" + red, lambda p: F.cross_entropy(p, labels, label_smoothing=0.1, reduction=red), y, labels)
        case("ce_weighted_" + red, lambda p: F.cross_entropy(p, labels, weight=weight, reduction=red), y, labels,
             weight=weight)
        case("ce_weighted_smoothing_" + red,
             lambda p: F.cross_entropy(p, labels, weight=weight, label_smoothing=0.2, reduction=red), y, labels,
             weight=weight)
        case("ce_probabilities_" + red, lambda p: F.cross_entropy(p, probs, reduction=red), y, probs)
        case("ce_probabilities_smoothing_weighted_" + red,
             lambda p: F.cross_entropy(p, probs, weight=weight, label_smoothing=0.15, reduction=red), y, probs,
             weight=weight)
    case("smooth_l1_beta1_mean", lambda p: F.smooth_l1_loss(p, t, beta=1.0), y, t)
    case("smooth_l1_beta0.5_sum", lambda p: F.smooth_l1_loss(p, t, beta=0.5, reduction="sum"), y, t)
    case("smooth_l1_beta0_mean", lambda p: F.smooth_l1_loss(p, t, beta=0.0), y, t)
    case("huber_delta1_mean", lambda p: F.huber_loss(p, t, delta=1.0), y, t)
    case("huber_delta0.3_sum", lambda p: F.huber_loss(p, t, delta=0.3, reduction="sum"), y, t)
    write("loss_options.json", {"cases": cases})


def torch_state_dict():
    """A state_dict saved by PyTorch with safetensors.torch.save_file (parameters, running statistics and
    num_batches_tracked after three training steps), and the eval-mode logits of a batch, which ingot must
    reproduce after io::load_state_dict."""
    from safetensors.torch import save_file
    torch.manual_seed(8)
    model = torch.nn.Sequential(torch.nn.Linear(7, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
                                torch.nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(20, 7)
    labels = torch.randint(0, 3, (20,))
    model.train()
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), labels).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        logits = model(x)
    save_file(model.state_dict(), os.path.join(OUT, "torch_mlp_bn.safetensors"))
    write("torch_state_dict.json", {"x": flat(x), "eval_logits": flat(logits),
                                    "num_batches_tracked": int(model[1].num_batches_tracked)})


def conv():
    """Conv2d (several strides and paddings), MaxPool2d, AvgPool2d and BatchNorm2d (train and eval) on
    batches of 3 images of 7 x 9: outputs and the gradients of sum(y * r), all in PyTorch's NCHW order
    (flattened per sample); then a small CNN trained 5 SGD steps (momentum 0.9) under cross-entropy."""
    torch.manual_seed(9)
    out = {}

    def probe(name, fn, x, params, **extra):
        x = x.clone().requires_grad_(True)
        y = fn(x)
        r = torch.randn_like(y)
        (y * r).sum().backward()
        case = {"x": flat(x), "y": flat(y), "r": flat(r), "grad_x": flat(x.grad)}
        for pname, p in params.items():
            case[pname] = flat(p)
            case["grad_" + pname] = flat(p.grad)
        case.update(extra)
        out[name] = case

    for (c, oc, k, stride, pad) in [(3, 4, 3, 1, 0), (3, 4, 3, 2, 1), (2, 5, 3, 1, 1), (3, 2, 5, 2, 2)]:
        conv = torch.nn.Conv2d(c, oc, k, stride=stride, padding=pad)
        probe("conv_%d_%d_%d_s%d_p%d" % (c, oc, k, stride, pad), conv, torch.randn(3, c, 7, 9),
              {"weight": conv.weight, "bias": conv.bias})
    probe("maxpool_2_2", torch.nn.MaxPool2d(2, 2), torch.randn(3, 3, 7, 9), {})
    probe("maxpool_3_2", torch.nn.MaxPool2d(3, 2), torch.randn(3, 3, 7, 9), {})
    probe("avgpool_2_2", torch.nn.AvgPool2d(2, 2), torch.randn(3, 3, 7, 9), {})
    probe("avgpool_3_2", torch.nn.AvgPool2d(3, 2), torch.randn(3, 3, 7, 9), {})
    probe("global_avgpool", torch.nn.AdaptiveAvgPool2d(1), torch.randn(3, 3, 7, 9), {})
    bn = torch.nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.weight.copy_(1 + 0.2 * torch.randn(3))
        bn.bias.copy_(0.1 * torch.randn(3))
    bn.train()
    probe("batchnorm_train", bn, torch.randn(3, 3, 7, 9) * 2 + 0.5, {"weight": bn.weight, "bias": bn.bias},
          running_mean=flat(bn.running_mean), running_var=flat(bn.running_var))
    bn.eval()
    bn.weight.grad = None
    bn.bias.grad = None
    probe("batchnorm_eval", bn, torch.randn(3, 3, 7, 9), {"weight": bn.weight, "bias": bn.bias},
          running_mean=flat(bn.running_mean), running_var=flat(bn.running_var))

    x = torch.randn(16, 2 * 8 * 8)
    labels = torch.randint(0, 3, (16,))
    model = torch.nn.Sequential(
        torch.nn.Unflatten(1, (2, 8, 8)), torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 6, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(24, 3))
    init = {k: flat(v) for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    losses = []
    for step in range(5):
        xb, yb = x[8 * (step % 2):8 * (step % 2) + 8], labels[8 * (step % 2):8 * (step % 2) + 8]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        eval_logits = model(x)
    final = {k: flat(v) for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    out["cnn"] = {"x": flat(x), "labels": [int(v) for v in labels], "init": init, "losses": losses,
                  "final": final, "eval_logits": flat(eval_logits)}
    write("conv.json", out)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    seed_loop()
    losses()
    optimizers()
    mlp_adam()
    norms()
    mlp_batchnorm_dropout()
    optimizer_runs()
    schedules()
    loss_options()
    torch_state_dict()
    conv()
