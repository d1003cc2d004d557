"""`cnncost-train cutout-demo`: CIFAR-10 images before and after cutout, through the training code path.

Cutout (DeVries & Taylor 2017, arXiv:1708.04552): one size x size square set to zero at a uniformly
drawn centre; near the border the square is clipped.  The images go through exactly what training
does, `augment.normalize` then `augment.cutout`; zero after normalisation is the data set's mean
colour, so for display we undo the normalisation (x * std + mean) and the hole shows in that colour.
The grid has one column per class and, for each of n images per class, a row before and a row after.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cnncost.errors import CostError
from cnncost_train.engine import options


def pick(labels: np.ndarray, n: int, classes: int, seed: int) -> np.ndarray:
    """n indices per class (fewer where a class has fewer), class-major, drawn by a fixed seed."""
    import numpy as np
    rng = np.random.default_rng(seed)
    out = []
    for c in range(classes):
        idx = np.flatnonzero(labels == c)
        out += sorted(rng.choice(idx, size=min(n, len(idx)), replace=False).tolist())
    return np.array(out, dtype=np.int64)


def apply(images: np.ndarray, mean, std, size: int, seed: int):
    """uint8 (N, H, W, C) -> (cut uint8 images for display, centres (N, 2)), via augment.cutout."""
    import numpy as np
    import torch

    from cnncost_train.engine import augment
    x_u8 = torch.from_numpy(np.ascontiguousarray(images))
    m, s = torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)
    x = augment.normalize(x_u8, m, s, channels_last=False)
    g = torch.Generator().manual_seed(seed)
    n, h, w = images.shape[:3]
    cy = torch.randint(0, h, (n,), generator=g)
    cx = torch.randint(0, w, (n,), generator=g)
    cut = augment.cutout(x, size, cy, cx)
    shown = (cut.permute(0, 2, 3, 1) * s + m) * 255
    return shown.round().clamp(0, 255).to(torch.uint8).numpy(), torch.stack([cy, cx], 1).numpy()


def grid(before: np.ndarray, after: np.ndarray, labels, class_names, n: int, path: Path, size: int):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    classes = len(class_names)
    fig, axes = plt.subplots(2 * n, classes, figsize=(1.1 * classes, 1.2 * 2 * n), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    count = {c: 0 for c in range(classes)}
    for i, c in enumerate(labels):
        k = count[c]
        count[c] += 1
        for row, img in ((2 * k, before[i]), (2 * k + 1, after[i])):
            ax = axes[row, c]
            ax.imshow(img.squeeze(), cmap="gray" if img.shape[-1] == 1 else None, interpolation="nearest")
            if row == 0:
                ax.set_title(class_names[c], fontsize=7)
    for k in range(n):
        axes[2 * k, 0].text(-4, 16, "before", fontsize=6, ha="right", va="center")
        axes[2 * k + 1, 0].text(-4, 16, f"cutout {size}", fontsize=6, ha="right", va="center")
    fig.suptitle(f"cutout {size}x{size} (DeVries & Taylor 2017), as in training", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def run(n: int = 2, size: int = 16, out=None, data_dir=None, smoke: bool = False, seed: int = 0, console=None):
    from rich.console import Console

    from cnncost_train.engine import data, outputs
    from cnncost_train.experiments import speedrun
    console = console or Console()
    if n < 1 or size < 1:
        raise CostError(f"--n and --size must be at least 1, got {n} and {size}")
    ds = speedrun.load_data(speedrun.Options(data_dir=data_dir, smoke=smoke)) if smoke else data.load_cifar10(data_dir)
    idx = pick(ds.train_y, n, ds.classes, seed)
    before = ds.train_x[idx]
    after, centres = apply(before, ds.mean, ds.std, size, seed)
    out = Path(out) if out else Path("runs") / "cutout-demo"
    out.mkdir(parents=True, exist_ok=True)
    names = data.CIFAR10_CLASSES if ds.classes == 10 else tuple(str(c) for c in range(ds.classes))
    grid(before, after, ds.train_y[idx], names, n, out / "cutout.png", size)
    outputs.write_json(out / "cutout.json", {"data": ds.source, "size": size, "seed": seed, "images": idx.tolist(),
                                            "labels": ds.train_y[idx].tolist(), "centres_yx": centres.tolist()})
    console.print(f"cutout {size}x{size} on {len(idx)} images from {ds.source}: {out / 'cutout.png'}",
                  highlight=False)
    return out / "cutout.png"


def command(
    n: Annotated[int, typer.Option("--n", help="Images per class.")] = 2,
    size: Annotated[int, typer.Option("--size", help="Cutout square side in pixels.")] = 16,
    out: options.Out = None, data_dir: options.DataDir = None, smoke: options.Smoke = False, seed: options.Seed = 0,
):
    """PNG grid of CIFAR-10 images before and after cutout (the function training uses)."""
    with options.cli_errors():
        run(n=n, size=size, out=out, data_dir=data_dir, smoke=smoke, seed=seed)


def register(app):
    app.command("cutout-demo")(command)
