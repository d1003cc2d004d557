"""Fashion-MNIST summary (`cnncost-train data-summary`): sizes of train, validation (seeded hold-out)
and test, images per class, and a 3x3 sample grid."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cnncost.errors import CostError
from cnncost_train.engine import options, outputs, study_setup


def command(
    dataset: Annotated[str, typer.Argument(help="fashion-mnist")] = "fashion-mnist",
    val: options.Val = 5000, data_dir: options.DataDir = None, out: options.Out = None, smoke: options.Smoke = False,
    seed: options.Seed = 0,
):
    """Sizes (total, train, validation, test), images per class and a 3x3 sample grid."""
    with options.cli_errors():
        run(study_setup.Options(out=out, data_dir=data_dir, smoke=smoke, seed=seed, val=val), dataset)


def register(app):
    app.command("data-summary")(command)


def run(o: study_setup.Options, dataset: str = "fashion-mnist"):
    import numpy as np
    from rich.console import Console
    from cnncost_train.engine import study_run as study
    if dataset != "fashion-mnist":
        raise CostError(f"data-summary knows fashion-mnist, got {dataset!r}")
    out = Path(o.out or "runs/data-summary")
    ds = study.load(dataset, o.data_dir, o.smoke, o.seed)
    n_val = min(o.val, len(ds.train_y) // 5) if o.smoke else o.val
    tr, va = study.holdout(len(ds.train_y), n_val, o.seed)
    names = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    per = [{"class": c, "name": names[c], "train": int((ds.train_y[tr] == c).sum()),
            "validation": int((ds.train_y[va] == c).sum()), "test": int((ds.test_y == c).sum())} for c in range(10)]
    summary = {"dataset": dataset, "source": ds.source, "total": len(ds.train_y) + len(ds.test_y),
               "train": len(tr), "validation": len(va), "test": len(ds.test_y), "classes": 10,
               "image_shape": list(ds.train_x.shape[1:]), "seed": o.seed, "per_class": per}
    outputs.write_json(out / "summary.json", summary)
    outputs.write_csv(out / "classes.csv", per)
    p = study.plt()
    shown = [c for c in range(10) if (ds.train_y == c).sum() >= 1][:3]
    fig, axes = p.subplots(len(shown), 3, figsize=(4.5, 1.6 * len(shown)), squeeze=False)
    for r, c in enumerate(shown):
        idx = np.flatnonzero(ds.train_y == c)[:3]
        for k in range(3):
            ax = axes[r][k]
            ax.axis("off")
            if k < len(idx):
                ax.imshow(ds.train_x[idx[k], :, :, 0], cmap="gray")
            if k == 0:
                ax.set_title(names[c], fontsize=8, loc="left")
    fig.savefig(out / "samples.png", dpi=100)
    p.close(fig)
    Console(stderr=True).print(f"{dataset}: {summary['total']} images; train {summary['train']}, validation "
                               f"{summary['validation']}, test {summary['test']}; written to {out}")
    return summary
