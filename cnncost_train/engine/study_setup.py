"""What every training-dynamics study shares: its options, data on the device, steps per epoch, the
picks an earlier study wrote, and history rows for CSV.  No torch at import time."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from cnncost.errors import CostError
from cnncost_train.engine import options


@dataclass
class Options:
    out: Path | None = None
    data_dir: Path | None = None
    smoke: bool = False
    resume: bool = False
    seed: int = 0
    device: str | None = None
    model: str | None = None
    epochs: float | None = None
    batch: int = 64
    val: int = 5000
    extra: dict = field(default_factory=dict)


def setup(o: Options, name: str, dataset: str):
    from rich.console import Console
    from cnncost_train.engine import study_run as study
    out = Path(o.out or f"runs/{name}")
    device = options.resolve_device(o.device, o.smoke)
    ds = study.load(dataset, o.data_dir, o.smoke, o.seed)
    n_val = min(o.val, len(ds.train_y) // 5) if o.smoke else o.val
    t = study.tensors(ds, device, n_val if dataset == "fashion-mnist" else 0, o.seed)
    return out, device, ds, t, Console(stderr=True)


def meta(o: Options, ds, t, **kw) -> dict:
    """What a study's results depend on besides its own options: the data (source and split sizes), --smoke
    and --seed.  `Sweep` stores it; a --resume with anything different is refused."""
    return {**kw, "data": ds.source, "train_images": len(t.train_y), "val_images": len(t.val_y),
            "test_images": len(t.test_y), "smoke": o.smoke, "seed": o.seed}


def pick_or_diverged(pick, xs, losses, out: Path):
    """`pick(xs, losses)`; when every run diverged, the `Diverged` error also says where the runs are kept."""
    from cnncost_train.engine.loop import Diverged
    try:
        return pick(xs, losses)
    except Diverged as e:
        raise Diverged(f"{e}; what was measured is in {out}") from None


def steps_per_epoch(n: int, b: int) -> int:
    if n < b:
        raise CostError(f"batch {b} is larger than the {n} training images")
    return n // b


def prior_picks(path: Path, keys):
    import json
    if not path.is_file():
        return None
    d = json.loads(path.read_text()).get("picks", {})
    return tuple(d.get(k) for k in keys) if all(d.get(k) is not None for k in keys) else None


def accuracy_picks(history: list[dict]) -> dict:
    """Test accuracy without peeking at the test set: the last epoch's, and the one at the epoch of best
    validation accuracy (the first such epoch; nan without a validation split)."""
    val = [(h["val_acc"], -i) for i, h in enumerate(history) if h.get("val_acc") is not None
           and math.isfinite(h["val_acc"])]
    best = history[-max(val)[1]] if val else None
    return {"best_val_acc": max(val)[0] if val else math.nan,
            "test_acc_at_best_val": best["test_acc"] if best else math.nan,
            "final_test_acc": history[-1]["test_acc"] if history else math.nan}


def compare_row(name: str, result: dict) -> dict:
    """One run of a comparison table: validation pick and last-epoch test accuracy (never a maximum over
    test accuracies, which would choose the epoch by the test set)."""
    return {"run": name, **accuracy_picks(result["history"]), "images": result["images"], "epochs": result["epochs"]}


def history_rows(result: dict, **tags):
    return [{**tags, **{k: v for k, v in h.items() if not k.startswith("iter_")}} for h in result["history"]]
