"""`cnncost-train batch-augment`: Hoffer et al. 2019 (arXiv:1901.09335), "Augment your batch".

Each step draws B images and puts every one M times in the batch, each copy with its own crop,
flip and cutout, so the batch holds M*B images; the number of steps per epoch, the learning rate
and its schedule stay those of the M = 1 recipe (their Figure 3a, ResNet-44 + cutout, M up to 32).
The copies come from `augment.augmented_batch` (the training augmentation), one `EpochDraw` per
copy: copy 0 uses the trainer's own epoch seed, so M = 1 gives exactly the baseline's batches.

Cost: training FLOPs per epoch = 3 x F x steps x B x M (F forward FLOPs per image from
`cnncost.analyze`, convention cnncost; 3 = forward + backward, as `cost.training_flops`);
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

import torch

from cnncost.errors import CostError
from cnncost_train import augment, common, recipes
from cnncost_train.loop import Hook, Interrupted
from cnncost_train.trainer import Trainer

TARGET = 94.0
COPY_SEED_STRIDE = 7_919_000_003   # copy k > 0 of an epoch: the trainer's epoch seed + k * stride


def copy_seed(seed: int, epoch: int, copy: int) -> int:
    """Copy 0 uses the trainer's epoch seed (`Trainer._batches`), so M = 1 is the baseline."""
    return seed * 1_000_003 + epoch + 1 + copy * COPY_SEED_STRIDE


def multi_batch(images, labels, idx, draws, mean, std, *, cutout_size: int = 0, channels_last: bool = True):
    """The images `idx` (B,) M = len(draws) times, copy k augmented by draws[k]: (M*B) images, copy-major
    (rows k*B .. k*B + B - 1 are copy k of idx)."""
    xs, ys = [], []
    for d in draws:
        one = augment.EpochDraw(idx, d.dy, d.dx, d.flip, d.cy, d.cx)
        x, y = augment.augmented_batch(images, labels, one, 0, len(idx), mean, std, cutout_size=cutout_size,
                                       channels_last=channels_last)
        xs.append(x)
        ys.append(y)
    return torch.cat(xs), torch.cat(ys)


class BatchAugmentTrainer(Trainer):
    """The recipe's trainer with an M-times batch source; everything else (loop, step, checkpoints) is the Trainer's."""

    def __init__(self, recipe, model_spec, data, device, m: int):
        if m < 1:
            raise CostError(f"--m values must be at least 1, got {m}")
        if recipe.flip == "alternate":
            raise CostError("batch augmentation needs independent flips ('random'), not 'alternate'")
        super().__init__(recipe, model_spec, data, device)
        self.m = m

    def _batches(self, seed: int):
        r, d, dev = self.recipe, self.data, self.device
        n, h, w = d.train_x.shape[:3]
        spe, b = self.steps_per_epoch, r.batch_size

        def batches(epoch, first):
            draws = [augment.draw_epoch(n, h, w, generator=torch.Generator(device=dev).manual_seed(
                         copy_seed(seed, epoch, k)), device=dev, pad=r.crop_pad, flip=r.flip, cutout_size=r.cutout)
                     for k in range(self.m)]
            order = draws[0].order
            for s in range(first, spe):
                yield multi_batch(d.train_x, d.train_y, order[s * b:(s + 1) * b], draws, d.mean, d.std,
                                  cutout_size=r.cutout, channels_last=self.channels_last)
        return batches


class _Cumulative(Hook):
    """Adds `train_s_total` (training clock summed over invocations) and `m` to each epoch row."""

    def __init__(self, m: int):
        self.m, self.base = m, 0.0

    def run_start(self, loop):
        hist = loop.state.history
        self.base = hist[-1].get("train_s_total", 0.0) if hist else 0.0
        self.loop = loop

    def epoch_end(self, loop, row):
        row["m"] = self.m
        row["train_s_total"] = self.base + row.get("train_s", 0.0)


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
        common.write_csv(self.path, loop.state.history)


@dataclass
class Options:
    model: str = "resnet44"
    recipe: str = "resnet44-cutout"
    m: list = field(default_factory=lambda: [1, 2, 4, 8, 16, 32])
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
            ax.plot(*zip(*pts), label=f"M={key}", lw=1.2)
    ax.axhline(100 - target, color="grey", ls=":", lw=1, label=f"{100 - target:g}% error")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation error (%)")
    ax.set_yscale("log")
    ax.set_title(f"batch augmentation: {results['config']['model']}, recipe {results['config']['recipe']['name']}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
    common.write_json(out / "results.json", results)
    table = [{k: v for k, v in r.items() if k != "history"} for _, r in sorted(results["runs"].items(),
                                                                                key=lambda kv: int(kv[0]))]
    common.write_csv(out / "table.csv", table)
    common.write_json(out / "table.json", table)
    plot(results, out / "error_vs_epoch.png", target)
    return table


def run(opts: Options, console=None) -> dict:
    from rich.console import Console

    from cnncost_train import speedrun
    console = console or Console()
    started = time.perf_counter()
    deadline = None if opts.time_budget is None else started + opts.time_budget
    if not opts.m or any(m < 1 for m in opts.m):
        raise CostError(f"--m needs one or more positive integers, got {opts.m}")
    if opts.epochs is not None and opts.epochs <= 0:
        raise CostError(f"--epochs must be positive, got {opts.epochs}")
    recipe, device, ds, model, shape, fwd, d = speedrun.prepare(
        recipes.get(opts.recipe).with_(model=opts.model), opts.device, opts.data_dir, opts.smoke, opts.epochs)
    out = Path(opts.out) if opts.out else Path("runs") / f"batch-augment-{opts.model}"
    results = _load_results(out / "results.json", _config(opts.model, recipe, opts.seed, ds), opts.resume)
    console.print(f"batch-augment: {opts.model} ({fwd.flops / 1e6:.1f} MFLOP forward per image), recipe "
                  f"{recipe.name}, {recipe.epochs:g} epochs, M in {opts.m}; {len(ds.train_y)} train / "
                  f"{len(ds.test_y)} test images from {ds.source}; {common.device_name(device)}", highlight=False)
    stopped, trained = None, False
    for m in opts.m:
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
        flops_epoch = 3 * fwd.flops * spe * recipe.batch_size * m
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
