"""`--resume` continues only what the same options would have produced.

A command writes the options that change its results (epochs, runs, seeds, data, model, rates, ...)
beside them when it starts; `--resume` with any of them different is refused in one line naming each
difference, so one summary never mixes runs of two settings.  Options that change only how a result
is reported or where it is written (--out, --device, a plot's target line) are left out by the caller.
"""
from __future__ import annotations

import json
from pathlib import Path

from cnncost.errors import CostError


def as_stored(config: dict) -> dict:
    """The config as it reads back from JSON (tuples as lists, paths as strings)."""
    return json.loads(json.dumps(config, default=str))


def differences(old: dict, new: dict) -> list[str]:
    """'key old -> new' for every key whose value differs (a key missing on one side counts)."""
    old, new = as_stored(old), as_stored(new)
    return [f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def refuse_if_different(where: Path, old: dict, new: dict):
    diff = differences(old, new)
    if diff:
        raise CostError(f"--resume: {where} holds results of other options ({'; '.join(diff)}); repeat those "
                        f"options, choose another --out, or drop --resume")


def check(path: Path, config: dict, resume: bool):
    """Refuse a --resume whose config differs from the one stored at `path`; then store `config` there."""
    path = Path(path)
    if resume and path.is_file():
        refuse_if_different(path, json.loads(path.read_text()), config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(as_stored(config), indent=2) + "\n")
