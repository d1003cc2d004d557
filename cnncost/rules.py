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
from cnncost.sizes import ceildiv, equal, exact, floordiv, is_concrete, numel_of as numel

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


# --- graph operations (the PyTorch reader's DAGs); a merge's `shape` is the tuple of its inputs' shapes ---

def _axis(axis: int, ndim: int, who: str) -> int:
    if not -ndim <= axis < ndim:
        raise CostError(f"{who}: axis {axis} is out of range for a {ndim}-dimensional sample")
    return axis % ndim


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
                text = " and ".join("x".join(str(v) for v in s) for s in shapes)
                raise CostError(f"{who}: cannot broadcast {text}")
        out.append(first)
    return tuple(reversed(out))


@rule(spec.Add)
def add_rule(layer, shapes, who):
    """out = broadcast(a, b); one addition per output element."""
    out = broadcast(shapes, who)
    n = numel(out)
    return Cost(out, ops={"add": n}, work={"add": f"{exact(n)} additions"})


@rule(spec.Mul)
def mul_rule(layer, shapes, who):
    """out = broadcast(a, b); one multiplication per output element."""
    out = broadcast(shapes, who)
    n = numel(out)
    return Cost(out, ops={"mul": n}, work={"mul": f"{exact(n)} multiplications"})


@rule(spec.Cat)
def cat_rule(layer, shapes, who):
    """Sizes add along `axis`; every other size must agree.  No arithmetic."""
    from cnncost.sizes import add
    ndim = len(shapes[0])
    if any(len(s) != ndim for s in shapes):
        raise CostError(f"{who}: cannot concatenate tensors of different ranks "
                        f"({', '.join('x'.join(map(str, s)) for s in shapes)})")
    axis = _axis(layer.axis, ndim, who)
    for s in shapes[1:]:
        if not all(equal(a, b) for i, (a, b) in enumerate(zip(s, shapes[0])) if i != axis):
            raise CostError(f"{who}: inputs differ outside axis {layer.axis} "
                            f"({', '.join('x'.join(map(str, s)) for s in shapes)}); cannot concatenate")
    out = tuple(add(*[s[axis] for s in shapes]) if i == axis else d for i, d in enumerate(shapes[0]))
    return Cost(out)


@rule(spec.Param)
def param_rule(layer, shape, who):
    """A learned tensor: prod(shape) weights, no input, no arithmetic."""
    n = numel(layer.shape)
    return Cost(tuple(layer.shape), weights=n, work={"weights": "*".join(map(str, layer.shape)) + f" = {exact(n)}"})


@rule(spec.Reshape)
def reshape_rule(layer, shape, who):
    """Same elements, new shape; a -1 takes what is left.  Spatial order is lost unless the last two
    sizes (H, W) are kept, so the field then becomes the whole map (as after Flatten)."""
    total = numel(shape)
    known = numel([s for s in layer.shape if not (is_concrete(s) and s == -1)])
    out = tuple(floordiv(total, known) if is_concrete(s) and s == -1 else s for s in layer.shape)
    if any(is_concrete(s) and s < 1 and s != -1 for s in layer.shape) or not equal(numel(out), total):
        raise CostError(f"{who}: cannot reshape {'x'.join(map(str, shape))} ({exact(total)} elements) "
                        f"into {'x'.join(map(str, layer.shape))}")
    keeps_map = len(shape) >= 3 and len(out) >= 3 and equal(out[-1], shape[-1]) and equal(out[-2], shape[-2])
    window = None if len(shape) < 3 or keeps_map else Window((shape[-2], shape[-1]), (shape[-2], shape[-1]))
    return Cost(out, window=window)


@rule(spec.Permute)
def permute_rule(layer, shape, who):
    """Reorders dimensions; no arithmetic.  The receptive field is kept (spatial ops are assumed to
    run with H, W last, as ConvNeXt's channels-last Linear layers touch only channels)."""
    n = len(shape)
    dims = layer.dims
    if len(dims) != n or any(not -n <= d < n for d in dims) or sorted(d % n for d in dims) != list(range(n)):
        raise CostError(f"{who}: dims {layer.dims} are not a permutation of a {len(shape)}-dimensional sample")
    return Cost(tuple(shape[d % n] for d in layer.dims))


@rule(spec.Slice)
def slice_rule(layer, shape, who):
    """len(range(start, stop, step)) along `axis` (Python slice semantics); strided spatial slices
    subsample like a 1x1 window with stride `step` starting at `start`."""
    axis = _axis(layer.axis, len(shape), who)
    n = shape[axis]
    if not is_concrete(n):
        if layer.start < 0 or (layer.stop is not None and layer.stop < 0):
            raise CostError(f"{who}: negative slice bounds need a numeric size")
        stop = n if layer.stop is None else layer.stop
        size = ceildiv(stop - layer.start, layer.step)
        start = layer.start
    else:
        start, stop, step = slice(layer.start, layer.stop, layer.step).indices(n)
        size = len(range(start, stop, step))
    if is_concrete(size) and size < 1:
        raise CostError(f"{who}: slice [{layer.start}:{layer.stop}:{layer.step}] of axis {layer.axis} "
                        f"(size {n}) is empty")
    out = tuple(size if i == axis else d for i, d in enumerate(shape))
    window = None
    if len(shape) >= 3 and axis >= len(shape) - 2:
        spatial = axis - (len(shape) - 2)
        stride = [1, 1]
        pad = [0, 0]
        stride[spatial], pad[spatial] = layer.step, -start
        window = Window((1, 1), tuple(stride), tuple(pad))
    return Cost(out, window=window)


@rule(spec.Mean)
def mean_rule(layer, shape, who):
    """Mean over `axes`: (n - 1) additions and one division per output = one FLOP per input element.
    Averaging over H or W makes the field the whole map along that axis."""
    axes = sorted({_axis(a, len(shape), who) for a in layer.axes})
    out = tuple((1 if i in axes else d) for i, d in enumerate(shape)) if layer.keepdim \
        else tuple(d for i, d in enumerate(shape) if i not in axes)
    window = None
    if len(shape) >= 3 and any(a >= len(shape) - 2 for a in axes):
        h, w = shape[-2], shape[-1]
        kh, kw = (h if len(shape) - 2 in axes else 1), (w if len(shape) - 1 in axes else 1)
        window = Window((kh, kw), (kh, kw))
    n = numel(shape)
    return Cost(out, ops={"mean": n}, window=window, work={"mean": f"{exact(n)} input elements"})


@rule(spec.LayerNorm)
def layernorm_rule(layer, shape, who):
    """Normalise over the last len(shape) dimensions; weight and bias of prod(shape) each if affine."""
    k = len(layer.shape)
    if len(shape) < k or not all(equal(a, b) for a, b in zip(shape[-k:], layer.shape)):
        raise CostError(f"{who}: LayerNorm over {'x'.join(map(str, layer.shape))} does not match the input's "
                        f"last sizes ({'x'.join(map(str, shape))})")
    m = numel(layer.shape)
    weights = m if layer.affine else 0
    biases = m if layer.affine and layer.bias else 0
    n = numel(shape)
    return Cost(tuple(shape), weights, biases, ops={"ln_affine" if layer.affine else "ln_plain": n},
                work={"weights": f"{m} (gamma)", "biases": f"{biases} (beta)"} if layer.affine else {})


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
            spec.ShortcutPad: "shortcut", spec.Add: "add", spec.Mul: "mul", spec.Cat: "cat",
            spec.Param: "param", spec.Reshape: "reshape", spec.Permute: "permute", spec.Slice: "slice",
            spec.Mean: "mean", spec.LayerNorm: "layernorm"}.get(type(layer), type(layer).__name__.lower())
