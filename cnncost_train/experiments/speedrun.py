"""`cnncost-train speedrun`: CIFAR-10 to 94% as fast as we can, with the calculator's cost beside the time.

Protocol (as the record line times it; Jordan 2024, arXiv:2404.00498, section 2): the data set is
on the GPU before the clock; a warm-up run (which also compiles) is timed by wall clock and
reported apart; then N runs with seeds seed..seed+N-1, each timed by CUDA events around
initialisation, training and the final TTA evaluation.  Reported: mean test accuracy, std, the
fraction of runs >= 94%, a one-sided t-test of mean > 94.0, time mean and std, the calculator's
training FLOPs per run, achieved TFLOP/s and MFU against a measured bf16 matrix-product rate.
Files under --out: run-NNN.json and run-NNN.csv per run, summary.json.
"""
from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from typing import Annotated, Optional

import typer

from cnncost.errors import CostError
from cnncost_train.engine import options, outputs, recipes, resume_guard, stats
from cnncost_train.engine.loop import Hook

TARGET = 94.0


@dataclass
class Options:
    recipe: str = "fast"
    runs: int = 1
    epochs: float | None = None
    data_dir: Path | None = None
    out: Path | None = None
    smoke: bool = False
    resume: bool = False
    checkpoint_dir: Path | None = None
    seed: int = 0
    device: str | None = None
    epoch_eval: bool = True
    warmup: bool | None = None        # default: on for CUDA


def smoke_recipe(r: recipes.Recipe, epochs: float | None, n_train: int) -> recipes.Recipe:
    return r.with_(epochs=epochs or 1, batch_size=64, compile=False, eval_batch=256,
                   whiten_images=min(r.whiten_images, n_train))


def load_data(opts: Options, smoke_images: tuple = (options.SMOKE_TRAIN, options.SMOKE_TEST)):
    """CIFAR-10; with --smoke a seeded subset of (train, test) `smoke_images` (generated data when none is
    installed and no --data-dir is named)."""
    from cnncost_train.engine import data
    if not opts.smoke:
        return data.load_cifar10(opts.data_dir)
    n_train, n_test = smoke_images
    if data.explicit(opts.data_dir) or data.find_cifar10(None) is not None:
        ds = data.load_cifar10(opts.data_dir, counts=None)
    else:
        ds = data.synthetic(n_train, n_test)
    return ds.subset(min(n_train, len(ds.train_y)), min(n_test, len(ds.test_y)))


def prepare(recipe: recipes.Recipe, device: str | None, data_dir, smoke: bool, epochs: float | None,
            smoke_images: tuple = (options.SMOKE_TRAIN, options.SMOKE_TEST)):
    """What every CIFAR-10 experiment sets up before training: the device, the data (a toy subset of
    `smoke_images` with --smoke), the recipe sized to it, the zoo model, its forward cost and the data set
    on the device.  Returns (recipe, device, dataset, model, input shape (C, H, W), forward cost, device data)."""
    import torch

    from cnncost import zoo
    from cnncost_train.engine.trainer import DeviceData
    from cnncost_train.predict.training_flops import forward_cost
    device = options.resolve_device(device, smoke)
    ds = load_data(Options(data_dir=data_dir, smoke=smoke), smoke_images)
    if smoke:
        recipe = smoke_recipe(recipe, epochs, len(ds.train_y))
    elif epochs is not None:
        recipe = recipe.with_(epochs=epochs)
    model = zoo.get(recipe.model, **recipe.model_options)
    shape = (ds.train_x.shape[3], ds.train_x.shape[1], ds.train_x.shape[2])
    fwd = forward_cost(model.spec, shape)
    d = DeviceData.from_dataset(ds, device)
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    return recipe, device, ds, model, shape, fwd, d


class _ProgressHook(Hook):
    def __init__(self, progress, task):
        self.progress, self.task = progress, task

    def run_start(self, loop):
        self.progress.reset(self.task, total=loop.epochs, completed=loop.state.step // loop.steps_per_epoch,
                            info="")

    def epoch_end(self, loop, row):
        test = f" test {row['test_acc']:.2f}%" if "test_acc" in row else ""
        self.progress.update(self.task, completed=row["epoch"],
                             info=f"loss {row['train_loss']:.3f} train {row['train_acc']:.1f}%{test} "
                                  f"clock {row['train_s']:.2f}s")


class _CsvHook(Hook):
    def __init__(self, path):
        self.path = path

    def epoch_end(self, loop, row):
        outputs.write_csv(self.path, loop.state.history)


def si(value: float, unit: str) -> str:
    """3 significant digits with an SI prefix (4.12 GFLOP/s, not 0.0 TFLOP/s)."""
    for scale, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def run_line(i: int, runs: int, seed: int, res: dict) -> str:
    """One finished run, as printed (plain text: print it with markup=False, or rich eats '[resumed]')."""
    return (f"run {i + 1}/{runs} seed {seed}: {res['acc']:.2f}% in {res['time_s']:.3f} s (init {res['init_s']:.3f}, "
            f"train {res['train_s']:.3f}, eval {res['eval_s']:.3f}){' [resumed]' if res['resumed'] else ''}")


def summarize(results: list[dict], fwd, recipe, probe: dict, device: str = "cuda") -> dict:
    """Accuracy statistics, time and cost.  MFU = achieved FLOP/s / the probe's matmul rate, on CUDA only:
    on a CPU the probe is an fp32 matmul of the moment, not a peak rate, so the ratio is n/a."""
    from cnncost_train.predict.training_flops import training_flops
    accs = [r["acc"] for r in results]
    test = stats.t_test_greater(accs, TARGET)
    timed = [r for r in results if not r["resumed"]]
    out = {"accuracy": {"mean": test["mean"], "std": test["std"], "min": min(accs), "max": max(accs),
                        "n": len(accs), "at_least_94": sum(a >= TARGET for a in accs) / len(accs),
                        "target": TARGET, "t": test["t"], "df": test["df"], "p_mean_gt_target": test["p"]}}
    seen, evaluated, views = results[0]["images_seen"], results[0]["test_images"], results[0]["tta_views"]
    flops = training_flops(fwd.flops, seen, evaluated, views, getattr(fwd, "step_flops", None))
    cost = {"convention": f"{fwd.convention} (2 FLOPs per MAC + bias/pool/BN/activation work); "
                          f"training = step x images seen + forward x test images x TTA views; step = "
                          f"{getattr(fwd, 'step_source', '3 x forward')} per image",
            "forward_flops_per_image": fwd.flops, "forward_macs_per_image": fwd.macs, "params": fwd.params,
            "images_seen": seen, "tta_views": views, "training_flops_per_run": flops,
            "probe_flops_per_s": probe["flops_per_s"], "probe": probe}
    if timed:
        t_mean, t_std = stats.mean_std([r["time_s"] for r in timed])
        out["time_s"] = {"mean": t_mean, "std": t_std, "min": min(r["time_s"] for r in timed),
                         "max": max(r["time_s"] for r in timed), "n": len(timed),
                         **{f"{k}_mean": stats.mean_std([r[f"{k}_s"] for r in timed])[0]
                            for k in ("init", "train", "eval")}}
        cost["achieved_flops_per_s"] = flops / t_mean
        cost["mfu"] = flops / t_mean / probe["flops_per_s"] if device.startswith("cuda") else None
    out["cost"] = cost
    return out


def run(opts: Options, console=None) -> dict:
    import torch
    from rich.console import Console

    from cnncost_train.engine.trainer import Trainer
    from cnncost_train.predict.training_flops import matmul_probe
    console = console or Console()
    if opts.runs < 1:
        raise CostError(f"--runs must be at least 1, got {opts.runs}")
    if opts.epochs is not None and opts.epochs <= 0:
        raise CostError(f"--epochs must be positive, got {opts.epochs}")
    if opts.resume and opts.checkpoint_dir is None:
        raise CostError("--resume needs --checkpoint-dir (where the interrupted run saved its checkpoints)")
    recipe, device, ds, model, shape, fwd, d = prepare(recipes.get(opts.recipe), opts.device, opts.data_dir,
                                                       opts.smoke, opts.epochs)
    out = Path(opts.out) if opts.out else Path("runs") / f"speedrun-{recipe.name}"
    resume_guard.check(out / "config.json", {"recipe": asdict(recipe), "runs": opts.runs, "seed": opts.seed,
                                             "smoke": opts.smoke, "data": ds.source, "train_images": len(ds.train_y),
                                             "test_images": len(ds.test_y)}, opts.resume)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    probe = matmul_probe(device)
    trainer = Trainer(recipe, model.spec, d, device)
    gpu = options.device_name(device)
    console.print(f"speedrun: recipe {recipe.name} ({recipe.summary}); model {recipe.model} "
                  f"({fwd.flops / 1e9:.3f} GFLOP forward per image); {len(ds.train_y)} train / {len(ds.test_y)} test "
                  f"images from {ds.source}; {gpu}; matmul probe {si(probe['flops_per_s'], 'FLOP/s')} "
                  f"({probe['dtype']})", highlight=False)

    warm = None
    if opts.warmup if opts.warmup is not None else device.startswith("cuda"):
        t0 = time.perf_counter()
        w = trainer.train(opts.seed + 1_000_000, epoch_eval=opts.epoch_eval)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        warm = {"wall_s": time.perf_counter() - t0, "acc": w["acc"], "clock_s": w["time_s"],
                "compiled": bool(recipe.compile and device.startswith("cuda"))}
        console.print(f"warm-up{' + compile' if warm['compiled'] else ''}: {warm['wall_s']:.1f} s wall "
                      f"(not in the timings); accuracy {w['acc']:.2f}%", highlight=False)

    results = []
    with outputs.progress(console) as bar:
        runs_task = bar.add_task("runs", total=opts.runs, info="")
        epoch_task = bar.add_task("epochs", total=1, info="")
        for i in range(opts.runs):
            seed = opts.seed + i
            done = out / f"run-{i:03d}.json"
            if opts.resume and done.is_file():
                import json
                results.append(json.loads(done.read_text()))
                bar.advance(runs_task)
                continue
            ck = Path(opts.checkpoint_dir) / f"run-{i:03d}.pt" if opts.checkpoint_dir else None
            hooks = [_CsvHook(out / f"run-{i:03d}.csv"), _ProgressHook(bar, epoch_task)]
            res = trainer.train(seed, hooks=hooks, checkpoint_path=ck, resume=opts.resume,
                                epoch_eval=opts.epoch_eval)
            res["run"] = i
            history = res.pop("history")
            outputs.write_csv(out / f"run-{i:03d}.csv", history)
            outputs.write_json(done, res)
            results.append(res)
            bar.update(runs_task, advance=1, info=f"last {res['acc']:.2f}% in {res['time_s']:.2f}s")
            bar.console.print(run_line(i, opts.runs, seed, res), highlight=False, markup=False)

    summary = {"experiment": "speedrun", "command": " ".join(["cnncost-train", *sys.argv[1:]]),
               "recipe": asdict(recipe), "model": recipe.model, "device": gpu, "torch": torch.__version__,
               "data": ds.source, "train_images": len(ds.train_y), "test_images": len(ds.test_y),
               "smoke": opts.smoke, "seed": opts.seed, "warmup": warm,
               **summarize(results, fwd, recipe, probe, device), "runs": results}
    outputs.write_json(out / "summary.json", summary)
    print_summary(summary, console, out)
    return summary


def print_summary(s: dict, console, out: Path):
    from rich.table import Table
    a, c, t = s["accuracy"], s["cost"], s.get("time_s")
    table = Table(title=f"speedrun {s['recipe']['name']} on {s['device']}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    p = "n/a (1 run)" if a["p_mean_gt_target"] is None else f"{a['p_mean_gt_target']:.3g} (t = {a['t']:.2f}, df {a['df']})"
    rows = [("runs", f"{a['n']}"),
            ("test accuracy", f"{a['mean']:.3f}% ± {a['std']:.3f} (min {a['min']:.2f}, max {a['max']:.2f})"),
            (f"runs >= {TARGET:g}%", f"{100 * a['at_least_94']:.0f}%"),
            (f"p (mean > {TARGET:g}%)", p)]
    if t:
        rows += [("time per run", f"{t['mean']:.3f} s ± {t['std']:.3f} (init {t['init_mean']:.3f}, "
                                  f"train {t['train_mean']:.3f}, eval {t['eval_mean']:.3f})")]
    if s["warmup"]:
        rows += [("warm-up (+compile), not timed", f"{s['warmup']['wall_s']:.1f} s")]
    rows += [("forward FLOPs / image", f"{c['forward_flops_per_image'] / 1e9:.4f} G ({c['forward_macs_per_image'] / 1e9:.4f} G MACs)"),
             ("training FLOPs / run", si(c["training_flops_per_run"], "FLOP"))]
    if "mfu" in c:
        rows += [("achieved", si(c["achieved_flops_per_s"], "FLOP/s")),
                 ("matmul probe", f"{si(c['probe_flops_per_s'], 'FLOP/s')} ({c['probe']['dtype']})"),
                 ("MFU", "n/a on CPU" if c["mfu"] is None else f"{100 * c['mfu']:.1f}%")]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    console.print(f"results: {out / 'summary.json'}", highlight=False)


def command(
    recipe: Annotated[str, typer.Option("--recipe", help="fast (ours, default) or davidnet (Page 2018, 24 epochs).")] = "fast",
    runs: Annotated[int, typer.Option("--runs", help="Timed runs (seeds seed..seed+runs-1).")] = 1,
    epochs: Annotated[Optional[float], typer.Option("--epochs", help="Override the recipe's epochs (may be fractional).",
                                                    show_default=False)] = None,
    data_dir: options.DataDir = None,
    out: options.Out = None,
    smoke: options.Smoke = False,
    resume: options.ResumeCheckpoints = False,
    checkpoint_dir: options.CheckpointDir = None,
    seed: options.Seed = 0,
    device: options.Device = None,
    epoch_eval: Annotated[bool, typer.Option("--epoch-eval/--no-epoch-eval",
                                             help="Test accuracy after every epoch (outside the clock).")] = True,
):
    """CIFAR-10 to 94% test accuracy in the least time; accuracy statistics, time, FLOPs and MFU."""
    with options.cli_errors():
        run(Options(recipe=recipe, runs=runs, epochs=epochs, data_dir=data_dir, out=out, smoke=smoke,
                    resume=resume, checkpoint_dir=checkpoint_dir, seed=seed, device=device,
                    epoch_eval=epoch_eval))


def register(app):
    app.command("speedrun")(command)
