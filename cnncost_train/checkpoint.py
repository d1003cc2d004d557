"""Checkpoints: written atomically (temporary file, then rename), so an interrupted save never
replaces the last good one.  `CheckpointHook` saves at each epoch end and when interrupted."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from cnncost.errors import CostError
from cnncost_train.loop import Hook


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
