"""Per-layer cost rules: one small function per layer kind, registered by type.

A rule maps (layer, input shape per sample, display name) to a `Cost` for one sample: the output
shape, weights and biases apart, multiply-accumulates, the non-MAC work counted by category (the
convention in `cnncost.conventions` gives each category its FLOPs), how the layer maps the
receptive field, and the arithmetic it did as text (`--show-work`).  Shapes are (C, H, W) for
feature maps and (F,) for flat vectors; sizes are ints or sympy expressions (`cnncost.sizes`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cnncost import spec
from cnncost.errors import CostError
from cnncost.sizes import ceildiv, exact, floordiv, is_concrete, numel_of as numel

Pair = tuple


@dataclass(frozen=True)
class Window:
    """How a layer maps the receptive field, per axis (h, w): kernel, stride, padding before, dilation."""
    kernel: Pair
    stride: Pair
    pad: Pair = (0, 0)
    dilation: Pair = (1, 1)


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


def rule(kind: type):
    def register(fn):
        RULES[kind] = fn
        return fn
    return register


def shown(*factors) -> tuple:
    """Multiply factors and write the product as a person would: shown((3, 3, 64), 128) -> (73728, '(3*3*64)*128')."""
    value, parts = 1, []
    for f in factors:
        if isinstance(f, tuple):
            sub, text = shown(*f)
            value, parts = value * sub, parts + [f"({text})" if len(f) > 1 else text]
        else:
            value, parts = value * f, parts + [_factor(f)]
    return value, "*".join(parts)


def _factor(x) -> str:
    text = str(x)
    return text if is_concrete(x) or text.isidentifier() else f"({text})"


def _line(calc: tuple) -> str:
    value, text = calc
    return f"{text} = {exact(value)}" if text != exact(value) else text


def _chw(shape, who: str, kind: str) -> tuple:
    if len(shape) != 3:
        raise CostError(f"{who}: {kind} needs a CxHxW input, got a flat input of {shape[0]} features")
    return shape


def out_size(n, kernel: int, stride: int, pad_before: int, pad_after: int, dilation: int,
             who: str, axis: str, ceil_mode: bool = False):
    """floor((n + pads - d*(k-1) - 1) / s) + 1 (PyTorch's Conv2d/MaxPool2d docs); ceil for ceil_mode,
    dropping a last window that would start in the right padding, as PyTorch does."""
    span = dilation * (kernel - 1) + 1
    padded = n + pad_before + pad_after
    if is_concrete(padded) and padded < span:
        dilated = f" (dilated to {span})" if dilation > 1 else ""
        raise CostError(f"{who}: kernel {kernel}{dilated} is larger than the padded input {axis} {padded}")
    if not ceil_mode:
        return floordiv(padded - span, stride) + 1
    o = ceildiv(padded - span, stride) + 1
    if is_concrete(o):
        return o - 1 if (o - 1) * stride >= n + pad_before else o
    if pad_before == 0 and span >= stride:  # the correction can never apply
        return o
    import sympy
    return sympy.Piecewise((o - 1, (o - 1) * stride >= n + pad_before), (o, True))


def _spatial(layer, h, w, who, ceil_mode=False):
    (pt, pb), (pl, pr) = layer.pads
    (kh, kw), (sh, sw), (dh, dw) = layer.kernel, layer.stride, layer.dilation
    oh = out_size(h, kh, sh, pt, pb, dh, who, "height", ceil_mode)
    ow = out_size(w, kw, sw, pl, pr, dw, who, "width", ceil_mode)
    return oh, ow, Window((kh, kw), (sh, sw), (pt, pl), (dh, dw))


@rule(spec.Conv2d)
def conv2d(layer: spec.Conv2d, shape, who):
    """weights = (kh*kw*C_in/g)*C_out; MACs = (H_out*W_out*C_out)*(kh*kw*C_in/g)."""
    c, h, w = _chw(shape, who, "Conv2d")
    g = layer.groups
    if is_concrete(c) and c % g:
        raise CostError(f"{who}: input channels {c} are not divisible by groups {g}")
    oh, ow, window = _spatial(layer, h, w, who)
    kh, kw = layer.kernel
    cin = c if g == 1 else floordiv(c, g)
    cout = layer.out_channels
    weights = shown((kh, kw, cin), cout)
    macs = shown((oh, ow, cout), (kh, kw, cin))
    acts = shown(oh, ow, cout)
    work = {"weights": _line(weights), "activations": _line(acts), "macs": _line(macs)}
    biases, ops = 0, {}
    if layer.bias:
        biases, ops["bias"] = cout, acts[0]
        work["biases"] = f"{cout}"
    return Cost((cout, oh, ow), weights[0], biases, macs[0], ops, window, work)


@rule(spec.Pool2d)
def pool2d(layer: spec.Pool2d, shape, who):
    """max: k*k - 1 comparisons per output; avg: k*k - 1 additions and 1 division per output."""
    c, h, w = _chw(shape, who, "pooling")
    oh, ow, window = _spatial(layer, h, w, who, layer.ceil_mode)
    kh, kw = layer.kernel
    acts = shown(oh, ow, c)
    per = kh * kw - 1 if layer.mode == "max" else kh * kw
    ops = shown((oh, ow, c), per)
    category = "max_cmp" if layer.mode == "max" else "avg_ops"
    return Cost((c, oh, ow), ops={category: ops[0]}, window=window,
                work={"activations": _line(acts), category: _line(ops)})


def _adaptive_windows(n, o: int):
    """(sum of window lengths, longest window) for adaptive pooling of n to o:
    window i is [floor(i*n/o), ceil((i+1)*n/o)) (PyTorch's AdaptiveAvgPool2d)."""
    if o == 1:
        return n, n
    if is_concrete(n):
        lengths = [-(-(i + 1) * n // o) - (i * n // o) for i in range(o)]
        return sum(lengths), max(lengths)
    lengths = [ceildiv((i + 1) * n, o) - floordiv(i * n, o) for i in range(o)]
    return sum(lengths), ceildiv(n, o) + 1


@rule(spec.AdaptivePool2d)
def adaptive_pool2d(layer: spec.AdaptivePool2d, shape, who):
    """Each output reads its window: sum over windows of their sizes (per channel)."""
    c, h, w = _chw(shape, who, "adaptive pooling")
    (oh, ow) = layer.output_size
    (sum_h, max_h), (sum_w, max_w) = _adaptive_windows(h, oh), _adaptive_windows(w, ow)
    reads = shown(sum_h, sum_w, c)
    acts = shown(oh, ow, c)
    if layer.mode == "avg":
        ops = {"adaptive_avg": reads[0], "adaptive_avg_input": numel(shape)}
    else:
        ops = {"adaptive_max": reads[0] - acts[0]}
    exact_windows = (oh == 1 or (is_concrete(h) and h % oh == 0)) and (ow == 1 or (is_concrete(w) and w % ow == 0))
    stride = (floordiv(h, oh), floordiv(w, ow))
    window = Window((max_h, max_w), stride)
    note = "" if exact_windows else "receptive field: longest window, uneven windows"
    work = {"activations": _line(acts), "window reads": _line(reads)}
    if note:
        work["note"] = note
    return Cost((c, oh, ow), ops=ops, window=window, work=work)


@rule(spec.Linear)
def linear(layer: spec.Linear, shape, who):
    """weights = F_in*F_out over the last dimension; MACs = (leading dims)*F_in*F_out."""
    *lead, f = shape
    out = (*lead, layer.out_features)
    weights = shown(f, layer.out_features)
    macs = shown(*lead, f, layer.out_features) if lead else weights
    work = {"weights": _line(weights), "macs": _line(macs), "activations": _line(shown(*out))}
    biases, ops = 0, {}
    if layer.bias:
        biases, ops["bias"] = layer.out_features, numel(out)
        work["biases"] = f"{layer.out_features}"
    return Cost(out, weights[0], biases, macs[0], ops, work=work)


@rule(spec.BatchNorm)
def batchnorm(layer: spec.BatchNorm, shape, who):
    """gamma (weight) and beta (bias) per channel; inference folds to one multiply-add per element."""
    c = shape[0]
    n = numel(shape)
    weights, biases = (c, c) if layer.affine else (0, 0)
    return Cost(shape, weights, biases, ops={"bn_affine" if layer.affine else "bn_plain": n},
                work={"weights": f"{c} (gamma)", "biases": f"{c} (beta)"} if layer.affine else {})


@rule(spec.LRN)
def lrn(layer: spec.LRN, shape, who):
    """b = a / (k + alpha/n * sum of n squares)^beta: n squares, n-1 adds, then 4 ops -> 2n+3 per element."""
    per = 2 * layer.size + 3
    ops = shown(*shape, per)
    return Cost(shape, ops={"lrn": ops[0]}, work={"lrn": _line(ops)})


@rule(spec.Activation)
def activation(layer: spec.Activation, shape, who):
    return Cost(shape, ops={f"act:{layer.fn}": numel(shape)})


@rule(spec.Dropout)
def dropout(layer, shape, who):
    """Identity at inference (inverted dropout scales during training)."""
    return Cost(shape)


@rule(spec.Scale)
def scale(layer, shape, who):
    return Cost(shape, ops={"scale": numel(shape)})


@rule(spec.Flatten)
def flatten(layer, shape, who):
    """(C, H, W) -> (C*H*W,); whatever follows sees the whole map."""
    window = Window((shape[1], shape[2]), (shape[1], shape[2])) if len(shape) == 3 else None
    return Cost((numel(shape),), window=window)


@rule(spec.ShortcutPad)
def shortcut_pad(layer: spec.ShortcutPad, shape, who):
    """x[:, :, ::s, ::s] then zero channels up to out_channels: no parameters, no arithmetic."""
    c, h, w = _chw(shape, who, "a padded shortcut")
    if is_concrete(c) and c > layer.out_channels:
        raise CostError(f"{who}: cannot pad {c} channels down to {layer.out_channels}")
    s = layer.stride
    return Cost((layer.out_channels, ceildiv(h, s), ceildiv(w, s)), window=Window((1, 1), (s, s)))


def cost(layer, shape, who: str) -> Cost:
    try:
        fn = RULES[type(layer)]
    except KeyError:
        raise CostError(f"{who}: no cost rule for {type(layer).__name__}") from None
    return fn(layer, shape, who)


def kind(layer) -> str:
    """The short kind name shown in tables and used for automatic layer names."""
    if isinstance(layer, spec.Pool2d):
        return f"{layer.mode}pool"
    if isinstance(layer, spec.AdaptivePool2d):
        return f"adaptive_{layer.mode}pool"
    if isinstance(layer, spec.Activation):
        return layer.fn
    return {spec.Conv2d: "conv", spec.Linear: "fc", spec.BatchNorm: "bn", spec.LRN: "lrn",
            spec.Dropout: "dropout", spec.Flatten: "flatten", spec.Scale: "scale",
            spec.ShortcutPad: "shortcut"}.get(type(layer), type(layer).__name__.lower())
