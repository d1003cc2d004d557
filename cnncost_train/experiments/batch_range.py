"""Batch-size range test (`cnncost-train batch-range`): the same number of iterations at each batch size
and a fixed lr (given, or lr-range's lr_min); picks b_min and b_max by the rule in `engine/schedules.py`."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from cnncost.errors import CostError
from cnncost_train.engine import options, outputs, schedules, study_setup


def command(
    lr: options.optional_float("--lr", "Fixed rate (default: lr-range's lr_min).") = None,
    batches: Annotated[Optional[list[int]], typer.Option("--batch", help="Repeat (default 64 .. 8192, powers of two).",
                                                         show_default=False)] = None,
    max_batch: Annotated[int, typer.Option("--max-batch", help="Larger batches are accumulated from chunks of this.")] = 8192,
    lr_range_dir: Annotated[Optional[Path], typer.Option("--lr-range-dir", help="lr-range --out (default: beside --out).",
                                                         show_default=False)] = None,
    model: options.StudyModel = None, epochs: options.StudyEpochs = None,
    val: options.Val = 5000, data_dir: options.DataDir = None, out: options.Out = None, smoke: options.Smoke = False,
    resume: options.Resume = False, seed: options.Seed = 0, device: options.Device = None,
):
    """Batch-size range test at fixed lr: same iterations per batch size (epochs at batch 64); picks b_min/b_max."""
    with options.cli_errors():
        run(study_setup.Options(out=out, data_dir=data_dir, smoke=smoke, resume=resume, seed=seed, device=device,
                                model=model, epochs=epochs, val=val), lr, batches, max_batch, lr_range_dir)


def register(app):
    app.command("batch-range")(command)


def run(o: study_setup.Options, lr=None, batches=None, max_batch=8192, lr_range_dir: Path | None = None):
    from cnncost_train.engine import study_run as study
    out, device, ds, t, con = study_setup.setup(o, "batch-range", "fashion-mnist")
    if lr is None:
        got = study_setup.prior_picks(Path(lr_range_dir or out.parent / "lr-range") / "results.json", ("lr_min",))
        if got is None:
            raise CostError("batch-range needs --lr, or an lr-range results.json (--lr-range-dir) to take lr_min from")
        lr = got[0]
    model = o.model or ("lenet5" if o.smoke else "minigooglenet")
    batches = sorted(set(batches or ([64, 128, 256] if o.smoke else [64 * 2 ** k for k in range(8)])))
    epochs = o.epochs or (1 if o.smoke else 5)
    iters = max(1, round(epochs * study_setup.steps_per_epoch(len(t.train_y), 64)))
    sweep = study.Sweep(out, o.resume, study_setup.meta(o, ds, t, model=model, lr=lr, batches=batches, iters=iters,
                                                        max_batch=max_batch))
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
             "test_acc": sweep.runs[f"b{b}"]["final_test_acc"], "diverged": sweep.runs[f"b{b}"]["diverged"]}
            for b in batches]
    outputs.write_csv(out / "batch_range.csv", rows)
    losses = [math.inf if r["diverged"] else r["final_train_loss"] for r in rows]   # a diverged run is never picked
    b_min, b_max = study_setup.pick_or_diverged(schedules.pick_batch, batches, losses, out)
    sweep.extra["picks"] = {"b_min": b_min, "b_max": b_max, "lr_min": lr,
                            "rule": "b_min: first batch with L <= L0 - 0.1 drop; b_max: first batch with "
                                    "L <= Lmin + 0.1 drop"}
    sweep.save()
    p = study.plt()
    fig, ax = p.subplots(figsize=(6, 4))
    ax.plot(batches, [r["final_train_loss"] if r["final_train_loss"] is not None and math.isfinite(r["final_train_loss"])
                      else math.nan for r in rows], "o-")
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
    con.print(f"batch-range: b_min {b_min}, b_max {b_max} at lr {lr:.3g}; results in {out}: results.json, "
              f"batch_range.csv, batch_range.png", highlight=False, soft_wrap=True)
    return sweep
