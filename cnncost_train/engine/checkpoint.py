"""Checkpoints: written atomically (temporary file, then rename), so an interrupted save never
replaces the last good one.  `CheckpointHook` saves at each epoch end and when interrupted; a payload
holds the random generators' state too (`rng_state`), so a resumed run with dropout draws the same masks."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from cnncost.errors import CostError
from cnncost_train.engine.loop import Hook


def save(path: Path, payload: dict):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load(path: Path, device) -> dict:
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as err:
        raise CostError(f"checkpoint {path} cannot be read ({type(err).__name__}); delete it to start over") from None


class CheckpointHook(Hook):
    """Calls `payload()` and saves it to `path` at every epoch end and on interruption."""

    def __init__(self, path: Path, payload):
        self.path, self.payload = Path(path), payload
        self.saves = 0

    def _save(self):
        save(self.path, self.payload())
        self.saves += 1

    def epoch_end(self, loop, row):
        self._save()

    def interrupted(self, loop):
        self._save()


def rng_state(device) -> dict:
    """The global random generators a run draws from (dropout, random init): CPU, and the device's if CUDA."""
    device = torch.device(device)
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict | None, device):
    """Restore what `rng_state` saved (a checkpoint loaded with map_location may hold it on the device)."""
    if not state:
        return
    torch.set_rng_state(state["cpu"].cpu())
    if "cuda" in state and torch.device(device).type == "cuda":
        torch.cuda.set_rng_state(state["cuda"].cpu(), torch.device(device))
