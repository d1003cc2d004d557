"""Containers of the spec: Sequence (one after the other), Concat (parallel branches joined along
channels, as in an inception module), Residual (body(x) + shortcut(x)), and Opaque, the stand-in
for an operation no rule knows."""
from __future__ import annotations

from dataclasses import dataclass, field

from cnncost.errors import CostError
from cnncost.spec.checks import label, put


@dataclass(frozen=True)
class Sequence:
    layers: tuple
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        put(self, layers=tuple(self.layers))
        if not self.layers:
            raise CostError(f"{label(self, self.name)}: a sequence needs at least one layer")


@dataclass(frozen=True)
class Concat:
    """Parallel branches on the same input, concatenated along channels."""
    branches: tuple
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        put(self, branches=tuple(self.branches))
        if len(self.branches) < 2:
            raise CostError(f"{label(self, self.name)}: a concatenation needs at least two branches")


@dataclass(frozen=True)
class Residual:
    """body(x) + shortcut(x); `shortcut=None` is the identity."""
    body: object
    shortcut: object = None
    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Opaque:
    """An operation no rule knows (from the PyTorch reader): its cost is unknown, never zero, and
    so is the receptive field after it.  `out_shape` is the per-sample output shape the reader
    observed; None keeps the input shape."""
    op: str
    out_shape: tuple | None = None
    name: str | None = field(default=None, kw_only=True)


def seq(*layers, name: str | None = None) -> Sequence:
    """Sequence(layers) without the tuple: seq(Conv2d(...), Activation(), ...)."""
    return Sequence(layers, name=name)
