"""`cnncost-train batch-augment`: Hoffer et al. 2019 (arXiv:1901.09335), "Augment your batch".

Each step draws B images and puts every one M times in the batch, each copy with its own crop,
flip and cutout, so the batch holds M*B images; the number of steps per epoch, the learning rate
and its schedule stay those of the M = 1 recipe (their Figure 3a, ResNet-44 + cutout, M up to 32).
The copies come from `engine/batch_augment_trainer.py` (the training augmentation), one `EpochDraw` per
copy: copy 0 uses the trainer's own epoch seed, so M = 1 gives exactly the baseline's batches.

Cost: training FLOPs per epoch = S x steps x B x M (S one image's forward + backward FLOPs from the
calculator, convention cnncost, or 3 x forward without that count; as `predict.training_flops`);
evaluation adds F x test images per epoch.

Resumable in pieces: one checkpoint per M (`checkpoints/m<M>.pt`, saved at each epoch end) and
`results.json`, which accumulates every M's per-epoch history across invocations; a finished M
is never re-run.  `--time-budget S` stops at an epoch end when the next epoch (estimated by the
last one's wall time) would pass S seconds of wall time since the command started; every call
trains at least one epoch, so a sweep always advances.  The
training time per M is the trainer's clock (steps only, CUDA events), summed over invocations.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from typing import Annotated, Optional

import typer

from cnncost.errors import CostError
from cnncost_train.engine import options, outputs, recipes
from cnncost_train.engine.loop import Hook, Interrupted

TARGET = 94.0
FULL_M, SMOKE_M = (1, 2, 4, 8, 16, 32), (1, 2)    # --smoke: toy M list and model, so every path runs in seconds
MODEL, SMOKE_MODEL = "resnet44", "resnet20"
SMOKE_IMAGES = (128, 100)                          # (train, test): 2 steps of B = 64 per epoch


class _Cumulative(Hook):
    """Adds `m` and `train_s_total` to each epoch row: the training clock summed over invocations (the
    trainer's `train_s`, which continues across resumes)."""

    def __init__(self, m: int):
        self.m = m

    def run_start(self, loop):
        self.loop = loop

    def epoch_end(self, loop, row):
        row["m"] = self.m
        row["train_s_total"] = row.get("train_s", 0.0)


class _Budget(Hook):
    """Stops at an epoch end when the next epoch would end after `deadline` (perf_counter seconds)."""

    def __init__(self, deadline: float | None):
        self.deadline, self.fired = deadline, False

    def epoch_start(self, loop, epoch):
        self.t0 = time.perf_counter()

    def epoch_end(self, loop, row):
        now = time.perf_counter()
        if self.deadline is not None and loop.state.step < loop.total_steps and now + (now - self.t0) > self.deadline:
            loop.flag["stop"] = "time budget"
            self.fired = True


class _Csv(Hook):
    def __init__(self, path):
        self.path = path

    def epoch_end(self, loop, row):
        outputs.write_csv(self.path, loop.state.history)


@dataclass
class Options:
    model: str | None = None           # default: resnet44; resnet20 with --smoke
    recipe: str = "resnet44-cutout"
    m: list | None = None              # default: FULL_M; SMOKE_M with --smoke
    epochs: float | None = None
    time_budget: float | None = None
    target: float = TARGET
    data_dir: Path | None = None
    out: Path | None = None
    smoke: bool = False
    resume: bool = False
    seed: int = 0
    device: str | None = None


def time_to_target(history: list, target: float):
    """(epoch, cumulative training seconds) of the first epoch whose test accuracy >= target, else (None, None)."""
    for row in history:
        if row.get("test_acc") is not None and row["test_acc"] >= target:
            return row["epoch"], row.get("train_s_total")
    return None, None


def summarize_run(m: int, history: list, status: str, flops_epoch: int, eval_flops_epoch: int, target: float,
                  batch: int) -> dict:
    accs = [r["test_acc"] for r in history if r.get("test_acc") is not None]
    e, t = time_to_target(history, target)
    return {"m": m, "batch_images": batch * m, "status": status, "epochs_done": len(history),
            "best_acc": max(accs) if accs else None, "final_acc": accs[-1] if accs else None,
            "epochs_to_target": e, "train_s_to_target": t,
            "train_s": history[-1]["train_s_total"] if history else 0.0,
            "train_flops_per_epoch": flops_epoch, "eval_flops_per_epoch": eval_flops_epoch,
            "train_flops_done": flops_epoch * len(history)}


def plot(results: dict, path: Path, target: float):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key in sorted(results["runs"], key=int):
        hist = results["runs"][key]["history"]
        pts = [(r["epoch"], 100 - r["test_acc"]) for r in hist if r.get("test_acc") is not None]
        if pts:
            ax.plot(*zip(*pts), "o-", ms=4, label=f"M={key}", lw=1.2)   # markers: one epoch still shows
    ax.axhline(100 - target, color="grey", ls=":", lw=1, label=f"{100 - target:g}% error")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test error (%), no TTA")
    ax.set_yscale("log")
    ax.set_title(f"batch augmentation: {results['config']['model']}, recipe {results['config']['recipe']['name']}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return fig


def _config(model: str, recipe, seed: int, ds) -> dict:
    return {"model": model, "recipe": asdict(recipe), "seed": seed, "data": ds.source,
            "train_images": len(ds.train_y), "test_images": len(ds.test_y)}


def _load_results(path: Path, config: dict, resume: bool) -> dict:
    if path.is_file():
        if not resume:
            raise CostError(f"{path} already holds batch-augment results; add --resume to continue them, "
                            f"or choose another --out")
        res = json.loads(path.read_text())
        if res.get("config") != json.loads(json.dumps(config)):
            raise CostError(f"{path} was written for another model, recipe, epoch count, seed or data set; "
                            f"choose another --out")
        return res
    return {"experiment": "batch-augment", "config": config, "runs": {}}


def write_outputs(results: dict, out: Path, target: float) -> list[dict]:
    outputs.write_json(out / "results.json", results)
    table = [{k: v for k, v in r.items() if k != "history"} for _, r in sorted(results["runs"].items(),
                                                                                key=lambda kv: int(kv[0]))]
    outputs.write_csv(out / "table.csv", table)
    outputs.write_json(out / "table.json", table)
    plot(results, out / "error_vs_epoch.png", target)
    return table


def run(opts: Options, console=None) -> dict:
    from rich.console import Console

    from cnncost_train.engine.batch_augment_trainer import BatchAugmentTrainer
    from cnncost_train.experiments import speedrun
    console = console or Console()
    started = time.perf_counter()
    model_name = opts.model or (SMOKE_MODEL if opts.smoke else MODEL)
    ms = list(opts.m or (SMOKE_M if opts.smoke else FULL_M))
    deadline = None if opts.time_budget is None else started + opts.time_budget
    if not ms or any(m < 1 for m in ms):
        raise CostError(f"--m needs one or more positive integers, got {ms}")
    if opts.epochs is not None and opts.epochs <= 0:
        raise CostError(f"--epochs must be positive, got {opts.epochs}")
    recipe, device, ds, model, shape, fwd, d = speedrun.prepare(
        recipes.get(opts.recipe).with_(model=model_name), opts.device, opts.data_dir, opts.smoke, opts.epochs,
        smoke_images=SMOKE_IMAGES)
    out = Path(opts.out) if opts.out else Path("runs") / f"batch-augment-{model_name}"
    results = _load_results(out / "results.json", _config(model_name, recipe, opts.seed, ds), opts.resume)
    console.print(f"batch-augment: {model_name} ({fwd.flops / 1e6:.1f} MFLOP forward per image), recipe "
                  f"{recipe.name}, {recipe.epochs:g} epochs, M in {ms}; {len(ds.train_y)} train / "
                  f"{len(ds.test_y)} test images from {ds.source}; {options.device_name(device)}", highlight=False)
    stopped, trained = None, False
    for m in ms:
        key = str(m)
        prev = results["runs"].get(key)
        if prev and prev["status"] == "done":
            console.print(f"M={m}: done in an earlier invocation, not re-run", highlight=False)
            continue
        if deadline is not None and trained and time.perf_counter() >= deadline:   # each call trains >= 1 epoch
            stopped = f"time budget reached before M={m}"
            break
        trainer = BatchAugmentTrainer(recipe, model.spec, d, device, m)
        spe = trainer.steps_per_epoch
        flops_epoch = fwd.train_flops * spe * recipe.batch_size * m
        budget = _Budget(deadline)
        ck = out / "checkpoints" / f"m{m}.pt"
        hooks = [_Cumulative(m), budget, _Csv(out / f"m{m}.csv")]
        trained = True
        try:
            res = trainer.train(opts.seed, hooks=hooks, checkpoint_path=ck, resume=ck.is_file(), epoch_eval=True)
            history, status = res["history"], "done"
        except Interrupted as err:
            history, status = hooks[0].loop.state.history, "partial"
            if not budget.fired:
                results["runs"][key] = summarize_run(m, history, status, flops_epoch, fwd.flops * len(ds.test_y),
                                                     opts.target, recipe.batch_size) | {"history": history}
                write_outputs(results, out, opts.target)
                raise err
            stopped = f"time budget reached during M={m} after epoch {len(history)}"
        row = summarize_run(m, history, status, flops_epoch, fwd.flops * len(ds.test_y), opts.target,
                            recipe.batch_size)
        results["runs"][key] = row | {"history": history}
        write_outputs(results, out, opts.target)
        console.print(f"M={m}: {status}, {row['epochs_done']} epochs, best {row['best_acc']:.2f}%, "
                      f"train clock {row['train_s']:.1f} s", highlight=False)
        if stopped:
            break
    results["command"] = " ".join(["cnncost-train", *sys.argv[1:]])
    table = write_outputs(results, out, opts.target)
    print_table(table, console, opts.target)
    if stopped:
        console.print(f"{stopped}; continue with the same command and --resume", highlight=False)
    console.print(f"results: {out / 'results.json'}, {out / 'table.csv'}, {out / 'error_vs_epoch.png'}",
                  highlight=False)
    return results


def print_table(table: list[dict], console, target: float):
    from rich.table import Table
    t = Table(title=f"batch augmentation: epochs and training time to {target:g}% (else best accuracy)")
    for c in ("M", "batch", "status", "epochs", f"epochs to {target:g}%", f"s to {target:g}%", "best %",
              "train s", "TFLOP/epoch"):
        t.add_column(c, justify="right")
    fmt = lambda v, f: "-" if v is None else format(v, f)
    for r in table:
        t.add_row(str(r["m"]), str(r["batch_images"]), r["status"], str(r["epochs_done"]),
                  fmt(r["epochs_to_target"], "d"), fmt(r["train_s_to_target"], ".1f"), fmt(r["best_acc"], ".2f"),
                  fmt(r["train_s"], ".1f"), fmt(r["train_flops_per_epoch"] / 1e12, ".2f"))
    console.print(t)


def command(
    ctx: typer.Context,
    model: Annotated[Optional[str], typer.Option("--model", help="Zoo model (default resnet44; resnet20 with --smoke).",
                                                 show_default=False)] = None,
    m: Annotated[Optional[list[int]], typer.Option("--m", help="Copies per sample, one run each: --m 1 --m 2 or --m 1 2 4 "
                                                   "(default 1 2 4 8 16 32; 1 2 with --smoke).", show_default=False)] = None,
    recipe: Annotated[str, typer.Option("--recipe", help="resnet44-cutout (Hoffer et al.) or resnet44.")] = "resnet44-cutout",
    epochs: Annotated[Optional[float], typer.Option("--epochs", help="Epochs per run (default: the recipe's 100).",
                                                    show_default=False)] = None,
    time_budget: Annotated[Optional[float], typer.Option("--time-budget", help="Stop cleanly at an epoch end "
                                                         "before this many seconds; continue with --resume.",
                                                         show_default=False)] = None,
    target: Annotated[float, typer.Option("--target", help="Test accuracy (%) whose epoch and time are reported.")] = 94.0,
    data_dir: options.DataDir = None, out: options.Out = None, smoke: options.Smoke = False,
    resume: options.Resume = False, seed: options.Seed = 0, device: options.Device = None,
):
    """Hoffer et al. 2019 batch augmentation: error vs epoch per M, time to target, FLOPs per epoch."""
    with options.cli_errors():
        if not all(a.isdigit() for a in ctx.args):   # `--m 1 2 4`: the values after the first arrive here
            raise CostError(f"unexpected arguments {' '.join(ctx.args)}; --m takes positive integers")
        ms = list(m or []) + [int(a) for a in ctx.args]
        run(Options(model=model, recipe=recipe, m=ms or None, epochs=epochs, time_budget=time_budget,
                    target=target, data_dir=data_dir, out=out, smoke=smoke, resume=resume, seed=seed,
                    device=device))


def register(app):
    app.command("batch-augment", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(command)
