"""Adaptive optimisers on CIFAR-10 (`cnncost-train optimizers`): an MLP 3072-1000-1000-10 trained with
adagrad, rmsprop, rmsprop-nesterov, adadelta and adam, without and with dropout; loss curves per method.
Optimiser definitions and defaults: docs/studies/optimizers.md."""
from __future__ import annotations

import math
from typing import Annotated, Optional

import typer

from cnncost_train.engine import options, outputs, study_setup

OPTIMIZERS = ("adagrad", "rmsprop", "rmsprop-nesterov", "adadelta", "adam")


def command(
    methods: Annotated[Optional[list[str]], typer.Option("--method", help="Repeat to choose (default: adagrad rmsprop "
                                                         "rmsprop-nesterov adadelta adam).", show_default=False)] = None,
    epochs: options.StudyEpochs = None,
    weight_decay: Annotated[float, typer.Option("--weight-decay", help="L2 regularisation strength.")] = 5e-4,
    data_dir: options.DataDir = None, out: options.Out = None, smoke: options.Smoke = False,
    resume: options.Resume = False, seed: options.Seed = 0, device: options.Device = None,
):
    """MLP 3072-1000-1000-10 on CIFAR-10 with five adaptive optimisers, without and with dropout."""
    with options.cli_errors():
        run(study_setup.Options(out=out, data_dir=data_dir, smoke=smoke, resume=resume, seed=seed, device=device,
                                epochs=epochs), methods=tuple(methods or OPTIMIZERS), weight_decay=weight_decay)


def register(app):
    app.command("optimizers")(command)


def run(o: study_setup.Options, methods=OPTIMIZERS, weight_decay: float = 5e-4, lrs: dict | None = None):
    """MLP 3072-1000-1000-10 on CIFAR-10, batch 128, each method without and with dropout (0.2 in, 0.5 hidden)."""
    from cnncost.errors import CostError
    from cnncost_train.engine import study_run as study
    unknown = [m for m in methods if m not in study.DEFAULT_LR]
    if unknown:
        raise CostError(f"unknown --method {unknown[0]!r}; choose from {', '.join(study.DEFAULT_LR)}")
    out, device, ds, t, con = study_setup.setup(o, "optimizers", "cifar10")
    epochs = o.epochs or (1 if o.smoke else 200)
    b = 128 if not o.smoke else 64
    spe = study_setup.steps_per_epoch(len(t.train_y), b)
    sweep = study.Sweep(out, o.resume, study_setup.meta(o, ds, t, methods=list(methods), epochs=epochs, batch=b,
                                                        wd=weight_decay, lrs=lrs or {}))
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
        rows += study_setup.history_rows(r, run=key, method=r["optimizer"], dropout=r["dropout"])
        summary.append({"method": r["optimizer"], "dropout": r["dropout"], "test_acc": r["final_test_acc"],
                        "train_s": r["train_s"], "wall_s": r["wall_s"], "final_train_loss": r["final_train_loss"],
                        "diverged": r["diverged"]})
    outputs.write_csv(out / "epochs.csv", rows)
    outputs.write_csv(out / "summary.csv", summary)
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
    best = max(summary, key=lambda r: r["test_acc"] if r["test_acc"] == r["test_acc"] else -1)
    con.print(f"optimizers: best final test accuracy {best['test_acc']:.2f}% ({best['method']}, "
              f"{'with' if best['dropout'] else 'no'} dropout; {sum(bool(r['diverged']) for r in summary)} of "
              f"{len(summary)} runs diverged); results in {out}: results.json, summary.csv, epochs.csv, "
              f"loss_no_dropout.png, loss_dropout.png", highlight=False, soft_wrap=True)
    return sweep
