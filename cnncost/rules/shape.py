"""Shape operations (no arithmetic: flatten, reshape, permute, slice, concatenate, stack, pad, the
padded shortcut), learned tensors used directly, and reductions over axes."""
from __future__ import annotations

from cnncost import spec
from cnncost.errors import CostError
from cnncost.rules.core import UNKNOWN, Cost, Window, axis_index, channels_first, dims_text, rule, spatial_whole, whole
from cnncost.sizes import add, ceildiv, equal, exact, floordiv, is_concrete, numel_of as numel


@rule(spec.Flatten)
def flatten(layer: spec.Flatten, shape, who):
    """Axes start..end become one; when H and W of a map merge, what follows sees the whole map."""
    n = len(shape)
    start, end = axis_index(layer.start, n, who), axis_index(layer.end, n, who)
    if start > end:
        raise CostError(f"{who}: flatten start {layer.start} comes after end {layer.end}")
    out = (*shape[:start], numel(shape[start:end + 1]), *shape[end + 1:])
    window = whole((shape[-2], shape[-1])) if n >= 3 and start <= n - 2 and end == n - 1 else None
    return Cost(out, window=window)


@rule(spec.ShortcutPad)
def shortcut_pad(layer: spec.ShortcutPad, shape, who):
    """x[:, :, ::s, ::s] then zero channels up to out_channels: no parameters, no arithmetic."""
    c, h, w = channels_first(shape, 2, who, "a padded shortcut")
    if is_concrete(c) and c > layer.out_channels:
        raise CostError(f"{who}: cannot pad {c} channels down to {layer.out_channels}")
    s = layer.stride
    return Cost((layer.out_channels, ceildiv(h, s), ceildiv(w, s)), window=Window((1, 1), (s, s)))


@rule(spec.Cat)
def cat_rule(layer, shapes, who):
    """Sizes add along `axis`; every other size must agree.  No arithmetic."""
    ndim = len(shapes[0])
    if any(len(s) != ndim for s in shapes):
        raise CostError(f"{who}: cannot concatenate tensors of different ranks "
                        f"({', '.join(dims_text(s) for s in shapes)})")
    axis = axis_index(layer.axis, ndim, who)
    for s in shapes[1:]:
        if not all(equal(a, b) for i, (a, b) in enumerate(zip(s, shapes[0])) if i != axis):
            raise CostError(f"{who}: inputs differ outside axis {layer.axis} "
                            f"({', '.join(dims_text(s) for s in shapes)}); cannot concatenate")
    out = tuple(add(*[s[axis] for s in shapes]) if i == axis else d for i, d in enumerate(shapes[0]))
    return Cost(out)


@rule(spec.Stack)
def stack_rule(layer, shapes, who):
    """Equal shapes joined along a new axis.  No arithmetic."""
    for s in shapes[1:]:
        if len(s) != len(shapes[0]) or not all(equal(a, b) for a, b in zip(s, shapes[0])):
            raise CostError(f"{who}: cannot stack {', '.join(dims_text(s) for s in shapes)}")
    axis = axis_index(layer.axis, len(shapes[0]) + 1, who)
    out = list(shapes[0])
    out.insert(axis, len(shapes))
    return Cost(tuple(out))


@rule(spec.Param)
def param_rule(layer, shape, who):
    """A learned tensor: prod(shape) weights, no input, no arithmetic."""
    n = numel(layer.shape)
    return Cost(tuple(layer.shape), weights=n, work={"weights": "*".join(map(str, layer.shape)) + f" = {exact(n)}"})


@rule(spec.Reshape)
def reshape_rule(layer, shape, who):
    """Same elements, new shape; a -1 takes what is left.  Spatial order is lost unless the last two
    sizes (H, W) are kept: into features or tokens (fewer than 3 axes) the field becomes the whole
    map (as after Flatten); into new spatial axes (Swin's windows, a correlation volume viewed as
    images) no field algebra places them, so it is unknown, never a jump multiplied by map sizes."""
    total = numel(shape)
    known = numel([s for s in layer.shape if not (is_concrete(s) and s == -1)])
    out = tuple(floordiv(total, known) if is_concrete(s) and s == -1 else s for s in layer.shape)
    if any(is_concrete(s) and s < 1 and s != -1 for s in layer.shape) or not equal(numel(out), total):
        raise CostError(f"{who}: cannot reshape {dims_text(shape)} ({exact(total)} elements) "
                        f"into {dims_text(layer.shape)}")
    keeps_map = len(shape) >= 3 and len(out) >= 3 and equal(out[-1], shape[-1]) and equal(out[-2], shape[-2])
    window = None if len(shape) < 3 or keeps_map else whole((shape[-2], shape[-1])) if len(out) < 3 else UNKNOWN
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
    axis = axis_index(layer.axis, len(shape), who)
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
        stride, pad = [1, 1], [0, 0]
        stride[spatial], pad[spatial] = layer.step, -start
        window = Window((1, 1), tuple(stride), tuple(pad))
    return Cost(out, window=window)


@rule(spec.Pad)
def pad_rule(layer: spec.Pad, shape, who):
    """Each (before, after) pair, from the last axis backwards, adds to that axis; the field shifts
    by the padding before (a window of 1 with that padding)."""
    pairs = [layer.pads[i:i + 2] for i in range(0, len(layer.pads), 2)]
    if len(pairs) > len(shape):
        raise CostError(f"{who}: {len(pairs)} padding pairs for a {len(shape)}-dimensional sample")
    out = list(shape)
    before = {}
    for i, (b, a) in enumerate(pairs):
        axis = len(shape) - 1 - i
        out[axis] = shape[axis] + b + a
        if is_concrete(out[axis]) and out[axis] < 1:
            raise CostError(f"{who}: padding {b}, {a} leaves nothing of axis {axis} (size {shape[axis]})")
        before[axis] = b
    window = None
    if len(shape) >= 3 and any(before.get(a) for a in (len(shape) - 2, len(shape) - 1)):
        window = Window((1, 1), (1, 1), (before.get(len(shape) - 2, 0), before.get(len(shape) - 1, 0)))
    return Cost(tuple(out), window=window)


def _reduced(layer, shape, who) -> tuple:
    axes = sorted({axis_index(a, len(shape), who) for a in layer.axes})
    out = tuple((1 if i in axes else d) for i, d in enumerate(shape)) if layer.keepdim \
        else tuple(d for i, d in enumerate(shape) if i not in axes)
    return out, spatial_whole(shape, set(axes))


@rule(spec.Mean)
def mean_rule(layer, shape, who):
    """Mean over `axes`: (n - 1) additions and one division per output = one FLOP per input element.
    Averaging over H or W makes the field the whole map along that axis."""
    out, window = _reduced(layer, shape, who)
    n = numel(shape)
    return Cost(out, ops={"mean": n}, window=window, work={"mean": f"{exact(n)} input elements"})


@rule(spec.Reduce)
def reduce_rule(layer: spec.Reduce, shape, who):
    """A reduction over `axes`, counted per input element under category 'reduce:OP'."""
    out, window = _reduced(layer, shape, who)
    n = numel(shape)
    return Cost(out, ops={f"reduce:{layer.op}": n}, window=window, work={layer.op: f"{exact(n)} input elements"})


def _spatial_axes(shape) -> set:
    """Per-sample axes the field is tracked along (the last two of a map of rank >= 3)."""
    return {len(shape) - 2, len(shape) - 1} if len(shape) >= 3 else set()


@rule(spec.Select)
def select_rule(layer: spec.Select, shape, who):
    """The axis is removed; selecting along H or W leaves a field the (H, W) algebra cannot place."""
    axis = axis_index(layer.axis, len(shape), who)
    n = shape[axis]
    if is_concrete(n) and not -n <= layer.index < n:
        raise CostError(f"{who}: index {layer.index} is out of range for axis {layer.axis} of size {n}")
    return Cost(tuple(d for i, d in enumerate(shape) if i != axis),
                window=UNKNOWN if axis in _spatial_axes(shape) else None)


@rule(spec.Expand)
def expand_rule(layer: spec.Expand, shape, who):
    """Size-1 axes broadcast (new leading axes allowed); every expanded position reads the same
    input position, a window of stride 0 along an expanded H or W."""
    if len(layer.shape) < len(shape):
        raise CostError(f"{who}: cannot expand {dims_text(shape)} to fewer axes {dims_text(layer.shape)}")
    lead = len(layer.shape) - len(shape)
    out = list(layer.shape[:lead])
    for n, want in zip(shape, layer.shape[lead:]):
        if want == -1 or (is_concrete(n) and n == want) or equal(n, want):
            out.append(n)
        elif is_concrete(n) and n == 1:
            out.append(want)
        else:
            raise CostError(f"{who}: cannot expand {dims_text(shape)} to {dims_text(layer.shape)}")
    out = tuple(out)
    window = None
    if len(out) >= 3 and len(shape) >= 2:
        stride = tuple(0 if not equal(a, b) else 1 for a, b in zip(shape[-2:], out[-2:]))
        if stride != (1, 1):
            window = Window((1, 1), stride)
    return Cost(out, window=window)


@rule(spec.Repeat)
def repeat_rule(layer: spec.Repeat, shape, who):
    """Each axis tiled; a copy, no arithmetic.  Tiling H or W wraps positions: the field is unknown."""
    if len(layer.repeats) < len(shape):
        raise CostError(f"{who}: {len(layer.repeats)} repeats for a {len(shape)}-dimensional sample")
    lead = len(layer.repeats) - len(shape)
    out = (*layer.repeats[:lead], *(n * r for n, r in zip(shape, layer.repeats[lead:])))
    tiled = {i for i, r in enumerate(layer.repeats[lead:]) if r != 1}
    return Cost(out, window=UNKNOWN if tiled & _spatial_axes(shape) else None)


@rule(spec.Roll)
def roll_rule(layer: spec.Roll, shape, who):
    """Positions move cyclically; rolling H or W wraps them: the field is unknown."""
    rolled = {axis_index(a, len(shape), who) for a in layer.axes}
    return Cost(tuple(shape), window=UNKNOWN if rolled & _spatial_axes(shape) else None)


@rule(spec.TopK)
def topk_rule(layer: spec.TopK, shape, who):
    """The k largest along `axis`: counted as one compare per input element ('reduce:topk'); which
    positions win depends on the data, so along H or W the field is unknown."""
    axis = axis_index(layer.axis, len(shape), who)
    if is_concrete(shape[axis]) and layer.k > shape[axis]:
        raise CostError(f"{who}: k {layer.k} is larger than axis {layer.axis} of size {shape[axis]}")
    out = tuple(layer.k if i == axis else d for i, d in enumerate(shape))
    n = numel(shape)
    return Cost(out, ops={"reduce:topk": n}, window=UNKNOWN if axis in _spatial_axes(shape) else None,
                work={"topk": f"{exact(n)} input elements"})


@rule(spec.PixelShuffle)
def pixel_shuffle_rule(layer: spec.PixelShuffle, shape, who):
    """(C*r*r, H, W) -> (C, H*r, W*r) (Shi et al. 2016): output (y, x) is input (y // r, x // r),
    a window of 1 with stride 1/r centred (1/r - 1)/2 on average."""
    from fractions import Fraction
    c, h, w = channels_first(shape, 2, who, "PixelShuffle")
    r = layer.upscale_factor
    if is_concrete(c) and c % (r * r):
        raise CostError(f"{who}: {c} channels do not divide by upscale_factor^2 = {r * r}")
    step = Fraction(1, r)
    return Cost((floordiv(c, r * r), h * r, w * r), window=Window((1, 1), (step, step), ((1 - step) / 2,) * 2))


@rule(spec.View)
def view_rule(layer: spec.View, shape, who):
    """Axes start..end become `sizes` (a -1 takes what is left), the others stay; same elements, no
    arithmetic.  The field is kept while H and W are; a view of both H and W into fewer than 3 axes
    makes it the whole map, as Flatten and Reshape do; any other change of H or W (splitting W,
    merging C with H, new spatial axes) leaves it unknown."""
    n = len(shape)
    start, end = axis_index(layer.start, n, who), axis_index(layer.end, n, who)
    if start > end:
        raise CostError(f"{who}: view start {layer.start} comes after end {layer.end}")
    part = shape[start:end + 1]
    total = numel(part)
    known = numel([s for s in layer.sizes if s != -1])
    sizes = tuple(floordiv(total, known) if s == -1 else s for s in layer.sizes)
    if not equal(numel(sizes), total):
        raise CostError(f"{who}: cannot view axes {start}..{end} of {dims_text(shape)} ({exact(total)} elements) "
                        f"as {dims_text(layer.sizes)}")
    spatial = _spatial_axes(shape) & set(range(start, end + 1))
    out = (*shape[:start], *sizes, *shape[end + 1:])
    if not spatial:
        window = None
    elif len(spatial) == 2 and len(out) < 3:
        window = whole((shape[-2], shape[-1]))
    else:
        window = UNKNOWN
    return Cost(out, window=window)


@rule(spec.PatchMerge)
def patch_merge_rule(layer: spec.PatchMerge, shape, who):
    """(H, W, C) -> (ceil(H/2), ceil(W/2), 4C): zero padding to even sizes, then 2x2 neighbourhoods
    stacked into channels; no arithmetic.  Channels last, so the field algebra (which reads the last
    two axes as H and W) does not follow it: unknown."""
    if len(shape) != 3:
        raise CostError(f"{who}: patch merging needs an (H, W, C) map, got {dims_text(shape)}")
    h, w, c = shape
    return Cost((ceildiv(h, 2), ceildiv(w, 2), 4 * c), window=UNKNOWN)
