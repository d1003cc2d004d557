"""The architecture spec: plain, frozen data that the calculator and the PyTorch builder both read.

A network is a `Sequence` of layers and containers.  Containers are `Sequence` (one after the
other), `Concat` (parallel branches joined along channels, as in an inception module),
`Residual` (body(x) + shortcut(x), the shortcut being the identity or a projection) and `Graph`
(the PyTorch reader's DAGs: `Node`s naming their inputs, merged by `Add`, `Mul` or `Cat`, with the
shape ops real models use: `Param`, `Reshape`, `Permute`, `Slice`, `Mean`, `LayerNorm`).

Validation here is only what a layer knows by itself (a kernel of 0, channels that do not split
into groups).  What needs the input shape (a kernel larger than its padded input, input channels
not divisible by groups) is checked by the rules in `cnncost.rules`.  Every failure raises
`CostError` with a one-line message that the CLI prints as it is.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from cnncost.errors import CostError

Pair = tuple[int, int]
Padding = Union[int, tuple[int, int], str]

POOL_MODES = ("max", "avg")
#: activation functions the calculator and the builder both know (docs/conventions.md gives their FLOPs)
ACTIVATIONS = ("relu", "relu6", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "silu",
               "hardswish", "hardsigmoid", "softmax", "identity")


def _label(obj, name: str | None) -> str:
    return name or type(obj).__name__


def _ints(value, what: str, who: str, minimum: int) -> Pair:
    """Normalise an int or an (h, w) pair of ints, each >= minimum."""
    pair = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(pair) != 2:
        raise CostError(f"{who}: {what} must be an integer or a pair of integers, got {value!r}")
    for v in pair:
        if isinstance(v, bool) or not isinstance(v, int):
            raise CostError(f"{who}: {what} must be an integer, got {v!r}")
        if v < minimum:
            kind = "positive" if minimum == 1 else "non-negative"
            raise CostError(f"{who}: {what} must be {kind}, got {v}")
    return pair


def _count(value, what: str, who: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CostError(f"{who}: {what} must be a positive integer, got {value!r}")
    return value


def _set(obj, **values):
    for key, value in values.items():
        object.__setattr__(obj, key, value)


@dataclass(frozen=True)
class Conv2d:
    """2-D convolution; `padding` is an int, an (h, w) pair, 'valid' or 'same' (stride 1 only, as in PyTorch)."""
    out_channels: int
    kernel: int | Pair
    stride: int | Pair = 1
    padding: Padding = 0
    dilation: int | Pair = 1
    groups: int = 1
    bias: bool = True
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = _label(self, self.name)
        _count(self.out_channels, "out_channels", who)
        _count(self.groups, "groups", who)
        kernel = _ints(self.kernel, "kernel", who, 1)
        stride = _ints(self.stride, "stride", who, 1)
        dilation = _ints(self.dilation, "dilation", who, 1)
        if self.out_channels % self.groups:
            raise CostError(f"{who}: out_channels {self.out_channels} is not divisible by groups {self.groups}")
        if isinstance(self.padding, str) and self.padding not in ("same", "valid"):
            raise CostError(f"{who}: padding must be an integer, a pair, 'same' or 'valid', got {self.padding!r}")
        if self.padding == "same" and stride != (1, 1):
            raise CostError(f"{who}: padding 'same' needs stride 1, got stride {self.stride}")
        if not isinstance(self.padding, str):
            _ints(self.padding, "padding", who, 0)
        _set(self, kernel=kernel, stride=stride, dilation=dilation)

    @property
    def pads(self) -> tuple[Pair, Pair]:
        """((top, bottom), (left, right)); 'same' splits d*(k-1) with the extra pixel after, as PyTorch does."""
        if self.padding == "valid":
            return (0, 0), (0, 0)
        if self.padding == "same":
            total = [d * (k - 1) for d, k in zip(self.dilation, self.kernel)]
            return tuple((t // 2, t - t // 2) for t in total)
        p = _ints(self.padding, "padding", _label(self, self.name), 0)
        return (p[0], p[0]), (p[1], p[1])


@dataclass(frozen=True)
class Pool2d:
    """Max or average pooling; `stride` defaults to the kernel, as in PyTorch."""
    mode: str
    kernel: int | Pair
    stride: int | Pair | None = None
    padding: int | Pair = 0
    ceil_mode: bool = False
    count_include_pad: bool = True
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = _label(self, self.name)
        if self.mode not in POOL_MODES:
            raise CostError(f"{who}: pooling mode must be one of {', '.join(POOL_MODES)}, got {self.mode!r}")
        kernel = _ints(self.kernel, "kernel", who, 1)
        stride = _ints(kernel if self.stride is None else self.stride, "stride", who, 1)
        padding = _ints(self.padding, "padding", who, 0)
        for p, k in zip(padding, kernel):
            if 2 * p > k:
                raise CostError(f"{who}: padding {p} is more than half the kernel {k}")
        _set(self, kernel=kernel, stride=stride, padding=padding)

    @property
    def pads(self) -> tuple[Pair, Pair]:
        return (self.padding[0], self.padding[0]), (self.padding[1], self.padding[1])

    dilation = (1, 1)


def MaxPool2d(kernel, stride=None, padding=0, ceil_mode=False, *, name=None) -> Pool2d:
    return Pool2d("max", kernel, stride, padding, ceil_mode, name=name)


def AvgPool2d(kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True, *, name=None) -> Pool2d:
    return Pool2d("avg", kernel, stride, padding, ceil_mode, count_include_pad, name=name)


@dataclass(frozen=True)
class AdaptivePool2d:
    """Adaptive pooling to a fixed output size; window i spans [floor(i*H/o), ceil((i+1)*H/o))."""
    mode: str
    output_size: int | Pair = 1
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = _label(self, self.name)
        if self.mode not in POOL_MODES:
            raise CostError(f"{who}: pooling mode must be one of {', '.join(POOL_MODES)}, got {self.mode!r}")
        _set(self, output_size=_ints(self.output_size, "output_size", who, 1))


def GlobalPool(mode: str = "avg", *, name=None) -> AdaptivePool2d:
    return AdaptivePool2d(mode, 1, name=name)


@dataclass(frozen=True)
class Linear:
    """Fully connected layer over the last dimension."""
    out_features: int
    bias: bool = True
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _count(self.out_features, "out_features", _label(self, self.name))


@dataclass(frozen=True)
class BatchNorm:
    """Batch normalisation over dimension 0 of a sample (channels, or features after Linear)."""
    affine: bool = True
    eps: float = 1e-5
    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class LRN:
    """Local response normalisation across channels (Krizhevsky et al. 2012, section 3.3)."""
    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 2.0
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _count(self.size, "size", _label(self, self.name))


@dataclass(frozen=True)
class Activation:
    fn: str = "relu"
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        if self.fn not in ACTIVATIONS:
            raise CostError(f"{_label(self, self.name)}: unknown activation {self.fn!r}; known: {', '.join(ACTIVATIONS)}")


@dataclass(frozen=True)
class Dropout:
    p: float = 0.5
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        if not 0 <= self.p < 1:
            raise CostError(f"{_label(self, self.name)}: dropout probability must be in [0, 1), got {self.p}")


@dataclass(frozen=True)
class Flatten:
    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Scale:
    """Multiply by a constant (DavidNet scales its logits by 0.125)."""
    factor: float
    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class ShortcutPad:
    """Parameter-free shortcut of He et al. 2016 option A: subsample by `stride`, zero-pad channels."""
    out_channels: int
    stride: int = 2
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = _label(self, self.name)
        _count(self.out_channels, "out_channels", who)
        _count(self.stride, "stride", who)


@dataclass(frozen=True)
class Sequence:
    layers: tuple
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _set(self, layers=tuple(self.layers))
        if not self.layers:
            raise CostError(f"{_label(self, self.name)}: a sequence needs at least one layer")


@dataclass(frozen=True)
class Concat:
    """Parallel branches on the same input, concatenated along channels."""
    branches: tuple
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _set(self, branches=tuple(self.branches))
        if len(self.branches) < 2:
            raise CostError(f"{_label(self, self.name)}: a concatenation needs at least two branches")


@dataclass(frozen=True)
class Residual:
    """body(x) + shortcut(x); `shortcut=None` is the identity."""
    body: object
    shortcut: object = None
    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Opaque:
    """An operation no rule knows (from the PyTorch reader): its cost is unknown, never zero.
    `out_shape` is the per-sample output shape the reader observed; None keeps the input shape."""
    op: str
    out_shape: tuple | None = None
    name: str | None = field(default=None, kw_only=True)


# --- Graph: the general container the PyTorch reader produces (DAGs of real models) -----------------

def _axes(value, who: str, what: str) -> tuple:
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    for a in items:
        if isinstance(a, bool) or not isinstance(a, int):
            raise CostError(f"{who}: {what} must be integers, got {value!r}")
    return items


@dataclass(frozen=True)
class Add:
    """a + b with broadcasting (residual sums); merges two inputs."""
    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Mul:
    """a * b with broadcasting (squeeze-and-excitation, layer scale); merges two inputs."""
    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Cat:
    """Concatenation of two or more inputs along `axis` of the per-sample shape (0 = channels)."""
    axis: int = 0
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _axes(self.axis, _label(self, self.name), "axis")


@dataclass(frozen=True)
class Param:
    """A learned tensor used directly (layer scale, a bias added by hand): no input, `shape` elements
    of parameters; broadcasts against the per-sample shape from the right."""
    shape: tuple
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = _label(self, self.name)
        shape = _axes(self.shape, who, "parameter sizes")
        if any(s < 1 for s in shape):
            raise CostError(f"{who}: parameter sizes must be positive, got {self.shape!r}")
        _set(self, shape=shape)


@dataclass(frozen=True)
class Reshape:
    """View the per-sample tensor as `shape` (ints; one may be -1), the batch dimension kept."""
    shape: tuple
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = _label(self, self.name)
        shape = tuple(self.shape) if isinstance(self.shape, (tuple, list)) else (self.shape,)
        if sum(1 for s in shape if isinstance(s, int) and s == -1) > 1:
            raise CostError(f"{who}: at most one size may be -1, got {shape!r}")
        _set(self, shape=shape)


@dataclass(frozen=True)
class Permute:
    """Reorder the per-sample dimensions (`dims` is a permutation of 0..n-1)."""
    dims: tuple
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _set(self, dims=_axes(self.dims, _label(self, self.name), "dims"))


@dataclass(frozen=True)
class Slice:
    """x[start:stop:step] along per-sample `axis` (torch.chunk / split pieces, strided subsampling)."""
    axis: int
    start: int = 0
    stop: int | None = None
    step: int = 1
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = _label(self, self.name)
        _axes(self.axis, who, "axis")
        _count(self.step, "step", who)


@dataclass(frozen=True)
class Mean:
    """Mean over per-sample `axes` (x.mean((2, 3)) in PyTorch is axes (1, 2) here)."""
    axes: tuple
    keepdim: bool = False
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _set(self, axes=_axes(self.axes, _label(self, self.name), "axes"))


@dataclass(frozen=True)
class LayerNorm:
    """Layer normalisation over the last len(shape) dimensions, which must equal `shape`."""
    shape: tuple
    eps: float = 1e-5
    affine: bool = True
    bias: bool = True
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        who = _label(self, self.name)
        shape = _axes(self.shape, who, "normalized sizes")
        if not shape or any(s < 1 for s in shape):
            raise CostError(f"{who}: normalized sizes must be positive, got {self.shape!r}")
        _set(self, shape=shape)


#: operations that take several inputs (a Node lists them in order)
MERGES = (Add, Mul, Cat)
#: graph input name: a Node whose inputs include it reads the network's input
INPUT = "input"


@dataclass(frozen=True)
class Node:
    """One step of a Graph: `op` (a layer, a container, a merge or a Param) applied to the outputs of
    earlier nodes named in `inputs` (or INPUT).  `name` is the row name and may be a dotted module
    path; a module called again is `path#2`, `path#3`...  `shares` names a node whose parameters this
    one reuses (they are not counted twice)."""
    name: str
    op: object
    inputs: tuple = (INPUT,)
    shares: str | None = None

    def __post_init__(self):
        inputs = (self.inputs,) if isinstance(self.inputs, str) else tuple(self.inputs)
        _set(self, inputs=inputs)
        if not self.name or self.name == INPUT:
            raise CostError(f"graph node name {self.name!r} is empty or reserved")
        if isinstance(self.op, Param):
            if inputs:
                raise CostError(f"{self.name}: a parameter node takes no inputs")
        elif isinstance(self.op, MERGES):
            if len(inputs) < 2 or (len(inputs) != 2 and not isinstance(self.op, Cat)):
                raise CostError(f"{self.name}: {type(self.op).__name__} needs "
                                f"{'two or more' if isinstance(self.op, Cat) else 'two'} inputs, got {len(inputs)}")
        elif len(inputs) != 1:
            raise CostError(f"{self.name}: {type(self.op).__name__} takes one input, got {len(inputs)}")


@dataclass(frozen=True)
class Graph:
    """A directed acyclic graph of Nodes in execution order; `output` names the node whose result
    the network returns.  The walk and the builder both run the nodes in this order."""
    nodes: tuple
    output: str
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _set(self, nodes=tuple(self.nodes))
        who = _label(self, self.name)
        if not self.nodes:
            raise CostError(f"{who}: a graph needs at least one node")
        seen = {INPUT}
        for n in self.nodes:
            if n.name in seen:
                raise CostError(f"{who}: node name {n.name!r} is used twice")
            for i in n.inputs:
                if i not in seen:
                    raise CostError(f"{who}: node {n.name!r} reads {i!r}, which is not an earlier node")
            if n.shares is not None and n.shares not in seen:
                raise CostError(f"{who}: node {n.name!r} shares parameters with unknown node {n.shares!r}")
            seen.add(n.name)
        if self.output not in seen:
            raise CostError(f"{who}: output {self.output!r} is not a node")


CONTAINERS = (Sequence, Concat, Residual, Graph)


def seq(*layers, name: str | None = None) -> Sequence:
    """Sequence(layers) without the tuple: seq(Conv2d(...), Activation(), ...)."""
    return Sequence(layers, name=name)
