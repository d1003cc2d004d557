"""airbench94 and `cnncost-train speedrun` in turn on one GPU and one data set, each timed by its own clock.

airbench: the PyPI package `airbench` (Jordan 2024, arXiv:2404.00498), `train94()` as published:
its CUDA-event clock around the whitening init, the training epochs and the TTA evaluation, read
from the `total_time_seconds` cell of the final row it prints (tta_val_acc beside it).  It reads
`cifar10/{train,test}.pt` under the working folder; we write them from the same arrays our
trainer uses.  Ours: `Trainer.train`'s clock around the same three phases.  Each side is warmed up
first (ours: one full run, which compiles; airbench: `warmup94`, as its script does).

Pair k runs airbench first when k is even and ours first when k is odd, until --runs pairs or until
the next pair would pass --budget-s of wall time.  Per side: accuracy mean and std, one-sided
t-test of mean > 94%; time mean and std; Welch's t-test of mean airbench time > mean ours
(Welch 1947, Biometrika 34).  Writes runs.csv, summary.json, airbench.log and race.png.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))      # the repository, when run as a script

TARGET = 94.0
SMOKE_IMAGES = 16
AIRBENCH_COLUMNS = ("run", "epoch", "train_loss", "train_acc", "val_acc", "tta_val_acc", "total_time_seconds")


def parse_airbench(text: str) -> dict:
    """The final row airbench prints (epoch cell 'eval'): {'acc': tta_val_acc in %, 'time_s': its clock}."""
    for line in reversed(text.splitlines()):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == len(AIRBENCH_COLUMNS) and cells[1] == "eval":
            row = dict(zip(AIRBENCH_COLUMNS, cells))
            return {"acc": 100 * float(row["tta_val_acc"]), "time_s": float(row["total_time_seconds"])}
    raise ValueError("no final 'eval' row in airbench's output")


def welch_greater(a, b) -> dict:
    """One-sided Welch test of H1: mean(a) > mean(b); df by Welch-Satterthwaite."""
    from cnncost_train.engine import stats
    (ma, sa), (mb, sb) = stats.mean_std(a), stats.mean_std(b)
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return {"t": None, "df": None, "p": None, "diff": ma - mb}
    va, vb = sa * sa / na, sb * sb / nb
    if va + vb == 0:
        return {"t": None, "df": None, "p": 0.0 if ma > mb else 1.0, "diff": ma - mb}
    t = (ma - mb) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va * va / (na - 1) + vb * vb / (nb - 1))
    return {"t": t, "df": df, "p": stats.t_sf(t, df), "diff": ma - mb}


def side_summary(runs: list[dict]) -> dict:
    from cnncost_train.engine import stats
    if not runs:
        return {"n": 0}
    accs, times = [r["acc"] for r in runs], [r["time_s"] for r in runs]
    test = stats.t_test_greater(accs, TARGET)
    t_mean, t_std = stats.mean_std(times)
    return {"n": len(runs), "acc_mean": test["mean"], "acc_std": test["std"], "p_acc_gt_94": test["p"],
            "at_least_94": sum(a >= TARGET for a in accs) / len(accs), "time_mean": t_mean, "time_std": t_std,
            "time_median": sorted(times)[len(times) // 2]}


class Airbench:
    """airbench's train94 on CIFAR-10 files written from our arrays (its loader reads ./cifar10/*.pt)."""

    def __init__(self, ds, work: Path, log: Path):
        import torch
        import airbench
        self.airbench, self.work, self.log = airbench, work, log
        self.version = getattr(airbench, "__version__", None) or _dist_version("airbench")
        (work / "cifar10").mkdir(parents=True, exist_ok=True)
        classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        for name, x, y in (("train", ds.train_x, ds.train_y), ("test", ds.test_x, ds.test_y)):
            torch.save({"images": torch.from_numpy(x).contiguous(), "labels": torch.from_numpy(y).long(),
                        "classes": classes}, work / "cifar10" / f"{name}.pt")

    def _call(self, fn) -> str:
        buf = io.StringIO()
        cwd = os.getcwd()
        os.chdir(self.work)
        try:
            with contextlib.redirect_stdout(buf):
                fn()
        finally:
            os.chdir(cwd)
        text = buf.getvalue()
        with open(self.log, "a") as f:
            f.write(text)
        return text

    def warmup(self):
        self._call(self.airbench.warmup94)

    def run(self, seed: int) -> dict:
        import torch
        torch.manual_seed(seed)
        return parse_airbench(self._call(self.airbench.train94))


def _dist_version(name: str):
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def race(args) -> dict:
    import torch
    from cnncost_train.engine import options, outputs, recipes
    from cnncost_train.engine.trainer import Trainer
    from cnncost_train.experiments.speedrun import prepare
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    recipe, device, ds, model, shape, fwd, d = prepare(recipes.get(args.recipe), args.device, args.data_dir,
                                                       args.smoke, args.epochs)
    cuda = device.startswith("cuda")
    if args.smoke:      # one step of 16 images, no TTA: the path, not the recipe (a CPU runs it in seconds)
        from cnncost_train.engine.trainer import DeviceData
        ds = ds.subset(SMOKE_IMAGES, SMOKE_IMAGES)
        d = DeviceData.from_dataset(ds, device)
        recipe = recipe.with_(tta=0, whiten_images=SMOKE_IMAGES, batch_size=SMOKE_IMAGES)
    ours = Trainer(recipe, model.spec, d, device)
    warm = {}
    if not args.smoke:
        t0 = time.perf_counter()
        ours.train(args.seed + 1_000_000, epoch_eval=False)
        warm["cnncost_s"] = time.perf_counter() - t0
    ab, skipped = None, None
    if args.no_airbench or not cuda:
        skipped = "airbench skipped: " + ("--no-airbench" if args.no_airbench else "it needs CUDA")
    else:
        ab = Airbench(ds, Path(args.airbench_work), out / "airbench.log")
        t0 = time.perf_counter()
        ab.warmup()
        warm["airbench_s"] = time.perf_counter() - t0
    print(f"race on {options.device_name(device)}: recipe {recipe.name} ({recipe.epochs} epochs)"
          f"{'; ' + skipped if skipped else ''}; warm-up {warm}", flush=True)
    rows, start, longest = [], time.perf_counter(), 0.0
    for k in range(args.runs):
        if k and time.perf_counter() - start + longest > args.budget_s:
            break
        p0 = time.perf_counter()
        order = ("airbench", "cnncost") if k % 2 == 0 else ("cnncost", "airbench")
        for side in order:
            if side == "airbench" and ab is None:
                continue
            w0 = time.perf_counter()
            if side == "airbench":
                res = ab.run(args.seed + k)
            else:
                r = ours.train(args.seed + k, epoch_eval=False)
                res = {"acc": r["acc"], "time_s": r["time_s"]}
            if cuda:
                torch.cuda.synchronize()
            rows.append({"system": side, "pair": k, "first": side == order[0], "seed": args.seed + k,
                         "acc": res["acc"], "time_s": res["time_s"], "wall_s": time.perf_counter() - w0})
            outputs.write_csv(out / "runs.csv", rows)         # every run kept, should the call be cut short
            print(f"pair {k} {side}: {res['acc']:.2f}% in {res['time_s']:.3f} s", flush=True)
        longest = max(longest, time.perf_counter() - p0)
    sides = {s: [r for r in rows if r["system"] == s] for s in ("airbench", "cnncost")}
    summary = {"device": options.device_name(device), "torch": torch.__version__,
               "cuda": torch.version.cuda if cuda else None, "recipe": recipe.name, "epochs": recipe.epochs,
               "airbench_version": ab.version if ab else None, "skipped": skipped, "warmup_wall_s": warm,
               "budget_s": args.budget_s, "pairs": 1 + max((r["pair"] for r in rows), default=-1),
               "airbench": side_summary(sides["airbench"]), "cnncost": side_summary(sides["cnncost"]),
               "smoke": args.smoke, "command": " ".join(sys.argv)}
    if sides["airbench"] and sides["cnncost"]:
        summary["time_welch_airbench_gt_cnncost"] = welch_greater([r["time_s"] for r in sides["airbench"]],
                                                                  [r["time_s"] for r in sides["cnncost"]])
    outputs.write_csv(out / "runs.csv", rows)
    outputs.write_json(out / "summary.json", summary)
    plot(rows, out / "race.png", summary)
    return summary


def plot(rows, path: Path, summary: dict):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.6))
    for side, marker in (("airbench", "o"), ("cnncost", "s")):
        rs = [r for r in rows if r["system"] == side]
        if rs:
            a1.plot([r["pair"] for r in rs], [r["time_s"] for r in rs], marker, ms=4, label=side)
            a2.plot([r["pair"] for r in rs], [r["acc"] for r in rs], marker, ms=4, label=side)
    a2.axhline(TARGET, color="grey", lw=0.8)
    a1.set(xlabel="pair (alternating order)", ylabel="time per run (s, own clock)")
    a2.set(xlabel="pair (alternating order)", ylabel="test accuracy with TTA (%)")
    for a in (a1, a2):
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.suptitle(f"{summary['device']}: airbench94 vs cnncost speedrun ({summary['recipe']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--runs", type=int, default=50, help="most pairs")
    p.add_argument("--budget-s", type=float, default=300.0, help="wall seconds for the pairs")
    p.add_argument("--recipe", default="fast")
    p.add_argument("--epochs", type=float, default=None)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--no-airbench", action="store_true")
    p.add_argument("--airbench-work", default="/tmp/airbench-work",
                   help="folder for airbench's cifar10/*.pt (150 MB; kept out of the results)")
    race(p.parse_args(argv))


if __name__ == "__main__":
    main()
