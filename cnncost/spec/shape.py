"""Operations on whole tensors: elementwise merges (broadcasting), concatenation and stacking, the
shape ops (reshape, permute, slice, flatten, pad), reductions and learned tensors used directly.
Axes are per-sample (the batch is not counted): PyTorch's dim d >= 1 is axis d - 1 here.
`arity` is (fewest, most) inputs; None = any number."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from cnncost.errors import CostError
from cnncost.spec.checks import axes, choice, count, label, put

#: binary elementwise operations (Add and Mul have their own kinds)
BINARY = ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "atan2", "eq", "ne", "lt", "le", "gt", "ge",
          "and", "or", "xor", "remainder", "floor_divide")
#: reductions over axes
REDUCTIONS = ("sum", "mean", "amax", "amin", "prod", "var", "std", "norm", "logsumexp", "argmax", "argmin",
              "all", "any")


@dataclass(frozen=True)
class Add:
    """a + b with broadcasting (residual sums); merges two inputs."""
    name: str | None = field(default=None, kw_only=True)
    arity: ClassVar = (2, 2)


@dataclass(frozen=True)
class Mul:
    """a * b with broadcasting (squeeze-and-excitation, layer scale); merges two inputs."""
    name: str | None = field(default=None, kw_only=True)
    arity: ClassVar = (2, 2)


@dataclass(frozen=True)
class Binary:
    """Another elementwise operation of two broadcast tensors (a - b, a / b, torch.maximum, ...)."""
    op: str
    name: str | None = field(default=None, kw_only=True)
    arity: ClassVar = (2, 2)

    def __post_init__(self):
        choice(self.op, BINARY, "binary operation", label(self, self.name))


@dataclass(frozen=True)
class Cat:
    """Concatenation of two or more inputs along `axis` of the per-sample shape (0 = channels)."""
    axis: int = 0
    name: str | None = field(default=None, kw_only=True)
    arity: ClassVar = (2, None)

    def __post_init__(self):
        axes(self.axis, label(self, self.name), "axis")


@dataclass(frozen=True)
class Stack:
    """torch.stack: equal-shaped inputs joined along a new per-sample `axis`."""
    axis: int = 0
    name: str | None = field(default=None, kw_only=True)
    arity: ClassVar = (1, None)

    def __post_init__(self):
        axes(self.axis, label(self, self.name), "axis")


@dataclass(frozen=True)
class Param:
    """A learned tensor used directly (layer scale, a bias added by hand): no input, `shape` elements
    of parameters; broadcasts against the per-sample shape from the right."""
    shape: tuple
    name: str | None = field(default=None, kw_only=True)
    arity: ClassVar = (0, 0)

    def __post_init__(self):
        who = label(self, self.name)
        shape = axes(self.shape, who, "parameter sizes")
        if any(s < 1 for s in shape):
            raise CostError(f"{who}: parameter sizes must be positive, got {self.shape!r}")
        put(self, shape=shape)


@dataclass(frozen=True)
class Flatten:
    """Merge per-sample axes start..end into one (nn.Flatten(start_dim=1) is Flatten(start=0));
    the default flattens the whole sample."""
    start: int = 0
    end: int = -1
    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Reshape:
    """View the per-sample tensor as `shape` (ints; one may be -1), the batch dimension kept."""
    shape: tuple
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = label(self, self.name)
        shape = tuple(self.shape) if isinstance(self.shape, (tuple, list)) else (self.shape,)
        if sum(1 for s in shape if isinstance(s, int) and s == -1) > 1:
            raise CostError(f"{who}: at most one size may be -1, got {shape!r}")
        put(self, shape=shape)


@dataclass(frozen=True)
class Permute:
    """Reorder the per-sample dimensions (`dims` is a permutation of 0..n-1)."""
    dims: tuple
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        put(self, dims=axes(self.dims, label(self, self.name), "dims"))


@dataclass(frozen=True)
class Slice:
    """x[start:stop:step] along per-sample `axis` (torch.chunk / split pieces, strided subsampling)."""
    axis: int
    start: int = 0
    stop: int | None = None
    step: int = 1
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = label(self, self.name)
        axes(self.axis, who, "axis")
        count(self.step, "step", who)


@dataclass(frozen=True)
class Pad:
    """F.pad: `pads` = (before, after) pairs from the LAST axis backwards, as PyTorch orders them;
    mode 'constant', 'reflect', 'replicate' or 'circular'.  Negative pads crop."""
    pads: tuple
    mode: str = "constant"
    value: float = 0.0
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = label(self, self.name)
        pads = axes(self.pads, who, "pads")
        if len(pads) % 2:
            raise CostError(f"{who}: pads must come in (before, after) pairs, got {self.pads!r}")
        choice(self.mode, ("constant", "reflect", "replicate", "circular"), "padding mode", who)
        put(self, pads=pads)


@dataclass(frozen=True)
class Mean:
    """Mean over per-sample `axes` (x.mean((2, 3)) in PyTorch is axes (1, 2) here)."""
    axes: tuple
    keepdim: bool = False
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        put(self, axes=axes(self.axes, label(self, self.name), "axes"))


@dataclass(frozen=True)
class Reduce:
    """A reduction over per-sample `axes` (sum, amax, var, norm, logsumexp, ...)."""
    op: str
    axes: tuple
    keepdim: bool = False
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = label(self, self.name)
        choice(self.op, REDUCTIONS, "reduction", who)
        put(self, axes=axes(self.axes, who, "axes"))


@dataclass(frozen=True)
class Select:
    """x.select(axis, index) / x[..., index, ...]: the axis is removed (an index, not a slice)."""
    axis: int
    index: int = 0
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        axes((self.axis, self.index), label(self, self.name), "axis and index")


@dataclass(frozen=True)
class Expand:
    """x.expand(*shape) without the batch: size-1 axes broadcast to `shape` (-1 keeps a size); a view."""
    shape: tuple
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        put(self, shape=axes(self.shape, label(self, self.name), "sizes"))


@dataclass(frozen=True)
class Repeat:
    """x.repeat over per-sample axes: each axis tiled `repeats[i]` times (the batch once); a copy."""
    repeats: tuple
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = label(self, self.name)
        put(self, repeats=tuple(count(r, "repeats", who) for r in axes(self.repeats, who, "repeats")))


@dataclass(frozen=True)
class Roll:
    """torch.roll along per-sample `axes` (Swin's shifted windows): same shape, positions moved."""
    shifts: tuple
    axes: tuple
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = label(self, self.name)
        put(self, shifts=axes(self.shifts, who, "shifts"), axes=axes(self.axes, who, "axes"))
        if len(self.shifts) != len(self.axes):
            raise CostError(f"{who}: {len(self.shifts)} shifts for {len(self.axes)} axes")


@dataclass(frozen=True)
class Where:
    """torch.where(condition, a, b): three broadcast inputs, one select per output element."""
    name: str | None = field(default=None, kw_only=True)
    arity: ClassVar = (3, 3)


@dataclass(frozen=True)
class Ternary:
    """torch.addcmul(a, b, c, value) = a + value*b*c and addcdiv (a + value*b/c): three broadcast
    inputs (ResMLP's affine layer: beta + alpha * x)."""
    op: str
    value: float = 1.0
    name: str | None = field(default=None, kw_only=True)
    arity: ClassVar = (3, 3)

    def __post_init__(self):
        choice(self.op, ("addcmul", "addcdiv"), "ternary operation", label(self, self.name))


@dataclass(frozen=True)
class TopK:
    """torch.topk(x, k, dim) values (sort: k = the whole axis): k largest along per-sample `axis`."""
    k: int
    axis: int = -1
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = label(self, self.name)
        count(self.k, "k", who)
        axes(self.axis, who, "axis")


@dataclass(frozen=True)
class PixelShuffle:
    """nn.PixelShuffle(r): (C*r*r, H, W) -> (C, H*r, W*r); a permutation of elements."""
    upscale_factor: int
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        count(self.upscale_factor, "upscale_factor", label(self, self.name))


@dataclass(frozen=True)
class PatchMerge:
    """Swin's patch merging gather (torchvision's `_patch_merging_pad`), channels last: an (H, W, C)
    map padded with zeros to even H and W, each 2x2 neighbourhood stacked into channels in the order
    (0, 0), (1, 0), (0, 1), (1, 1): (ceil(H/2), ceil(W/2), 4C).  Values are moved, none computed."""
    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class View:
    """x.view / reshape that changes only per-sample axes start..end: they become `sizes` (one may be
    -1, what is left) and every other axis keeps its size, whatever it is (Reshape fixes them all).
    One axis split is View(a, a, sizes) (nn.Unflatten), adjacent axes merged View(a, b, (-1,))
    (torch.flatten): ShuffleNet's channel shuffle views (C, H, W) as (2, C/2, H, W) with
    View(0, 0, (2, -1)) and, after the transpose, back with View(0, 1, (-1,))."""
    start: int
    end: int
    sizes: tuple
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = label(self, self.name)
        axes((self.start, self.end), who, "start and end")
        sizes = axes(self.sizes, who, "sizes")
        if not sizes or any(s < 1 and s != -1 for s in sizes) or sizes.count(-1) > 1:
            raise CostError(f"{who}: sizes must be positive, one of them may be -1; got {self.sizes!r}")
        put(self, sizes=sizes)
