"""Cyclical learning rate (`cnncost-train clr`): Smith's triangular exp_range schedule between lr_min and
lr_max (given, or lr-range's picks) until the validation loss stops falling; loss, accuracy, lr curves.
`cyclic_run` (one scheduled run to a plateau, its CSV and plot) is shared with the cyclical batch size."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from cnncost.errors import CostError
from cnncost_train.engine import options, outputs, schedules, study_setup


def command(
    lr_min: options.optional_float("--lr-min", "Lower rate (default: lr-range's pick).") = None,
    lr_max: options.optional_float("--lr-max", "Upper rate (default: lr-range's pick).") = None,
    lr_range_dir: Annotated[Optional[Path], typer.Option("--lr-range-dir", help="lr-range --out (default: beside --out).",
                                                         show_default=False)] = None,
    gamma: Annotated[float, typer.Option("--gamma", help="exp_range amplitude decay per iteration.")] = 0.99994,
    step_epochs: Annotated[float, typer.Option("--step-epochs", help="Half cycle in epochs.")] = 4.0,
    max_epochs: options.optional_float("--max-epochs", "Cap (default 100; 2 with --smoke).") = None,
    patience: Annotated[int, typer.Option("--patience", help="Stop after this many epochs without a lower validation loss.")] = 5,
    model: options.StudyModel = None, batch: Annotated[int, typer.Option("--batch", help="Batch size.")] = 64,
    val: options.Val = 5000, data_dir: options.DataDir = None, out: options.Out = None, smoke: options.Smoke = False,
    resume: options.Resume = False, seed: options.Seed = 0, device: options.Device = None,
):
    """Cyclical learning rate (triangular exp_range) to a validation-loss plateau; loss and accuracy curves."""
    with options.cli_errors():
        run(study_setup.Options(out=out, data_dir=data_dir, smoke=smoke, resume=resume, seed=seed, device=device,
                                model=model, batch=batch, val=val), lr_min, lr_max, gamma, step_epochs, max_epochs,
            patience, lr_range_dir)


def register(app):
    app.command("clr")(command)


def run(o: study_setup.Options, lr_min=None, lr_max=None, gamma=0.99994, step_epochs=4.0, cap=None, patience=5,
            lr_range_dir: Path | None = None):
    out0, device, ds, t, con = study_setup.setup(o, "clr", "fashion-mnist")
    if lr_min is None or lr_max is None:
        got = study_setup.prior_picks(Path(lr_range_dir or out0.parent / "lr-range") / "results.json", ("lr_min", "lr_max"))
        if got is None:
            raise CostError("clr needs --lr-min and --lr-max, or an lr-range results.json (--lr-range-dir)")
        lr_min, lr_max = lr_min if lr_min is not None else got[0], lr_max if lr_max is not None else got[1]
    spe = study_setup.steps_per_epoch(len(t.train_y), o.batch)
    s = max(1, round(step_epochs * spe))
    cap = cap or (2 if o.smoke else 100)
    f = lambda i: schedules.clr(i, lr_min, lr_max, s, gamma)
    return cyclic_run(o, "clr", f, o.batch, study_setup.meta(o, ds, t, lr_min=lr_min, lr_max=lr_max, gamma=gamma,
                                                             step=s, batch=o.batch), spe, t, device, con, cap, patience)


def cyclic_run(o: study_setup.Options, name: str, lr_fn, batch_fn, meta: dict, spe: int, t, device, con, cap: float, patience: int):
    from cnncost_train.engine import study_run as study
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
    outputs.write_csv(out / "history.csv", study_setup.history_rows(r, run=name))
    p = study.plt()
    fig, (a1, a2, a3) = p.subplots(1, 3, figsize=(12, 3.5))
    h = r["history"]
    ep = [x["epoch"] for x in h]
    a1.plot(ep, [x["train_loss"] for x in h], ".-", label="train")
    a1.plot(ep, [x["val_loss"] for x in h], ".-", label="validation")
    a2.plot(ep, [x["train_acc"] for x in h], ".-", label="train")
    a2.plot(ep, [x["val_acc"] for x in h], ".-", label="validation")
    a3.plot(ep, [x["lr"] for x in h], ".-", label="lr")
    a3b = a3.twinx()
    a3b.plot(ep, [x["batch"] for x in h], "C1.-", label="batch")
    a1.set(xlabel="epoch", ylabel="loss")
    a2.set(xlabel="epoch", ylabel="accuracy %")
    a3.set(xlabel="epoch", ylabel="lr at epoch end")
    a3b.set(ylabel="batch at epoch end")
    a1.legend()
    fig.suptitle(f"{name}, {model}")
    fig.tight_layout()
    fig.savefig(out / f"{name}.png", dpi=100)
    p.close(fig)
    if r["diverged"]:
        from cnncost_train.engine.loop import Diverged
        raise Diverged(f"{name} diverged ({r['diverged'].split(';')[0]}); its {len(h)} finished epoch(s) are kept in "
                       f"{out}: results.json, history.csv, {name}.png")
    return sweep, out
