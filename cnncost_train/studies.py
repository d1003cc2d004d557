"""Issue 7 commands: adaptive optimisers, Fashion-MNIST summary, LR range test, cyclical learning rate,
batch-size range test and cyclical batch size.  Each writes results.json, CSV and PNG under --out and
resumes (finished runs kept in results.json, the unfinished one from its checkpoint).

Pick rules (stated, applied to the final training loss L(x) over ascending x, non-finite = +inf):
  L0 = L(first x), Lmin = min L, drop = L0 - Lmin (no drop: both picks are the first x).
  lr_min = first rate with L <= L0 - 0.1 drop (the loss has begun to fall);
  lr_max = last rate of the run of rates from argmin onward with L <= Lmin + 0.1 drop (still at the floor).
  b_min  = first batch with L <= L0 - 0.1 drop;  b_max = first batch with L <= Lmin + 0.1 drop (larger
  batches buy under 10% of the drop).
Schedules: Smith 2017 (WACV, arXiv:1506.01186) triangular exp_range,
  lr(i) = lr_min + (lr_max - lr_min) max(0, 1 - |i/s - 2c + 1|) gamma^i,  c = floor(1 + i/(2s));
cyclical batch size mirrors it in noise scale lr/B (Smith et al. 2018, arXiv:1711.00489):
  1/B(i) = 1/b_max + (1/b_min - 1/b_max) max(0, 1 - |i/s - 2c + 1|) gamma^i  (B grows as lr would decay).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnncost.errors import CostError
from cnncost_train import common

OPTIMIZERS = ("adagrad", "rmsprop", "rmsprop-nesterov", "adadelta", "adam")


# ---------------------------------------------------------------- picks and schedules (no torch)

def _band(losses):
    L = [v if v is not None and math.isfinite(v) else math.inf for v in losses]
    if not L:
        raise CostError("no losses to pick from")
    lo = min(L)
    return L, L[0], lo, (L[0] - lo) if math.isfinite(L[0]) else math.inf


def pick_lr(rates, losses, frac: float = 0.1) -> tuple[float, float]:
    L, l0, lo, drop = _band(losses)
    if not drop > 0:
        return rates[0], rates[0]
    i_min = next(i for i, v in enumerate(L) if v <= (l0 - frac * drop if math.isfinite(drop) else math.inf))
    j = L.index(lo)
    while j + 1 < len(L) and L[j + 1] <= lo + frac * drop:
        j += 1
    return rates[i_min], rates[j]


def pick_batch(batches, losses, frac: float = 0.1) -> tuple[int, int]:
    L, l0, lo, drop = _band(losses)
    if not drop > 0:
        return batches[0], batches[0]
    b_min = next(b for b, v in zip(batches, L) if v <= l0 - frac * drop)
    b_max = next(b for b, v in zip(batches, L) if v <= lo + frac * drop)
    return b_min, b_max


def triangle(i: int, step_size: int) -> float:
    c = math.floor(1 + i / (2 * step_size))
    return max(0.0, 1 - abs(i / step_size - 2 * c + 1))


def clr(i, lr_min, lr_max, step_size, gamma):
    return lr_min + (lr_max - lr_min) * triangle(i, step_size) * gamma ** i


def cbs(i, b_min, b_max, step_size, gamma) -> int:
    inv = 1 / b_max + (1 / b_min - 1 / b_max) * triangle(i, step_size) * gamma ** i
    return max(1, round(1 / inv))


def log_rates(lo: float, hi: float, n: int) -> list[float]:
    return [float(v) for v in np.logspace(math.log10(lo), math.log10(hi), n)]


# ---------------------------------------------------------------- shared

@dataclass
class Options:
    out: Path | None = None
    data_dir: Path | None = None
    smoke: bool = False
    resume: bool = False
    seed: int = 0
    device: str | None = None
    model: str | None = None
    epochs: float | None = None
    batch: int = 64
    val: int = 5000
    extra: dict = field(default_factory=dict)


def _setup(o: Options, name: str, dataset: str):
    from rich.console import Console
    from cnncost_train import study
    out = Path(o.out or f"runs/{name}")
    device = common.resolve_device(o.device, o.smoke)
    ds = study.load(dataset, o.data_dir, o.smoke, o.seed)
    n_val = min(o.val, len(ds.train_y) // 5) if o.smoke else o.val
    t = study.tensors(ds, device, n_val if dataset == "fashion-mnist" else 0, o.seed)
    return out, device, ds, t, Console(stderr=True)


def _spe(n: int, b: int) -> int:
    if n < b:
        raise CostError(f"batch {b} is larger than the {n} training images")
    return n // b


def _prior(path: Path, keys):
    import json
    if not path.is_file():
        return None
    d = json.loads(path.read_text()).get("picks", {})
    return tuple(d.get(k) for k in keys) if all(d.get(k) is not None for k in keys) else None


def _rows(result: dict, **tags):
    return [{**tags, **{k: v for k, v in h.items() if not k.startswith("iter_")}} for h in result["history"]]


# ---------------------------------------------------------------- 1. optimizers

def optimizers(o: Options, methods=OPTIMIZERS, weight_decay: float = 5e-4, lrs: dict | None = None):
    """MLP 3072-1000-1000-10 on CIFAR-10, batch 128, each method without and with dropout (0.2 in, 0.5 hidden)."""
    from cnncost_train import study
    out, device, ds, t, con = _setup(o, "optimizers", "cifar10")
    epochs = o.epochs or (1 if o.smoke else 200)
    b = 128 if not o.smoke else 64
    spe = _spe(len(t.train_y), b)
    sweep = study.Sweep(out, o.resume, {"methods": list(methods), "epochs": epochs, "batch": b, "wd": weight_decay,
                                        "smoke": o.smoke, "seed": o.seed, "lrs": lrs or {}})
    prog, cb = study.progress_runner(con, 2 * len(methods))
    with prog:
        for drop in (False, True):
            for m in methods:
                key = f"{m}{'-dropout' if drop else ''}"
                if sweep.done(key):
                    continue
                spec = study.RunSpec(key, "mlp", m, (lrs or {}).get(m, study.DEFAULT_LR[m]), b,
                                     max(1, round(epochs * spe)), spe, weight_decay, seed=o.seed,
                                     model_opts={"dropout_in": 0.2, "dropout_hidden": 0.5} if drop else {})
                res = study.Run(spec, t, device).train(sweep.ckpt(key), o.resume, cb(key, math.ceil(epochs)))
                sweep.finish(key, {**res, "dropout": drop})
    rows, summary = [], []
    for key, r in sweep.runs.items():
        rows += _rows(r, run=key, method=r["optimizer"], dropout=r["dropout"])
        summary.append({"method": r["optimizer"], "dropout": r["dropout"], "test_acc": r["final_test_acc"],
                        "train_s": r["train_s"], "wall_s": r["wall_s"], "final_train_loss": r["final_train_loss"],
                        "diverged": r["diverged"]})
    common.write_csv(out / "epochs.csv", rows)
    common.write_csv(out / "summary.csv", summary)
    p = study.plt()
    for drop in (False, True):
        fig, ax = p.subplots(figsize=(6, 4))
        for key, r in sweep.runs.items():
            if r["dropout"] == drop:
                ax.plot([h["epoch"] for h in r["history"]], [h["train_loss"] for h in r["history"]], ".-",
                        label=r["optimizer"])
        ax.set(xlabel="epoch", ylabel="training loss", yscale="log",
               title=f"MLP on CIFAR-10, {'dropout 0.2/0.5' if drop else 'no dropout'}")
        ax.legend()
        fig.savefig(out / f"loss_{'dropout' if drop else 'no_dropout'}.png", dpi=100)
        p.close(fig)
    sweep.save()
    return sweep


# ---------------------------------------------------------------- 2. data summary

def data_summary(o: Options, dataset: str = "fashion-mnist"):
    from rich.console import Console
    from cnncost_train import study
    if dataset != "fashion-mnist":
        raise CostError(f"data-summary knows fashion-mnist, got {dataset!r}")
    out = Path(o.out or "runs/data-summary")
    ds = study.load(dataset, o.data_dir, o.smoke, o.seed)
    n_val = min(o.val, len(ds.train_y) // 5) if o.smoke else o.val
    tr, va = study.holdout(len(ds.train_y), n_val, o.seed)
    names = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    per = [{"class": c, "name": names[c], "train": int((ds.train_y[tr] == c).sum()),
            "validation": int((ds.train_y[va] == c).sum()), "test": int((ds.test_y == c).sum())} for c in range(10)]
    summary = {"dataset": dataset, "source": ds.source, "total": len(ds.train_y) + len(ds.test_y),
               "train": len(tr), "validation": len(va), "test": len(ds.test_y), "classes": 10,
               "image_shape": list(ds.train_x.shape[1:]), "seed": o.seed, "per_class": per}
    common.write_json(out / "summary.json", summary)
    common.write_csv(out / "classes.csv", per)
    p = study.plt()
    shown = [c for c in range(10) if (ds.train_y == c).sum() >= 1][:3]
    fig, axes = p.subplots(len(shown), 3, figsize=(4.5, 1.6 * len(shown)), squeeze=False)
    for r, c in enumerate(shown):
        idx = np.flatnonzero(ds.train_y == c)[:3]
        for k in range(3):
            ax = axes[r][k]
            ax.axis("off")
            if k < len(idx):
                ax.imshow(ds.train_x[idx[k], :, :, 0], cmap="gray")
            if k == 0:
                ax.set_title(names[c], fontsize=8, loc="left")
    fig.savefig(out / "samples.png", dpi=100)
    p.close(fig)
    Console(stderr=True).print(f"{dataset}: {summary['total']} images; train {summary['train']}, validation "
                               f"{summary['validation']}, test {summary['test']}; written to {out}")
    return summary


# ---------------------------------------------------------------- 4. LR range test

def lr_range(o: Options, lo: float = 1e-9, hi: float = 1e1, n: int = 10, pick: str = "study"):
    from cnncost_train import study
    out, device, ds, t, con = _setup(o, "lr-range", "fashion-mnist")
    model = o.model or ("lenet5" if o.smoke else "minigooglenet")
    epochs = o.epochs or (1 if o.smoke else 5)
    spe = _spe(len(t.train_y), o.batch)
    total = max(1, round(epochs * spe))
    rates = log_rates(lo, hi, n)
    sweep = study.Sweep(out, o.resume, {"model": model, "rates": rates, "epochs": epochs, "batch": o.batch,
                                        "smoke": o.smoke, "seed": o.seed})
    prog, cb = study.progress_runner(con, n + 1)
    with prog:
        for k, lr in enumerate(rates):
            key = f"lr{k}"
            if not sweep.done(key):
                spec = study.RunSpec(key, model, "sgd", lr, o.batch, total, spe, seed=o.seed)
                sweep.finish(key, {**study.Run(spec, t, device).train(sweep.ckpt(key), o.resume,
                                                                     cb(f"lr {lr:.1e}", math.ceil(epochs))), "lr": lr})
        if not sweep.done("single"):
            f = lambda i: lo * (hi / lo) ** (i / max(total - 1, 1))
            spec = study.RunSpec("single", model, "sgd", f, o.batch, total, spe, record_iters=True, stop_above=4.0,
                                 seed=o.seed)
            sweep.finish("single", study.Run(spec, t, device).train(sweep.ckpt("single"), o.resume,
                                                                  cb("single run", math.ceil(epochs))))
    study_rows = [{"lr": sweep.runs[f"lr{k}"]["lr"], "final_train_loss": sweep.runs[f"lr{k}"]["final_train_loss"],
                   "diverged": sweep.runs[f"lr{k}"]["diverged"] is not None} for k in range(n)]
    one = sweep.runs["single"]
    parts = [*one["history"], one.get("tail") or {}]
    single = [{"step": i, "lr": lr, "loss": l} for i, (lr, l) in
              enumerate((a, b) for h in parts for a, b in zip(h.get("iter_lr", []), h.get("iter_loss", [])))]
    avg = 0.0
    for i, r in enumerate(single):
        avg = 0.98 * avg + 0.02 * r["loss"]
        r["smoothed"] = avg / (1 - 0.98 ** (i + 1))
    if pick == "study":
        picks = pick_lr([r["lr"] for r in study_rows], [r["final_train_loss"] for r in study_rows])
    elif pick == "single" and single:
        picks = pick_lr([r["lr"] for r in single], [r["smoothed"] for r in single])
    else:
        raise CostError(f"--pick must be study or single, got {pick!r}")
    sweep.extra["picks"] = {"lr_min": picks[0], "lr_max": picks[1], "from": pick,
                            "rule": "lr_min: first rate with L <= L0 - 0.1 drop; lr_max: last rate from argmin on "
                                    "with L <= Lmin + 0.1 drop"}
    sweep.save()
    common.write_csv(out / "study.csv", study_rows)
    common.write_csv(out / "single.csv", single)
    p = study.plt()
    fig, ax = p.subplots(figsize=(6, 4))
    ax.plot([r["lr"] for r in study_rows], [r["final_train_loss"] for r in study_rows], "o-",
            label="10 rates, final-epoch loss")
    if single:
        ax.plot([r["lr"] for r in single], [r["smoothed"] for r in single], "-", label="single run (smoothed)")
    for v, name in zip(picks, ("lr_min", "lr_max")):
        ax.axvline(v, ls="--", color="gray")
        ax.text(v, ax.get_ylim()[1], f" {name}={v:.1e}", rotation=90, va="top", fontsize=8)
    ax.set(xscale="log", xlabel="learning rate", ylabel="training loss", title=f"LR range test, {model}")
    ax.legend(fontsize=8)
    fig.savefig(out / "lr_range.png", dpi=100)
    p.close(fig)
    return sweep


# ---------------------------------------------------------------- 5. / 7. cyclical runs

def _cyclic(o: Options, name: str, lr_fn, batch_fn, meta: dict, spe: int, t, device, con, cap: float, patience: int):
    from cnncost_train import study
    out = Path(o.out or f"runs/{name}")
    model = o.model or ("lenet5" if o.smoke else "minigooglenet")
    sweep = study.Sweep(out, o.resume, {**meta, "model": model, "cap": cap, "patience": patience, "smoke": o.smoke,
                                        "seed": o.seed})
    prog, cb = study.progress_runner(con, 1)
    with prog:
        if not sweep.done(name):
            spec = study.RunSpec(name, model, "sgd", lr_fn, batch_fn, max(1, round(cap * spe)), spe, patience=patience,
                                 seed=o.seed, max_batch=o.extra.get("max_batch", 8192))
            sweep.finish(name, study.Run(spec, t, device).train(sweep.ckpt(name), o.resume, cb(name, math.ceil(cap))))
    r = sweep.runs[name]
    common.write_csv(out / "history.csv", _rows(r, run=name))
    p = study.plt()
    fig, (a1, a2, a3) = p.subplots(1, 3, figsize=(12, 3.5))
    h = r["history"]
    ep = [x["epoch"] for x in h]
    a1.plot(ep, [x["train_loss"] for x in h], label="train")
    a1.plot(ep, [x["val_loss"] for x in h], label="validation")
    a2.plot(ep, [x["train_acc"] for x in h], label="train")
    a2.plot(ep, [x["val_acc"] for x in h], label="validation")
    a3.plot(ep, [x["lr"] for x in h], label="lr")
    a3b = a3.twinx()
    a3b.plot(ep, [x["batch"] for x in h], "C1", label="batch")
    a1.set(xlabel="epoch", ylabel="loss")
    a2.set(xlabel="epoch", ylabel="accuracy %")
    a3.set(xlabel="epoch", ylabel="lr at epoch end")
    a3b.set(ylabel="batch at epoch end")
    a1.legend()
    fig.suptitle(f"{name}, {model}")
    fig.tight_layout()
    fig.savefig(out / f"{name}.png", dpi=100)
    p.close(fig)
    return sweep, out


def clr_run(o: Options, lr_min=None, lr_max=None, gamma=0.99994, step_epochs=4.0, cap=None, patience=5,
            lr_range_dir: Path | None = None):
    out0, device, ds, t, con = _setup(o, "clr", "fashion-mnist")
    if lr_min is None or lr_max is None:
        got = _prior(Path(lr_range_dir or out0.parent / "lr-range") / "results.json", ("lr_min", "lr_max"))
        if got is None:
            raise CostError("clr needs --lr-min and --lr-max, or an lr-range results.json (--lr-range-dir)")
        lr_min, lr_max = lr_min if lr_min is not None else got[0], lr_max if lr_max is not None else got[1]
    spe = _spe(len(t.train_y), o.batch)
    s = max(1, round(step_epochs * spe))
    cap = cap or (2 if o.smoke else 100)
    f = lambda i: clr(i, lr_min, lr_max, s, gamma)
    return _cyclic(o, "clr", f, o.batch, {"lr_min": lr_min, "lr_max": lr_max, "gamma": gamma, "step": s,
                                           "batch": o.batch}, spe, t, device, con, cap, patience)


def batch_range(o: Options, lr=None, batches=None, max_batch=8192, lr_range_dir: Path | None = None):
    from cnncost_train import study
    out, device, ds, t, con = _setup(o, "batch-range", "fashion-mnist")
    if lr is None:
        got = _prior(Path(lr_range_dir or out.parent / "lr-range") / "results.json", ("lr_min",))
        if got is None:
            raise CostError("batch-range needs --lr, or an lr-range results.json (--lr-range-dir) to take lr_min from")
        lr = got[0]
    model = o.model or ("lenet5" if o.smoke else "minigooglenet")
    batches = list(batches or ([64, 128, 256] if o.smoke else [64 * 2 ** k for k in range(8)]))
    epochs = o.epochs or (1 if o.smoke else 5)
    iters = max(1, round(epochs * _spe(len(t.train_y), 64)))
    sweep = study.Sweep(out, o.resume, {"model": model, "lr": lr, "batches": batches, "iters": iters,
                                        "max_batch": max_batch, "smoke": o.smoke, "seed": o.seed})
    prog, cb = study.progress_runner(con, len(batches))
    with prog:
        for b in batches:
            key = f"b{b}"
            if not sweep.done(key):
                spe = max(1, min(iters, len(t.train_y) // b))
                spec = study.RunSpec(key, model, "sgd", lr, b, iters, spe, max_batch=max_batch, seed=o.seed)
                sweep.finish(key, {**study.Run(spec, t, device).train(sweep.ckpt(key), o.resume,
                                                                     cb(f"batch {b}", math.ceil(iters / spe))), "batch": b})
    rows = [{"batch": b, "iterations": iters, "final_train_loss": sweep.runs[f"b{b}"]["final_train_loss"],
             "chunk": sweep.runs[f"b{b}"]["chunk"], "accumulated": sweep.runs[f"b{b}"]["accumulated"],
             "test_acc": sweep.runs[f"b{b}"]["final_test_acc"]} for b in batches]
    b_min, b_max = pick_batch(batches, [r["final_train_loss"] for r in rows])
    sweep.extra["picks"] = {"b_min": b_min, "b_max": b_max, "lr_min": lr,
                            "rule": "b_min: first batch with L <= L0 - 0.1 drop; b_max: first batch with "
                                    "L <= Lmin + 0.1 drop"}
    sweep.save()
    common.write_csv(out / "batch_range.csv", rows)
    p = study.plt()
    fig, ax = p.subplots(figsize=(6, 4))
    ax.plot(batches, [r["final_train_loss"] for r in rows], "o-")
    for r in rows:
        if r["accumulated"]:
            ax.annotate(f"acc. {r['chunk']}", (r["batch"], r["final_train_loss"]), fontsize=7)
    for v, name in ((b_min, "b_min"), (b_max, "b_max")):
        ax.axvline(v, ls="--", color="gray")
        ax.text(v, ax.get_ylim()[1], f" {name}={v}", rotation=90, va="top", fontsize=8)
    ax.set(xscale="log", xlabel="batch size", ylabel=f"training loss after {iters} iterations",
           title=f"batch-size range test at lr {lr:.2g}, {model}")
    fig.savefig(out / "batch_range.png", dpi=100)
    p.close(fig)
    return sweep


def cbs_run(o: Options, b_min=None, b_max=None, lr=None, gamma=0.99994, step_epochs=4.0, cap=None, patience=5,
            batch_range_dir: Path | None = None, clr_dir: Path | None = None):
    from cnncost_train import study
    out0, device, ds, t, con = _setup(o, "cbs", "fashion-mnist")
    if None in (b_min, b_max, lr):
        got = _prior(Path(batch_range_dir or out0.parent / "batch-range") / "results.json", ("b_min", "b_max", "lr_min"))
        if got is None:
            raise CostError("cbs needs --b-min, --b-max and --lr, or a batch-range results.json (--batch-range-dir)")
        b_min, b_max, lr = (b_min or got[0]), (b_max or got[1]), (lr or got[2])
    if not 1 <= b_min <= b_max:
        raise CostError(f"need 1 <= b_min <= b_max, got {b_min}, {b_max}")
    spe = _spe(len(t.train_y), b_min)
    s = max(1, round(step_epochs * spe))
    cap = cap or (2 if o.smoke else 100)
    f = lambda i: cbs(i, b_min, b_max, s, gamma)
    sweep, out = _cyclic(o, "cbs", lr, f, {"b_min": b_min, "b_max": b_max, "lr": lr, "gamma": gamma, "step": s},
                         spe, t, device, con, cap, patience)
    rows = [{"run": "cbs", "best_val_acc": sweep.runs["cbs"]["best_val_acc"],
             "best_test_acc": sweep.runs["cbs"]["best_test_acc"], "images": sweep.runs["cbs"]["images"],
             "epochs": sweep.runs["cbs"]["epochs"]}]
    import json
    cpath = Path(clr_dir or out.parent / "clr") / "results.json"
    if cpath.is_file():
        c = json.loads(cpath.read_text())["runs"]["clr"]
        rows.insert(0, {"run": "clr", "best_val_acc": c["best_val_acc"], "best_test_acc": c["best_test_acc"],
                        "images": c["images"], "epochs": c["epochs"]})
    sweep.extra["compare"] = rows
    sweep.save()
    common.write_csv(out / "compare.csv", rows)
    p = study.plt()
    fig, ax = p.subplots(figsize=(4, 3.5))
    ax.bar([r["run"] for r in rows], [r["best_val_acc"] or 0 for r in rows], label="best validation")
    ax.set(ylabel="best validation accuracy %", title="CLR vs CBS" if len(rows) > 1 else "CBS (no CLR run found)")
    fig.tight_layout()
    fig.savefig(out / "compare.png", dpi=100)
    p.close(fig)
    return sweep
