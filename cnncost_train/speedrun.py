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

import torch

from cnncost import zoo
from cnncost.errors import CostError
from cnncost_train import common, data, recipes, stats
from cnncost_train.cost import forward_cost, matmul_probe, training_flops
from cnncost_train.loop import Hook
from cnncost_train.trainer import DeviceData, Trainer

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


def load_data(opts: Options) -> data.Dataset:
    if not opts.smoke:
        return data.load_cifar10(opts.data_dir)
    explicit = opts.data_dir is not None or data.ENV in __import__("os").environ
    if explicit or data.find_cifar10(None) is not None:
        ds = data.load_cifar10(opts.data_dir, counts=None)
    else:
        ds = data.synthetic(common.SMOKE_TRAIN, common.SMOKE_TEST)
    return ds.subset(min(common.SMOKE_TRAIN, len(ds.train_y)), min(common.SMOKE_TEST, len(ds.test_y)))


def prepare(recipe: recipes.Recipe, device: str | None, data_dir, smoke: bool, epochs: float | None):
    """What every CIFAR-10 experiment sets up before training: the device, the data (a toy subset with
    --smoke), the recipe sized to it, the zoo model, its forward cost and the data set on the device.
    Returns (recipe, device, dataset, model, input shape (C, H, W), forward cost, device data)."""
    device = common.resolve_device(device, smoke)
    ds = load_data(Options(data_dir=data_dir, smoke=smoke))
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
        common.write_csv(self.path, loop.state.history)


def summarize(results: list[dict], fwd, recipe, probe: dict) -> dict:
    accs = [r["acc"] for r in results]
    test = stats.t_test_greater(accs, TARGET)
    timed = [r for r in results if not r["resumed"]]
    out = {"accuracy": {"mean": test["mean"], "std": test["std"], "min": min(accs), "max": max(accs),
                        "n": len(accs), "at_least_94": sum(a >= TARGET for a in accs) / len(accs),
                        "target": TARGET, "t": test["t"], "df": test["df"], "p_mean_gt_target": test["p"]}}
    seen, evaluated, views = results[0]["images_seen"], results[0]["test_images"], results[0]["tta_views"]
    flops = training_flops(fwd.flops, seen, evaluated, views)
    cost = {"convention": f"{fwd.convention} (2 FLOPs per MAC + bias/pool/BN/activation work); "
                          f"training = 3 x forward x images seen + forward x test images x TTA views",
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
        cost["mfu"] = flops / t_mean / probe["flops_per_s"]
    out["cost"] = cost
    return out


def run(opts: Options, console=None) -> dict:
    from rich.console import Console
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
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    probe = matmul_probe(device)
    trainer = Trainer(recipe, model.spec, d, device)
    gpu = common.device_name(device)
    console.print(f"speedrun: recipe {recipe.name} ({recipe.summary}); model {recipe.model} "
                  f"({fwd.flops / 1e9:.3f} GFLOP forward per image); {len(ds.train_y)} train / {len(ds.test_y)} test "
                  f"images from {ds.source}; {gpu}; matmul probe {probe['flops_per_s'] / 1e12:.1f} TFLOP/s "
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
    with common.progress(console) as bar:
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
            common.write_csv(out / f"run-{i:03d}.csv", history)
            common.write_json(done, res)
            results.append(res)
            bar.update(runs_task, advance=1, info=f"last {res['acc']:.2f}% in {res['time_s']:.2f}s")
            bar.console.print(f"run {i + 1}/{opts.runs} seed {seed}: {res['acc']:.2f}% in {res['time_s']:.3f} s "
                              f"(init {res['init_s']:.3f}, train {res['train_s']:.3f}, eval {res['eval_s']:.3f})"
                              f"{' [resumed]' if res['resumed'] else ''}", highlight=False)

    summary = {"experiment": "speedrun", "command": " ".join(["cnncost-train", *sys.argv[1:]]),
               "recipe": asdict(recipe), "model": recipe.model, "device": gpu, "torch": torch.__version__,
               "data": ds.source, "train_images": len(ds.train_y), "test_images": len(ds.test_y),
               "smoke": opts.smoke, "seed": opts.seed, "warmup": warm,
               **summarize(results, fwd, recipe, probe), "runs": results}
    common.write_json(out / "summary.json", summary)
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
             ("training FLOPs / run", f"{c['training_flops_per_run'] / 1e15:.4f} P")]
    if "mfu" in c:
        rows += [("achieved", f"{c['achieved_flops_per_s'] / 1e12:.1f} TFLOP/s"),
                 ("matmul probe", f"{c['probe_flops_per_s'] / 1e12:.1f} TFLOP/s ({c['probe']['dtype']})"),
                 ("MFU", f"{100 * c['mfu']:.1f}%")]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    console.print(f"results: {out / 'summary.json'}", highlight=False)
