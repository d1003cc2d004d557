"""`cnncost-train eggholder`: how to spend at most 512 hidden units, depth vs width, on a hard 2-D function.

Eggholder (Surjanovic & Bingham, Virtual Library of Simulation Experiments, sfu.ca/~ssurjano/egg.html):
    f(x1, x2) = -(x2 + 47) sin(sqrt|x2 + x1/2 + 47|) - x1 sin(sqrt|x1 - (x2 + 47)|),
global minimum f(512, 404.2319) = -959.6407 on [-512, 512]^2.
Data: N points uniform on [-512, 512]^2 (default 100,000), targets f + Gaussian noise whose STANDARD
DEVIATION is --noise (default 0.3; --noise-is variance takes sqrt first), 80/20 split, all from --seed.
Inputs are scaled by 1/512 and targets by the training targets' standard deviation for training;
RMSE is reported in f's own units.
Nets: zoo `mlp` (input (2,), 1 output), 1, 2 or 3 hidden layers with widths from {16, ..., 512} and
at most --max-units hidden units in total; ReLU; BatchNorm after each hidden fc in the 2- and 3-layer
nets; SGD with Nesterov momentum; batch 1000; --epochs (default 2000).  Parameter counts come from
cnncost.analyze on the same spec that is trained.
Many nets at once: the --seeds copies of one architecture are stacked (torch.func.stack_module_state)
and trained as one vmapped function; BatchNorm then uses batch statistics in training and in
evaluation (torch.func.replace_all_batch_norm_modules_; the test set is evaluated as one batch).
Each copy sees the same batches; each copy's loss is its own mean squared error and the summed loss
keeps their gradients apart.  A net's training time = the group's wall time / copies (clock around the
training steps only).  Resume: every finished architecture is kept in nets.csv and not trained again;
refused when an option a net's result depends on (RESULT_OPTIONS, stored in config.json) differs.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from cnncost.errors import CostError
from cnncost_train.engine import options

WIDTHS = (16, 32, 64, 128, 256, 512)
MIN_POINTS = 10
#: what a net's result depends on (a --resume with any of them different is refused); widths, depths and
#: --max-units only choose which nets run, so a resume may widen the sweep
RESULT_OPTIONS = ("n", "noise", "noise_is", "epochs", "batch", "lr", "momentum", "seeds", "seed", "smoke")
MINIMUM = ((512.0, 404.2319), -959.6407)   # Surjanovic & Bingham


def eggholder(x1, x2):
    """Works on floats, numpy arrays and torch tensors alike."""
    import numpy as np
    lib = np
    try:
        import torch
        if isinstance(x1, torch.Tensor):
            lib = torch
    except ImportError:
        pass
    a = x2 + 47
    return -a * lib.sin(lib.sqrt(abs(x2 + x1 / 2 + 47))) - x1 * lib.sin(lib.sqrt(abs(x1 - a)))


def make_data(n: int = 100_000, noise: float = 0.3, noise_is: str = "std", seed: int = 0, test_fraction: float = 0.2):
    """(train_x, train_y, test_x, test_y) float64 numpy; noise as standard deviation (or variance)."""
    import numpy as np
    if noise_is not in ("std", "variance"):
        raise CostError(f"--noise-is must be std or variance, got {noise_is!r}")
    if noise < 0:
        raise CostError(f"--noise must be non-negative, got {noise}")
    sd = noise if noise_is == "std" else math.sqrt(noise)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-512, 512, size=(n, 2))
    y = eggholder(x[:, 0], x[:, 1]) + rng.normal(0.0, sd, size=n)
    n_test = int(round(n * test_fraction))
    perm = rng.permutation(n)
    te, tr = perm[:n_test], perm[n_test:]
    return x[tr], y[tr], x[te], y[te]


def architectures(widths=WIDTHS, max_units: int = 512, depths=(1, 2, 3)) -> list[tuple]:
    """Every ordered tuple of 1-3 widths from `widths` with sum <= max_units."""
    return [h for d in depths for h in itertools.product(widths, repeat=d) if sum(h) <= max_units]


def net_spec(hidden: tuple):
    from cnncost import zoo
    return zoo.get("mlp", hidden=tuple(hidden), classes=1, batchnorm=len(hidden) > 1).spec


def params_of(hidden: tuple) -> int:
    from cnncost import walk
    return int(walk.analyze(net_spec(hidden), (2,)).total["params"])


@dataclass
class Options:
    n: int = 100_000
    noise: float = 0.3
    noise_is: str = "std"
    epochs: int = 2000
    batch: int = 1000
    lr: float = 0.01
    momentum: float = 0.9
    seeds: int = 3
    widths: list = field(default_factory=lambda: list(WIDTHS))
    max_units: int = 512
    depths: list = field(default_factory=lambda: [1, 2, 3])
    out: Path | None = None
    smoke: bool = False
    resume: bool = False
    seed: int = 0
    device: str | None = None


def train_group(hidden: tuple, data, o: Options, device) -> dict:
    """Train o.seeds copies of one architecture together (vmap); returns per-copy test RMSE and the time."""
    import copy

    import torch
    from torch.func import functional_call, replace_all_batch_norm_modules_, stack_module_state, vmap

    from cnncost.torch.build import build
    from cnncost_train.engine.clock import Clock
    from cnncost_train.engine.loop import Loop

    tx, ty, vx, vy, scale = data
    nets = []
    for k in range(o.seeds):
        torch.manual_seed(o.seed * 10_007 + k)
        m = build(net_spec(hidden), (2,)).to(device)
        replace_all_batch_norm_modules_(m)
        nets.append(m)
    params, buffers = stack_module_state(nets)
    base = copy.deepcopy(nets[0]).to("meta")
    fwd = vmap(lambda p, b, x: functional_call(base, (p, b), (x,)), in_dims=(0, 0, None), randomness="different")
    opt = torch.optim.SGD(list(params.values()), lr=o.lr, momentum=o.momentum, nesterov=True)
    n = len(ty)
    spe = max(1, n // o.batch)

    def step(x, y, i):
        out = fwd(params, buffers, x).squeeze(-1)          # (copies, batch)
        per_net = ((out - y) ** 2).mean(1)
        per_net.sum().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return per_net.detach().mean() * len(y), torch.zeros((), device=device)

    def batches(epoch, first):
        g = torch.Generator(device="cpu").manual_seed(o.seed * 1_000_003 + epoch)
        perm = torch.randperm(n, generator=g).to(device)
        for k in range(first, spe):
            idx = perm[k * o.batch:(k + 1) * o.batch]
            yield tx[idx], ty[idx]

    clock = Clock(device)
    state = Loop(step=step, batches=batches, total_steps=o.epochs * spe, steps_per_epoch=spe, clock=clock).run()
    train_s = clock.seconds()["train"]
    with torch.no_grad():
        pred = fwd(params, buffers, vx).squeeze(-1) * scale
        rmse = ((pred - vy * scale) ** 2).mean(1).sqrt().tolist()
    return {"rmse": rmse, "group_train_s": train_s, "final_train_mse_scaled": state.history[-1]["train_loss"]}


def plot(path: Path, rows: list[dict]):
    import numpy as np
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for d in sorted({r["depth"] for r in rows}):
        rs = [r for r in rows if r["depth"] == d]
        units = sorted({r["units"] for r in rs})
        axes[0].plot(units, [np.mean([r["test_rmse"] for r in rs if r["units"] == u]) for u in units], "o-",
                     label=f"{d} hidden layer(s)")
        rs = sorted(rs, key=lambda r: r["params"])
        axes[1].plot([r["params"] for r in rs], [r["test_rmse"] for r in rs], "o", ms=4, label=f"{d} hidden layer(s)")
        axes[2].plot([r["params"] for r in rs], [r["train_s_per_net"] for r in rs], "o", ms=4, label=f"{d} hidden layer(s)")
    for ax, xl, yl, t in ((axes[0], "total hidden units", "test RMSE", "test RMSE vs hidden units (mean of nets of equal total)"),
                          (axes[1], "parameters (cnncost, BN included)", "test RMSE", "test RMSE vs parameters"),
                          (axes[2], "parameters (cnncost, BN included)", "s per net", "training time per net")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.set_title(t, fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(o: Options) -> list[dict]:
    import numpy as np
    import csv

    import torch
    from rich.console import Console

    from cnncost_train.engine import options, outputs, resume_guard

    console = Console(stderr=True)
    if o.n < MIN_POINTS:
        raise CostError(f"--n must be at least {MIN_POINTS} points (an 80/20 split with a test set and a "
                        f"training set of more than one point), got {o.n}")
    if o.smoke:
        o.n, o.epochs, o.seeds, o.max_units = min(o.n, 2000), min(o.epochs, 2), min(o.seeds, 2), min(o.max_units, 64)
        o.widths = [w for w in o.widths if w <= 32]
    if o.batch < 1 or o.epochs < 1 or o.seeds < 1:
        raise CostError("--batch, --epochs and --seeds must be at least 1")
    bad = [w for w in o.widths if w < 1] + [d for d in o.depths if d not in (1, 2, 3)]
    if bad:
        raise CostError(f"widths must be positive and depths 1, 2 or 3; got {bad[0]}")
    device = options.resolve_device(o.device, o.smoke)
    out = Path(o.out or "runs/eggholder")
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "nets.csv"
    resume_guard.check(out / "config.json", {k: getattr(o, k) for k in RESULT_OPTIONS}, o.resume)
    done = {}
    if o.resume and csv_path.is_file():
        with open(csv_path) as f:
            for r in csv.DictReader(f):
                done[r["hidden"]] = {k: (v if k in ("hidden",) else float(v)) for k, v in r.items()}
    elif csv_path.is_file():
        csv_path.unlink()
    tx, ty, vx, vy = make_data(o.n, o.noise, o.noise_is, o.seed)
    scale = float(ty.std())
    t = lambda a: torch.tensor(a, dtype=torch.float32, device=device)
    data = (t(tx / 512), t(ty / scale), t(vx / 512), t(vy / scale), scale)
    archs = architectures(tuple(o.widths), o.max_units, tuple(o.depths))
    if not archs:
        raise CostError("no architecture fits: every width exceeds --max-units")
    rows = list(done.values())
    with outputs.progress(console) as prog:
        task = prog.add_task("eggholder nets", total=len(archs), info="")
        for h in archs:
            name = "-".join(map(str, h))
            if name in done:
                prog.advance(task)
                continue
            prog.update(task, info=f"{name} x{o.seeds}")
            res = train_group(h, data, o, device)
            row = {"hidden": name, "depth": len(h), "units": sum(h), "params": params_of(h),
                   "test_rmse": float(np.mean(res["rmse"])), "test_rmse_min": min(res["rmse"]),
                   "test_rmse_max": max(res["rmse"]), "copies": o.seeds,
                   "train_s_per_net": res["group_train_s"] / o.seeds, "group_train_s": res["group_train_s"]}
            rows.append(row)
            outputs.write_csv(csv_path, rows)   # after every architecture: resume point
            prog.advance(task)
    for r in rows:
        for k in ("depth", "units", "params", "copies"):
            r[k] = int(r[k])
    outputs.write_csv(csv_path, rows)
    summary = {"options": {k: (str(v) if isinstance(v, Path) else v) for k, v in o.__dict__.items()},
               "noise_std": o.noise if o.noise_is == "std" else math.sqrt(o.noise), "target_scale": scale,
               "device": options.device_name(device), "nets": rows,
               "by_depth_units": [{"depth": d, "units": u, "mean_test_rmse": float(np.mean(
                   [r["test_rmse"] for r in rows if r["depth"] == d and r["units"] == u]))}
                   for d, u in sorted({(r["depth"], r["units"]) for r in rows})]}
    outputs.write_json(out / "results.json", summary)
    plot(out / "eggholder.png", rows)
    best = min(rows, key=lambda r: r["test_rmse"])
    console.print(f"{len(rows)} nets; best {best['hidden']} test RMSE {best['test_rmse']:.2f}; "
                  f"wrote {out}/nets.csv, results.json, eggholder.png")
    return rows


def command(
    n: Annotated[int, typer.Option("--n", help="Points drawn uniformly from [-512, 512]^2 (80/20 split).")] = 100_000,
    noise: Annotated[float, typer.Option("--noise", help="Gaussian noise on the targets.")] = 0.3,
    noise_is: Annotated[str, typer.Option("--noise-is", help="std (standard deviation) or variance.")] = "std",
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs per net.")] = 2000,
    batch: Annotated[int, typer.Option("--batch", help="Batch size.")] = 1000,
    lr: Annotated[float, typer.Option("--lr", help="SGD learning rate (Nesterov momentum 0.9).")] = 0.01,
    seeds: Annotated[int, typer.Option("--seeds", help="Copies per architecture, trained together (vmap).")] = 3,
    max_units: Annotated[int, typer.Option("--max-units", help="Most hidden units in a net.")] = 512,
    out: options.Out = None, smoke: options.Smoke = False, resume: options.Resume = False, seed: options.Seed = 0,
    device: options.Device = None,
):
    """Depth vs width: MLPs of 1-3 hidden layers with <= 512 units fitted to the Eggholder function."""
    with options.cli_errors():
        run(Options(n=n, noise=noise, noise_is=noise_is, epochs=epochs, batch=batch, lr=lr, seeds=seeds,
                    max_units=max_units, out=out, smoke=smoke, resume=resume, seed=seed, device=device))


def register(app):
    app.command("eggholder")(command)
