"""What the fx reader passes between graph nodes: tensors (spec node names), module attributes,
chunk/split pieces, and markers for the batch size and for values it cannot know."""
from __future__ import annotations

from dataclasses import dataclass

import torch


class _Marker:
    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


#: the batch size: known to PyTorch, absent from the per-sample spec
BATCH = _Marker("B")
#: a value the reader cannot know without running the model
UNKNOWN = _Marker("?")


@dataclass(frozen=True)
class T:
    """A tensor: the output of spec node `name`."""
    name: str


@dataclass(frozen=True)
class Attr:
    """A tensor attribute of a module (fx get_attr): a parameter or a buffer; `view` is the
    per-sample shape it was viewed as (timm's layer scale `gamma.reshape(1, -1, 1, 1)` is (C, 1, 1))."""
    path: str
    tensor: torch.Tensor
    node: str = ""           # the fx get_attr node
    view: tuple | None = None


@dataclass(frozen=True)
class Pieces:
    """torch.chunk / split before indexing: slices [start, stop) of `source` along `axis`."""
    source: T
    axis: int
    bounds: tuple


@dataclass(frozen=True)
class Size:
    """Where a size the forward read came from: per-sample `axis` of the tensor of spec node
    `tensor` (x.size(), x.shape)."""
    tensor: str
    axis: int


#: a number computed from sizes (x.size(1) // groups, h * w): it follows the input
DERIVED = _Marker("derived")


def walk_values(value):
    """Every leaf of nested tuples, lists, dicts and slices."""
    if isinstance(value, (tuple, list)):
        for v in value:
            yield from walk_values(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from walk_values(v)
    elif isinstance(value, slice):
        yield from walk_values((value.start, value.stop, value.step))
    else:
        yield value
