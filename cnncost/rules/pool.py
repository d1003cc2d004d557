"""Pooling and resampling in 1-3 spatial dimensions: windowed max/average pooling, adaptive
pooling, and interpolation (PyTorch's pooling docs, `AdaptiveAvgPool2d` windows, `F.interpolate`)."""
from __future__ import annotations

from fractions import Fraction

from cnncost import spec
from cnncost.errors import CostError
from cnncost.rules.core import Cost, Window, channels_first, line, rule, shown, windowed
from cnncost.sizes import ceildiv, floordiv, is_concrete, numel_of as numel


@rule(spec.PoolNd, spec.Pool1d, spec.Pool2d, spec.Pool3d)
def pool(layer: spec.PoolNd, shape, who):
    """max: prod(k) - 1 comparisons per output; avg: prod(k) - 1 additions and 1 division per output."""
    c, *spatial = channels_first(shape, layer.dims, who, "pooling")
    if layer.mode == "avg" and layer.dims == 3:   # PyTorch's avg_pool3d checks the unpadded input
        for n, k in zip(spatial, layer.kernel):
            if is_concrete(n) and n < k:
                raise CostError(f"{who}: input size {n} is smaller than the kernel {k} (3-D average pooling "
                                "pads only inputs at least as large as its kernel)")
    outs, window = windowed(layer, tuple(spatial), who, layer.ceil_mode)
    acts = shown(*outs, c)
    k = numel(layer.kernel)
    per = k - 1 if layer.mode == "max" else k
    ops = shown((*outs, c), per)
    category = "max_cmp" if layer.mode == "max" else "avg_ops"
    return Cost((c, *outs), ops={category: ops[0]}, window=window,
                work={"activations": line(acts), category: line(ops)})


def adaptive_windows(n, o: int) -> tuple:
    """(sum of window lengths, longest window) for adaptive pooling of n to o: window i is
    [floor(i*n/o), ceil((i+1)*n/o)).  Its length is ceil((r_i + n)/o) with r_i = i*n mod o, which
    takes every multiple of g = gcd(n, o) below o, so the longest is ceil((n + o - g)/o):
    n/o if o divides n, floor(n/o) + 1 if n mod o divides o, else floor(n/o) + 2."""
    if o == 1:
        return n, n
    if is_concrete(n):
        lengths = [-(-(i + 1) * n // o) - (i * n // o) for i in range(o)]
        return sum(lengths), max(lengths)
    import sympy
    lengths = [ceildiv((i + 1) * n, o) - floordiv(i * n, o) for i in range(o)]
    r = sympy.Mod(n, o)
    q = floordiv(n, o)
    divides = sympy.Or(*[sympy.Eq(r, d) for d in range(1, o) if o % d == 0])
    longest = sympy.Piecewise((q, sympy.Eq(r, 0)), (q + 1, divides), (q + 2, True))
    return sum(lengths), longest


def adaptive_window(n, o: int, longest) -> tuple:
    """(kernel, stride) of the field map: the longest window, and the stride (n - K)/(o - 1) that
    spreads o such windows from the first to the last input exactly (so the map's outputs together
    see all n inputs, upsampling included, where floor(n/o) would be 0)."""
    if o == 1:
        return n, n
    stride = (n - longest) / (o - 1) if not is_concrete(n) else Fraction(n - longest, o - 1)
    if is_concrete(stride) and stride.denominator == 1:
        stride = int(stride)
    return longest, stride


@rule(spec.AdaptivePoolNd, spec.AdaptivePool1d, spec.AdaptivePool2d, spec.AdaptivePool3d)
def adaptive_pool(layer: spec.AdaptivePoolNd, shape, who):
    """Each output reads its window: sum over windows of their sizes (per channel)."""
    c, *spatial = channels_first(shape, layer.dims, who, "adaptive pooling")
    outs = layer.output_size
    sums, longest = zip(*(adaptive_windows(n, o) for n, o in zip(spatial, outs)))
    reads = shown(*sums, c)
    acts = shown(*outs, c)
    if layer.mode == "avg":
        ops = {"adaptive_avg": reads[0], "adaptive_avg_input" + ("" if layer.dims == 2 else f"_{layer.dims}d"):
               numel(shape)}
    else:
        ops = {"adaptive_max": reads[0] - acts[0]}
    maps = [adaptive_window(n, o, k) for n, o, k in zip(spatial, outs, longest)]
    window = Window(tuple(m[0] for m in maps), tuple(m[1] for m in maps), (0,) * layer.dims, (1,) * layer.dims)
    work = {"activations": line(acts), "window reads": line(reads)}
    even = all(o == 1 or (is_concrete(n) and n % o == 0) for n, o in zip(spatial, outs))
    if not even:
        work["note"] = "receptive field: longest window, windows spread evenly over the input"
    return Cost((c, *outs), ops=ops, window=window, work=work)


#: interpolation taps per axis (bilinear reads 2 per axis, bicubic 4)
_TAPS = {"nearest": 1, "nearest-exact": 1, "linear": 2, "bilinear": 2, "trilinear": 2, "bicubic": 4}


def _source_map(n, o, align_corners, factor) -> tuple:
    """(stride, centre of output 0's inputs): a linear fit to the source positions PyTorch samples
    (upsample kernels' area_pixel_compute_source_index).  scale = n/o, or 1/scale_factor when a
    factor was given; nearest reads floor(j*scale), on average (scale-1)/2 from j*scale, the linear
    modes the taps around (j + 1/2)*scale - 1/2: both centre on j*scale + (scale-1)/2.  With
    align_corners the source is j*(n-1)/(o-1)."""
    if align_corners:
        if o == 1:
            return 1, 0
        return (Fraction(n - 1, o - 1) if is_concrete(n) else (n - 1) / (o - 1)), 0
    if factor is not None:
        scale = 1 / Fraction(factor)
    else:
        scale = Fraction(n, o) if is_concrete(n) and is_concrete(o) else n / o
    return scale, scale / 2 - Fraction(1, 2)


@rule(spec.Upsample)
def upsample(layer: spec.Upsample, shape, who):
    """Nearest: a copy per output; linear modes: taps per output (2 per axis; bicubic 4 per axis),
    each a multiply and an add (counted as 'interp_taps'); 'area' is adaptive average pooling."""
    c, *spatial = shape
    outs = layer.sizes(tuple(spatial), who)
    if layer.mode == "area":
        cls = {1: spec.AdaptivePool1d, 2: spec.AdaptivePool2d, 3: spec.AdaptivePool3d}[len(outs)]
        return adaptive_pool(cls("avg", tuple(outs)), shape, who)
    n_out = numel((c, *outs))
    taps = _TAPS[layer.mode] ** len(outs)
    mode = layer.mode.replace("-", "_")
    ops = {f"upsample_{mode}{len(outs)}d": n_out}
    if taps > 1:
        ops["interp_taps"] = taps * n_out
    factors = layer.scale_factor if isinstance(layer.scale_factor, (tuple, list)) else (layer.scale_factor,) * len(outs)
    k = _TAPS[layer.mode]
    maps = [_source_map(n, o, layer.align_corners, f if layer.size is None else None)
            for n, o, f in zip(spatial, outs, factors)]
    window = Window((k,) * len(outs), tuple(m[0] for m in maps),
                    tuple(Fraction(k - 1, 2) - m[1] for m in maps), (1,) * len(outs))
    work = {"activations": line(shown(*outs, c))}
    if taps > 1:
        work["interp_taps"] = line(shown((*outs, c), taps))
    return Cost((c, *outs), ops=ops, window=window, work=work)
