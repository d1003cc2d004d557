"""Operations whose result depends on the tensors' values, not only their shapes: gathers and
scatters by index or mask (x[idx], nonzero, index_put_), value-dependent selections (nms, unique),
sampling at computed positions (grid_sample), sliding-window extraction (unfold / im2col), and
constants the model makes without its input.

A gather's output size can depend on the data (a boolean mask keeps as many elements as are true),
so `Gather` and `ValueDependent` carry the per-sample output shape a run observed: such a spec
holds for that run's data, which the run-time reader fixes with a seeded input.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from cnncost.errors import CostError
from cnncost.spec.checks import choice, ints, label, put

#: grid_sample modes -> input positions read per output element (bilinear: 4 corners; bicubic: 4x4)
SAMPLE_TAPS = {"bilinear": 4, "nearest": 1, "bicubic": 16}


def _shape(value, who: str) -> tuple:
    shape = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in shape):
        raise CostError(f"{who}: out_shape must be non-negative integers, got {value!r}")
    return shape


@dataclass(frozen=True)
class _Observed:
    """An op of any number of inputs whose per-sample output shape a run observed."""
    op: str
    out_shape: tuple
    name: str | None = field(default=None, kw_only=True)
    arity: ClassVar = (1, None)

    def __post_init__(self):
        put(self, out_shape=_shape(self.out_shape, label(self, self.name)))


@dataclass(frozen=True)
class Gather(_Observed):
    """`op` (index, index_select, gather, nonzero, masked_select, index_put_, ...) reading its
    inputs at positions given by indices or masks: values are moved, none computed (0 FLOPs under
    every convention); output `out_shape` as observed.  Which input positions an output reads is
    data, so the receptive field after it is unknown."""


@dataclass(frozen=True)
class ValueDependent(_Observed):
    """`op` whose amount of arithmetic depends on the values: torchvision's nms (how many IoUs it
    computes depends on which boxes an earlier one suppressed), unique.  Output `out_shape` as
    observed.  Conventions that count every op (cnncost) cannot give its FLOPs: unknown, the total
    incomplete; those that count only products (macs, fvcore, torch) count it 0, as their counters
    do."""


@dataclass(frozen=True)
class GridSample:
    """F.grid_sample(features, grid, mode, padding_mode, align_corners): features (*n, C, H, W) read
    at the (x, y) positions of grid (*n, Ho, Wo, 2): output (*n, C, Ho, Wo).  Where it reads is
    data (the grid): the receptive field after it is unknown."""
    mode: str = "bilinear"
    padding_mode: str = "zeros"
    align_corners: bool = False
    name: str | None = field(default=None, kw_only=True)
    arity: ClassVar = (2, 2)

    def __post_init__(self):
        who = label(self, self.name)
        choice(self.mode, tuple(SAMPLE_TAPS), "grid_sample mode", who)
        choice(self.padding_mode, ("zeros", "border", "reflection"), "padding_mode", who)


@dataclass(frozen=True)
class Unfold:
    """F.unfold / nn.Unfold (im2col): (C, H, W) -> (C*kh*kw, L), L sliding windows, each column one
    window's values; a copy, no arithmetic."""
    kernel_size: int | tuple
    dilation: int | tuple = 1
    padding: int | tuple = 0
    stride: int | tuple = 1
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = label(self, self.name)
        put(self, kernel_size=ints(self.kernel_size, "kernel_size", who, 1),
            dilation=ints(self.dilation, "dilation", who, 1), padding=ints(self.padding, "padding", who, 0),
            stride=ints(self.stride, "stride", who, 1))


@dataclass(frozen=True)
class Constant:
    """A tensor the model makes without its input or parameters (a coordinate grid, a mask, a
    buffer): no parameters, no cost; per-sample `shape`, broadcast against what it meets."""
    shape: tuple
    name: str | None = field(default=None, kw_only=True)
    arity: ClassVar = (0, 0)

    def __post_init__(self):
        put(self, shape=_shape(self.shape, label(self, self.name)))
