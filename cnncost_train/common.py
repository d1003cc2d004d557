"""Conventions every `cnncost-train` experiment shares: its options, device choice, errors, output files.

Options: --data-dir (else $CNNCOST_DATA, else ./data), --out, --smoke (CPU, a few hundred images,
one epoch), --resume with --checkpoint-dir, --seed, --device.  Errors users can fix (missing data,
bad options) print one line and exit 2; a diverged run exits 1; an interrupted one exits 130 after
saving its checkpoint.  No torch at import time (so `cnncost-train --help` is fast).
"""
from __future__ import annotations

import csv
import json
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from cnncost.errors import CostError

DataDir = Annotated[Optional[Path], typer.Option(
    "--data-dir", help="Folder holding the data set (else $CNNCOST_DATA, else ./data).", show_default=False)]
Out = Annotated[Optional[Path], typer.Option(
    "--out", help="Folder for the JSON result and CSV logs (default runs/<experiment>).", show_default=False)]
Smoke = Annotated[bool, typer.Option(
    "--smoke", help="CPU, a few hundred images, one epoch: checks every path in seconds.")]
Resume = Annotated[bool, typer.Option(
    "--resume", help="Continue from the checkpoints in --checkpoint-dir (same schedule).")]
CheckpointDir = Annotated[Optional[Path], typer.Option(
    "--checkpoint-dir", help="Save a checkpoint at each epoch end and on SIGINT/SIGTERM.", show_default=False)]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the first run; run i uses seed + i.")]
Device = Annotated[Optional[str], typer.Option(
    "--device", help="cuda, cuda:N or cpu (default: cuda if available; cpu for --smoke).", show_default=False)]

SMOKE_TRAIN, SMOKE_TEST = 256, 200


def resolve_device(name: str | None, smoke: bool) -> str:
    import torch
    if name is None:
        return "cpu" if smoke or not torch.cuda.is_available() else "cuda"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise CostError(f"--device {name}: no CUDA device is available here; use --device cpu or --smoke")
        return name
    if name != "cpu":
        raise CostError(f"--device must be cpu, cuda or cuda:N, got {name!r}")
    return name


def device_name(device: str) -> str:
    import torch
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    import platform
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


@contextmanager
def cli_errors():
    """One line and an exit code instead of a traceback."""
    from rich.console import Console
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        yield
    except CostError as e:
        err.print(f"error: {e}", markup=False)
        raise typer.Exit(2)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        raise typer.Exit(130)
    except Exception as e:
        from cnncost_train.loop import Diverged, Interrupted
        if isinstance(e, Interrupted):
            err.print(f"interrupted: {e}; checkpoint saved; continue with --resume", markup=False)
            raise typer.Exit(130)
        if isinstance(e, Diverged):
            err.print(f"error: {e}", markup=False)
            raise typer.Exit(1)
        raise


def _clean(obj):
    """JSON without NaN/inf (written as null)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def write_json(path: Path, obj):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(obj), indent=2) + "\n")


def write_csv(path: Path, rows: list[dict]):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def progress(console):
    """One rich display: a bar per run and a bar per epoch with loss, accuracy and elapsed time."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console, transient=False)
