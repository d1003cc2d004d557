"""The rule machinery: `Cost` (what a rule returns), `Window` (how it maps the receptive field),
the registry keyed by spec type, and the arithmetic helpers the family modules share."""
from __future__ import annotations

from dataclasses import dataclass, field

from cnncost.errors import CostError
from cnncost.sizes import ceildiv, equal, exact, floordiv, is_concrete


@dataclass(frozen=True)
class Window:
    """How a layer maps the receptive field, per spatial axis (last axis last): kernel, stride,
    padding before, dilation.  The walk applies the last two axes to (H, W); a 1-axis window acts
    on W.  Strides may be fractions (upsampling).  `unknown` marks an op whose window is not known:
    the field after it is unknown ('?'), never passed through."""
    kernel: tuple
    stride: tuple
    pad: tuple = (0, 0)
    dilation: tuple = (1, 1)
    unknown: bool = False


#: the window of an op that mixes positions in a way the field algebra does not describe
UNKNOWN = Window((), (), (), (), unknown=True)


def whole(sizes: tuple) -> Window:
    """A window covering every position of `sizes` (global pooling, flattening the map)."""
    return Window(tuple(sizes), tuple(sizes), (0,) * len(sizes), (1,) * len(sizes))


@dataclass(frozen=True)
class Cost:
    out: tuple
    weights: object = 0
    biases: object = 0
    macs: object = 0
    ops: dict = field(default_factory=dict)
    window: Window | None = None
    work: dict = field(default_factory=dict)


RULES: dict[type, callable] = {}


def rule(*kinds: type):
    def register(fn):
        for kind in kinds:
            RULES[kind] = fn
        return fn
    return register


def shown(*factors) -> tuple:
    """Multiply factors and write the product as a person would: shown((3, 3, 64), 128) -> (73728, '(3*3*64)*128')."""
    value, parts = 1, []
    for f in factors:
        if isinstance(f, tuple):
            sub, text = shown(*f)
            value *= sub
            parts.append(f"({text})" if len(f) > 1 else text)
        else:
            value *= f
            parts.append(_factor(f))
    return value, "*".join(parts)


def _factor(x) -> str:
    text = str(x)
    return text if type(x) is int or is_concrete(x) or text.isidentifier() else f"({text})"


def line(calc: tuple) -> str:
    value, text = calc
    return f"{text} = {exact(value)}" if text != exact(value) else text


def dims_text(shape) -> str:
    return "x".join(str(s) for s in shape)


def channels_first(shape, dims: int, who: str, kind: str) -> tuple:
    """(C, *spatial) with `dims` spatial axes, or a one-line error naming what was given."""
    if len(shape) != dims + 1:
        want = {1: "CxL", 2: "CxHxW", 3: "CxDxHxW"}[dims]
        got = f"a flat input of {shape[0]} features" if len(shape) == 1 else f"a {dims_text(shape)} input"
        raise CostError(f"{who}: {kind} needs a {want} input, got {got}")
    return shape


def axis_index(axis: int, ndim: int, who: str) -> int:
    if not -ndim <= axis < ndim:
        raise CostError(f"{who}: axis {axis} is out of range for a {ndim}-dimensional sample")
    return axis % ndim


def out_size(n, kernel: int, stride: int, pad_before: int, pad_after: int, dilation: int,
             who: str, axis: str, ceil_mode: bool = False):
    """floor((n + pads - d*(k-1) - 1) / s) + 1 (PyTorch's Conv2d/MaxPool2d docs); ceil for ceil_mode,
    dropping a last window that would start in the right padding, as PyTorch's pooling_output_shape
    does.  That drop needs (o-1)*s >= n + pad_before with (o-1)*s <= n + pads - span + s - 1, so it
    can only happen when pad_after + s > span: otherwise the ceiling form is exact (no Piecewise)."""
    span = dilation * (kernel - 1) + 1
    padded = n + pad_before + pad_after

    def too_large():
        dilated = f" (dilated to {span})" if dilation > 1 else ""
        return CostError(f"{who}: kernel {kernel}{dilated} is larger than the padded input {axis} {padded}")
    if is_concrete(padded) and padded < span and not ceil_mode:
        raise too_large()
    if not ceil_mode:
        return floordiv(padded - span, stride) + 1
    o = ceildiv(padded - span, stride) + 1
    if is_concrete(o):
        # ceil mode lets the last window hang past the input (even a window longer than it, as in
        # PyTorch's pooling_output_shape) while at least one output remains
        o = o - 1 if (o - 1) * stride >= n + pad_before else o
        if o < 1:
            raise too_large()
        return o
    if pad_after + stride <= span:  # the correction can never apply
        return o
    import sympy
    return sympy.Piecewise((o - 1, (o - 1) * stride >= n + pad_before), (o, True))


def windowed(layer, spatial: tuple, who: str, ceil_mode: bool = False) -> tuple:
    """Output sizes and the Window of a conv or pooling layer over `spatial` input sizes."""
    names = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}[len(spatial)]
    outs = tuple(out_size(n, k, s, pb, pa, d, who, a, ceil_mode) for n, k, s, (pb, pa), d, a in
                 zip(spatial, layer.kernel, layer.stride, layer.pads, layer.dilation, names))
    window = Window(tuple(layer.kernel), tuple(layer.stride), tuple(p[0] for p in layer.pads), tuple(layer.dilation))
    return outs, window


def broadcast(shapes, who: str) -> tuple:
    """NumPy/PyTorch broadcasting of per-sample shapes, aligned from the right; a size-1 dimension
    stretches; leading dimensions beyond the longest sample shape are dropped if 1 (they broadcast
    over the batch)."""
    n = max(len(s) for s in shapes)
    out = []
    for i in range(1, n + 1):
        sizes = [s[-i] for s in shapes if len(s) >= i]
        big = [x for x in sizes if not (is_concrete(x) and x == 1)]
        first = big[0] if big else 1
        for x in big[1:]:
            if not equal(x, first):
                text = " and ".join(dims_text(s) for s in shapes)
                raise CostError(f"{who}: cannot broadcast {text}")
        out.append(first)
    return tuple(reversed(out))


def spatial_whole(shape, axes: set) -> Window | None:
    """The window of an op that reads every position along per-sample `axes` (a mean, a softmax or a
    norm over them): whole along H and/or W for a sample of rank >= 3, else None (a rank-2 sample
    may be (N, C) tokens, whose last axis is not spatial)."""
    n = len(shape)
    if n < 3:
        return None
    last = [n - 2, n - 1]
    if not any(a in axes for a in last):
        return None
    sizes = tuple(shape[a] if a in axes else 1 for a in last)
    return whole(sizes)
