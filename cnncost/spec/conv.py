"""Convolutions in 1, 2 or 3 spatial dimensions, plain and transposed; arguments as in PyTorch's
`nn.ConvNd` / `nn.ConvTransposeNd`, less `in_channels` (the input shape gives it).  Per-sample
input (C, *spatial): (C, L), (C, H, W) or (C, D, H, W)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Union

from cnncost.errors import CostError
from cnncost.spec.checks import choice, count, ints, label, put

Padding = Union[int, tuple, str]
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


@dataclass(frozen=True)
class ConvNd:
    """Convolution; `padding` is an int, one int per axis, 'valid' or 'same' (stride 1 only, as in
    PyTorch).  `padding_mode` changes the padded values, not the cost."""
    out_channels: int
    kernel: int | tuple
    stride: int | tuple = 1
    padding: Padding = 0
    dilation: int | tuple = 1
    groups: int = 1
    bias: bool = True
    padding_mode: str = "zeros"
    name: str | None = field(default=None, kw_only=True)
    dims: ClassVar[int] = 2

    def __post_init__(self):
        who, n = label(self, self.name), self.dims
        count(self.out_channels, "out_channels", who)
        count(self.groups, "groups", who)
        kernel = ints(self.kernel, "kernel", who, 1, n)
        stride = ints(self.stride, "stride", who, 1, n)
        dilation = ints(self.dilation, "dilation", who, 1, n)
        choice(self.padding_mode, PADDING_MODES, "padding_mode", who)
        if self.out_channels % self.groups:
            raise CostError(f"{who}: out_channels {self.out_channels} is not divisible by groups {self.groups}")
        if isinstance(self.padding, str) and self.padding not in ("same", "valid"):
            raise CostError(f"{who}: padding must be an integer, a pair, 'same' or 'valid', got {self.padding!r}")
        if self.padding == "same" and any(s != 1 for s in stride):
            raise CostError(f"{who}: padding 'same' needs stride 1, got stride {self.stride}")
        if not isinstance(self.padding, str):
            ints(self.padding, "padding", who, 0, n)
        put(self, kernel=kernel, stride=stride, dilation=dilation)

    @property
    def pads(self) -> tuple:
        """(before, after) per axis; 'same' splits d*(k-1) with the extra pixel after, as PyTorch does."""
        if self.padding == "valid":
            return ((0, 0),) * self.dims
        if self.padding == "same":
            total = [d * (k - 1) for d, k in zip(self.dilation, self.kernel)]
            return tuple((t // 2, t - t // 2) for t in total)
        p = ints(self.padding, "padding", label(self, self.name), 0, self.dims)
        return tuple((v, v) for v in p)


@dataclass(frozen=True)
class Conv1d(ConvNd):
    dims: ClassVar[int] = 1


@dataclass(frozen=True)
class Conv2d(ConvNd):
    dims: ClassVar[int] = 2


@dataclass(frozen=True)
class Conv3d(ConvNd):
    dims: ClassVar[int] = 3


@dataclass(frozen=True)
class ConvTransposeNd:
    """Transposed convolution (the gradient of a convolution): out = (n-1)*s - 2p + d*(k-1) +
    output_padding + 1 per axis (PyTorch's ConvTranspose2d docs).  Argument order as in PyTorch."""
    out_channels: int
    kernel: int | tuple
    stride: int | tuple = 1
    padding: int | tuple = 0
    output_padding: int | tuple = 0
    groups: int = 1
    bias: bool = True
    dilation: int | tuple = 1
    padding_mode: str = "zeros"
    name: str | None = field(default=None, kw_only=True)
    dims: ClassVar[int] = 2

    def __post_init__(self):
        who, n = label(self, self.name), self.dims
        count(self.out_channels, "out_channels", who)
        count(self.groups, "groups", who)
        kernel = ints(self.kernel, "kernel", who, 1, n)
        stride = ints(self.stride, "stride", who, 1, n)
        dilation = ints(self.dilation, "dilation", who, 1, n)
        padding = ints(self.padding, "padding", who, 0, n)
        output_padding = ints(self.output_padding, "output_padding", who, 0, n)
        choice(self.padding_mode, ("zeros",), "padding_mode (transposed)", who)
        if self.out_channels % self.groups:
            raise CostError(f"{who}: out_channels {self.out_channels} is not divisible by groups {self.groups}")
        for op, s, d in zip(output_padding, stride, dilation):
            if op >= max(s, d):
                raise CostError(f"{who}: output_padding {op} must be smaller than the stride {s} or the dilation {d}")
        put(self, kernel=kernel, stride=stride, dilation=dilation, padding=padding, output_padding=output_padding)


@dataclass(frozen=True)
class ConvTranspose1d(ConvTransposeNd):
    dims: ClassVar[int] = 1


@dataclass(frozen=True)
class ConvTranspose2d(ConvTransposeNd):
    dims: ClassVar[int] = 2


@dataclass(frozen=True)
class ConvTranspose3d(ConvTransposeNd):
    dims: ClassVar[int] = 3
