"""Cyclical batch size (`cnncost-train cbs`): the batch cycles between b_min and b_max (given, or
batch-range's picks) at a fixed lr; best accuracy set beside the cyclical-learning-rate run."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cnncost.errors import CostError
from cnncost_train.engine import options, outputs, schedules, study_setup
from cnncost_train.experiments.clr import cyclic_run


def command(
    b_min: Annotated[Optional[int], typer.Option("--b-min", help="Default: batch-range's pick.", show_default=False)] = None,
    b_max: Annotated[Optional[int], typer.Option("--b-max", help="Default: batch-range's pick.", show_default=False)] = None,
    lr: options.optional_float("--lr", "Fixed rate (default: batch-range's lr_min).") = None,
    batch_range_dir: Annotated[Optional[Path], typer.Option("--batch-range-dir", help="batch-range --out (default: "
                                                            "beside --out).", show_default=False)] = None,
    clr_dir: Annotated[Optional[Path], typer.Option("--clr-dir", help="clr --out to compare with (default: beside --out).",
                                                    show_default=False)] = None,
    gamma: Annotated[float, typer.Option("--gamma", help="Amplitude decay per iteration.")] = 0.99994,
    step_epochs: Annotated[float, typer.Option("--step-epochs", help="Half cycle in epochs at b_min.")] = 4.0,
    max_epochs: options.optional_float("--max-epochs", "Cap (default 100; 2 with --smoke).") = None,
    patience: Annotated[int, typer.Option("--patience", help="Stop after this many epochs without a lower validation loss.")] = 5,
    model: options.StudyModel = None, max_batch: Annotated[int, typer.Option("--max-batch", help="Accumulate above this.")] = 8192,
    val: options.Val = 5000, data_dir: options.DataDir = None, out: options.Out = None, smoke: options.Smoke = False,
    resume: options.Resume = False, seed: options.Seed = 0, device: options.Device = None,
):
    """Cyclical batch size between b_min and b_max at lr_min; best accuracy beside the CLR run."""
    with options.cli_errors():
        run(study_setup.Options(out=out, data_dir=data_dir, smoke=smoke, resume=resume, seed=seed, device=device,
                                model=model, val=val, extra={"max_batch": max_batch}), b_min, b_max, lr, gamma,
            step_epochs, max_epochs, patience, batch_range_dir, clr_dir)


def register(app):
    app.command("cbs")(command)


def run(o: study_setup.Options, b_min=None, b_max=None, lr=None, gamma=0.99994, step_epochs=4.0, cap=None, patience=5,
            batch_range_dir: Path | None = None, clr_dir: Path | None = None):
    from cnncost_train.engine import study_run as study
    out0, device, ds, t, con = study_setup.setup(o, "cbs", "fashion-mnist")
    if None in (b_min, b_max, lr):
        got = study_setup.prior_picks(Path(batch_range_dir or out0.parent / "batch-range") / "results.json", ("b_min", "b_max", "lr_min"))
        if got is None:
            raise CostError("cbs needs --b-min, --b-max and --lr, or a batch-range results.json (--batch-range-dir)")
        b_min, b_max, lr = (b_min or got[0]), (b_max or got[1]), (lr or got[2])
    if not 1 <= b_min <= b_max:
        raise CostError(f"need 1 <= b_min <= b_max, got {b_min}, {b_max}")
    spe = study_setup.steps_per_epoch(len(t.train_y), b_min)
    s = max(1, round(step_epochs * spe))
    cap = cap or (2 if o.smoke else 100)
    f = lambda i: schedules.cbs(i, b_min, b_max, s, gamma)
    meta = study_setup.meta(o, ds, t, b_min=b_min, b_max=b_max, lr=lr, gamma=gamma, step=s,
                            max_batch=o.extra.get("max_batch", 8192))
    sweep, out = cyclic_run(o, "cbs", lr, f, meta, spe, t, device, con, cap, patience)
    rows = [study_setup.compare_row("cbs", sweep.runs["cbs"])]
    import json
    cpath = Path(clr_dir or out.parent / "clr") / "results.json"
    if cpath.is_file():
        rows.insert(0, study_setup.compare_row("clr", json.loads(cpath.read_text())["runs"]["clr"]))
    sweep.extra["compare"] = rows
    sweep.save()
    outputs.write_csv(out / "compare.csv", rows)
    p = study.plt()
    fig, ax = p.subplots(figsize=(4, 3.5))
    ax.bar([r["run"] for r in rows], [r["best_val_acc"] or 0 for r in rows], label="best validation")
    ax.set(ylabel="best validation accuracy %", title="CLR vs CBS" if len(rows) > 1 else "CBS (no CLR run found)")
    fig.tight_layout()
    fig.savefig(out / "compare.png", dpi=100)
    p.close(fig)
    cb = rows[-1]
    con.print(f"cbs: b_min {b_min}, b_max {b_max} at lr {lr:.3g}; best validation {cb['best_val_acc']:.2f}%, "
              f"test {cb['test_acc_at_best_val']:.2f}% at that epoch"
              + (f" (clr: {rows[0]['best_val_acc']:.2f}%, test {rows[0]['test_acc_at_best_val']:.2f}%)" if len(rows) > 1
                 else "") + f"; results in {out}: results.json, compare.csv, compare.png, cbs.png, history.csv",
              highlight=False, soft_wrap=True)
    return sweep
