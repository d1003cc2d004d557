"""The command-line conventions every `cnncost-train` experiment shares: option types, device choice, errors.

Options: --data-dir (else $CNNCOST_DATA, else ./data; a named one is the only place read), --out,
--smoke (CPU with one thread, a few hundred images, one epoch), --resume (speedrun: with --checkpoint-dir),
--seed, --device.  Errors users can fix (missing data, bad options, PyTorch not installed) print one line
and exit 2; a diverged run exits 1; an interrupted one exits 130 after saving its checkpoint.  No torch at
import time (so `cnncost-train --help` is fast).
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from cnncost.errors import CostError

DataDir = Annotated[Optional[Path], typer.Option(
    "--data-dir", help="Folder holding the data set, the only place read (else $CNNCOST_DATA, else ./data).",
    show_default=False)]
Out = Annotated[Optional[Path], typer.Option(
    "--out", help="Folder for the JSON result and CSV logs (default runs/<experiment>).", show_default=False)]
Smoke = Annotated[bool, typer.Option(
    "--smoke", help="CPU (one thread), a few hundred images, one epoch: checks every path in seconds.")]
Resume = Annotated[bool, typer.Option(
    "--resume", help="Continue the results under --out (finished runs kept, checkpoints continued); "
                     "refused if an option that changes results differs.")]
ResumeCheckpoints = Annotated[bool, typer.Option(
    "--resume", help="Continue from the checkpoints in --checkpoint-dir and the finished runs under --out; "
                     "refused if an option that changes results differs.")]
CheckpointDir = Annotated[Optional[Path], typer.Option(
    "--checkpoint-dir", help="Save a checkpoint at each epoch end and on SIGINT/SIGTERM.", show_default=False)]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the first run; run i uses seed + i.")]
Device = Annotated[Optional[str], typer.Option(
    "--device", help="cuda, cuda:N or cpu (default: cuda if available; cpu for --smoke).", show_default=False)]

SMOKE_TRAIN, SMOKE_TEST = 256, 200
#: packages of the `torch` extra (pyproject.toml) that the trainer imports
TORCH_EXTRA = ("torch", "torchvision", "fvcore", "matplotlib")


def resolve_device(name: str | None, smoke: bool) -> str:
    """The device to train on.  --smoke on the CPU uses one thread: it checks paths, not speed, and on a
    busy machine two threads wait on each other (a ResNet-20 step on 64 images measured 9.5 s with two
    threads and 1.4 s with one, load average 16 on 2 cores)."""
    import torch
    if name is None:
        name = "cpu" if smoke or not torch.cuda.is_available() else "cuda"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise CostError(f"--device {name}: no CUDA device is available here; use --device cpu or --smoke")
        return name
    if name != "cpu":
        raise CostError(f"--device must be cpu, cuda or cuda:N, got {name!r}")
    if smoke:
        torch.set_num_threads(1)
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
    except ImportError as e:
        if (e.name or "").split(".")[0] not in TORCH_EXTRA:
            raise
        err.print(f"error: this command needs {e.name.split('.')[0]}, which is not installed here; install "
                  f"cnncost[torch] (pip install 'cnncost[torch]', or pip install -e '.[torch]' in a checkout)",
                  markup=False)
        raise typer.Exit(2)
    except Exception as e:
        from cnncost_train.engine.loop import Diverged, Interrupted
        if isinstance(e, Interrupted):
            err.print(f"interrupted: {e}; checkpoint saved; continue with --resume", markup=False)
            raise typer.Exit(130)
        if isinstance(e, Diverged):
            err.print(f"error: {e}", markup=False)
            raise typer.Exit(1)
        raise


# options of the training-dynamics studies (optimizers, lr-range, clr, batch-range, cbs, data-summary)
StudyModel = Annotated[Optional[str], typer.Option(
    "--model", help="Zoo model (default minigooglenet; lenet5 with --smoke).", show_default=False)]
StudyEpochs = Annotated[Optional[float], typer.Option(
    "--epochs", help="Epochs per run (default: the study's).", show_default=False)]
Val = Annotated[int, typer.Option("--val", help="Validation images held out of Fashion-MNIST train (seeded).")]


def optional_float(flag: str, text: str):
    """An optional float option with no default shown."""
    return Annotated[Optional[float], typer.Option(flag, help=text, show_default=False)]
