"""Learning-rate range test (`cnncost-train lr-range`): n log-spaced rates, one run each, and Smith's
single exponentially increasing run; picks lr_min and lr_max by the rule in `engine/schedules.py`."""
from __future__ import annotations

import math
from typing import Annotated

import typer

from cnncost.errors import CostError
from cnncost_train.engine import options, outputs, schedules, study_setup


def command(
    model: options.StudyModel = None, epochs: options.StudyEpochs = None,
    lo: Annotated[float, typer.Option("--lo", help="Smallest rate.")] = 1e-9,
    hi: Annotated[float, typer.Option("--hi", help="Largest rate.")] = 1e1,
    n: Annotated[int, typer.Option("--n", help="Candidate rates (log-spaced), one run each.")] = 10,
    pick: Annotated[str, typer.Option("--pick", help="Pick lr_min/lr_max from the 'study' runs or the 'single' run.")] = "study",
    batch: Annotated[int, typer.Option("--batch", help="Batch size.")] = 64,
    val: options.Val = 5000, data_dir: options.DataDir = None, out: options.Out = None, smoke: options.Smoke = False,
    resume: options.Resume = False, seed: options.Seed = 0, device: options.Device = None,
):
    """LR range test on Fashion-MNIST: n rates x epochs, and Smith's single exponential run; picks lr_min/lr_max."""
    with options.cli_errors():
        run(study_setup.Options(out=out, data_dir=data_dir, smoke=smoke, resume=resume, seed=seed, device=device,
                                model=model, epochs=epochs, batch=batch, val=val), lo, hi, n, pick)


def register(app):
    app.command("lr-range")(command)


def run(o: study_setup.Options, lo: float = 1e-9, hi: float = 1e1, n: int = 10, pick: str = "study"):
    from cnncost_train.engine import study_run as study
    if pick not in ("study", "single"):
        raise CostError(f"--pick must be study or single, got {pick!r}")
    out, device, ds, t, con = study_setup.setup(o, "lr-range", "fashion-mnist")
    model = o.model or ("lenet5" if o.smoke else "minigooglenet")
    epochs = o.epochs or (1 if o.smoke else 5)
    spe = study_setup.steps_per_epoch(len(t.train_y), o.batch)
    total = max(1, round(epochs * spe))
    rates = schedules.log_rates(lo, hi, n)
    sweep = study.Sweep(out, o.resume, study_setup.meta(o, ds, t, model=model, rates=rates, epochs=epochs,
                                                        batch=o.batch))
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
    if pick == "single" and not single:
        raise CostError("--pick single: the single run recorded no steps; use --pick study")
    outputs.write_csv(out / "study.csv", study_rows)
    outputs.write_csv(out / "single.csv", single)
    sweep.save()
    rows = study_rows if pick == "study" else single
    losses = [math.inf if r.get("diverged") else r["final_train_loss" if pick == "study" else "smoothed"] for r in rows]
    picks = study_setup.pick_or_diverged(schedules.pick_lr, [r["lr"] for r in rows], losses, out)
    sweep.extra["picks"] = {"lr_min": picks[0], "lr_max": picks[1], "from": pick,
                            "rule": "lr_min: first rate with L <= L0 - 0.1 drop; lr_max: last rate from argmin on "
                                    "with L <= Lmin + 0.1 drop"}
    sweep.save()
    plot(out / "lr_range.png", study_rows, single, picks, model)
    con.print(f"lr-range: lr_min {picks[0]:.3g}, lr_max {picks[1]:.3g} (from the {pick} run{'s' * (pick == 'study')}); "
              f"results in {out}: results.json, study.csv, single.csv, lr_range.png", highlight=False, soft_wrap=True)
    return sweep


def plot(path, study_rows: list[dict], single: list[dict], picks, model: str):
    """Final training loss per rate and the single run's smoothed loss against the rate, both axes log
    (one diverged point would otherwise flatten the curve; non-finite losses are left out).  Returns the figure."""
    from cnncost_train.engine import study_run as study
    finite = lambda v: v if v is not None and math.isfinite(v) and v > 0 else math.nan
    p = study.plt()
    fig, ax = p.subplots(figsize=(6, 4))
    ax.plot([r["lr"] for r in study_rows], [finite(r["final_train_loss"]) for r in study_rows], "o-",
            label=f"{len(study_rows)} rates, final-epoch loss")
    if single:
        ax.plot([r["lr"] for r in single], [finite(r["smoothed"]) for r in single], "-", label="single run (smoothed)")
    ax.set(xscale="log", yscale="log", xlabel="learning rate", ylabel="training loss", title=f"LR range test, {model}")
    for v, name in zip(picks, ("lr_min", "lr_max")):
        ax.axvline(v, ls="--", color="gray")
        ax.text(v, ax.get_ylim()[1], f" {name}={v:.1e}", rotation=90, va="top", fontsize=8)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=100)
    p.close(fig)
    return fig
