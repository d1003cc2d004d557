"""Pooling and resampling in 1, 2 or 3 spatial dimensions: windowed max/average pooling, adaptive
pooling to a fixed size, and interpolation (`nn.Upsample`, `F.interpolate`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import ClassVar

from cnncost.errors import CostError
from cnncost.spec.checks import choice, ints, label, put

POOL_MODES = ("max", "avg")


@dataclass(frozen=True)
class PoolNd:
    """Max or average pooling; `stride` defaults to the kernel, as in PyTorch.  `dilation` is
    max pooling's (average pooling has none)."""
    mode: str
    kernel: int | tuple
    stride: int | tuple | None = None
    padding: int | tuple = 0
    ceil_mode: bool = False
    count_include_pad: bool = True
    dilation: int | tuple = field(default=1, kw_only=True)
    name: str | None = field(default=None, kw_only=True)
    dims: ClassVar[int] = 2

    def __post_init__(self):
        who, n = label(self, self.name), self.dims
        choice(self.mode, POOL_MODES, "pooling mode", who)
        kernel = ints(self.kernel, "kernel", who, 1, n)
        stride = ints(kernel if self.stride is None else self.stride, "stride", who, 1, n)
        padding = ints(self.padding, "padding", who, 0, n)
        dilation = ints(self.dilation, "dilation", who, 1, n)
        if self.mode == "avg" and any(d != 1 for d in dilation):
            raise CostError(f"{who}: average pooling has no dilation, got {self.dilation}")
        for p, k in zip(padding, kernel):
            if 2 * p > k:
                raise CostError(f"{who}: padding {p} is more than half the kernel {k}")
        put(self, kernel=kernel, stride=stride, padding=padding, dilation=dilation)

    @property
    def pads(self) -> tuple:
        return tuple((p, p) for p in self.padding)


@dataclass(frozen=True)
class Pool1d(PoolNd):
    dims: ClassVar[int] = 1


@dataclass(frozen=True)
class Pool2d(PoolNd):
    dims: ClassVar[int] = 2


@dataclass(frozen=True)
class Pool3d(PoolNd):
    dims: ClassVar[int] = 3


def MaxPool1d(kernel, stride=None, padding=0, ceil_mode=False, *, dilation=1, name=None) -> Pool1d:
    return Pool1d("max", kernel, stride, padding, ceil_mode, dilation=dilation, name=name)


def MaxPool2d(kernel, stride=None, padding=0, ceil_mode=False, *, dilation=1, name=None) -> Pool2d:
    return Pool2d("max", kernel, stride, padding, ceil_mode, dilation=dilation, name=name)


def MaxPool3d(kernel, stride=None, padding=0, ceil_mode=False, *, dilation=1, name=None) -> Pool3d:
    return Pool3d("max", kernel, stride, padding, ceil_mode, dilation=dilation, name=name)


def AvgPool1d(kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True, *, name=None) -> Pool1d:
    return Pool1d("avg", kernel, stride, padding, ceil_mode, count_include_pad, name=name)


def AvgPool2d(kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True, *, name=None) -> Pool2d:
    return Pool2d("avg", kernel, stride, padding, ceil_mode, count_include_pad, name=name)


def AvgPool3d(kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True, *, name=None) -> Pool3d:
    return Pool3d("avg", kernel, stride, padding, ceil_mode, count_include_pad, name=name)


@dataclass(frozen=True)
class AdaptivePoolNd:
    """Adaptive pooling to a fixed output size; window i spans [floor(i*n/o), ceil((i+1)*n/o))."""
    mode: str
    output_size: int | tuple = 1
    name: str | None = field(default=None, kw_only=True)
    dims: ClassVar[int] = 2

    def __post_init__(self):
        who = label(self, self.name)
        choice(self.mode, POOL_MODES, "pooling mode", who)
        put(self, output_size=ints(self.output_size, "output_size", who, 1, self.dims))


@dataclass(frozen=True)
class AdaptivePool1d(AdaptivePoolNd):
    dims: ClassVar[int] = 1


@dataclass(frozen=True)
class AdaptivePool2d(AdaptivePoolNd):
    dims: ClassVar[int] = 2


@dataclass(frozen=True)
class AdaptivePool3d(AdaptivePoolNd):
    dims: ClassVar[int] = 3


def GlobalPool(mode: str = "avg", *, name=None) -> AdaptivePool2d:
    return AdaptivePool2d(mode, 1, name=name)


#: interpolation modes -> spatial ranks they accept (PyTorch's F.interpolate)
INTERPOLATE_MODES = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,), "bilinear": (2,),
                     "bicubic": (2,), "trilinear": (3,), "area": (1, 2, 3)}


@dataclass(frozen=True)
class Upsample:
    """`nn.Upsample` / `F.interpolate` over every spatial axis of (C, *spatial): to `size`, or to
    floor(n * scale_factor) per axis (a float factor is taken as the exact fraction it stores)."""
    size: int | tuple | None = None
    scale_factor: float | tuple | None = None
    mode: str = "nearest"
    align_corners: bool | None = None
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = label(self, self.name)
        choice(self.mode, tuple(INTERPOLATE_MODES), "interpolation mode", who)
        if (self.size is None) == (self.scale_factor is None):
            raise CostError(f"{who}: give exactly one of size and scale_factor")
        if self.align_corners is not None and self.mode not in ("linear", "bilinear", "bicubic", "trilinear"):
            raise CostError(f"{who}: align_corners applies to linear, bilinear, bicubic and trilinear modes only")
        if self.size is not None:
            n = len(self.size) if isinstance(self.size, (tuple, list)) else 1
            given = tuple(self.size) if isinstance(self.size, (tuple, list)) else (self.size,)
            from cnncost.sizes import is_concrete      # a size read from a symbolic input (H) stays symbolic
            sizes = given if not all(is_concrete(s) for s in given) else ints(self.size, "size", who, 1, n)
            put(self, size=sizes if isinstance(self.size, (tuple, list)) else sizes[0])
        else:
            factors = self.scale_factor if isinstance(self.scale_factor, (tuple, list)) else (self.scale_factor,)
            for f in factors:
                if isinstance(f, bool) or not isinstance(f, (int, float, Fraction)) or f <= 0:
                    raise CostError(f"{who}: scale_factor must be positive, got {self.scale_factor!r}")

    def sizes(self, spatial: tuple, who: str) -> tuple:
        """Output size per spatial axis for input sizes `spatial`."""
        from cnncost.sizes import floordiv
        n = len(spatial)
        if n not in INTERPOLATE_MODES[self.mode]:
            raise CostError(f"{who}: mode {self.mode!r} needs a {'/'.join(map(str, INTERPOLATE_MODES[self.mode]))}-D "
                            f"spatial input, got {n}-D")
        if self.size is not None:
            sizes = self.size if isinstance(self.size, tuple) else (self.size,) * n
            if len(sizes) != n:
                raise CostError(f"{who}: size has {len(sizes)} values for {n} spatial axes")
            return sizes
        factors = self.scale_factor if isinstance(self.scale_factor, (tuple, list)) else (self.scale_factor,) * n
        if len(factors) != n:
            raise CostError(f"{who}: {len(factors)} scale factors for {n} spatial axes")
        out = []
        for s, f in zip(spatial, factors):
            f = Fraction(f)
            out.append(floordiv(s * f.numerator, f.denominator))
        return tuple(out)
