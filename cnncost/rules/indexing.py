"""Value-dependent operations (`cnncost.spec.indexing`): gathers move values and compute none;
nms and unique compute an amount the values decide (category 'data:OP': unknown where a
convention would count it); grid_sample interpolates at the grid's positions; unfold copies
windows; a constant costs nothing."""
from __future__ import annotations

from cnncost import spec
from cnncost.errors import CostError
from cnncost.rules.core import UNKNOWN, Cost, dims_text, line, out_size, rule, shown
from cnncost.sizes import exact, numel_of as numel
from cnncost.spec.indexing import SAMPLE_TAPS


#: gathers that test every element of their first input (against zero, or a mask's truth)
TESTS = ("nonzero", "argwhere", "masked_select")


@rule(spec.Gather)
def gather_rule(layer: spec.Gather, shapes, who):
    """out_shape as observed; values are moved, none computed, except nonzero / masked_select's one
    test per element of the first input ('fn:ne'); which positions it reads is data: field unknown."""
    if layer.op in TESTS:
        n = numel(shapes[0])
        return Cost(tuple(layer.out_shape), ops={"fn:ne": n}, window=UNKNOWN,
                    work={layer.op: f"{exact(n)} elements tested"})
    return Cost(tuple(layer.out_shape), window=UNKNOWN, work={layer.op: "moves values, computes none"})


@rule(spec.ValueDependent)
def value_dependent_rule(layer: spec.ValueDependent, shapes, who):
    """out_shape as observed; its arithmetic is counted as 'data:OP' (one unit per call): unknown
    under a convention that counts such work, 0 under one that counts only products."""
    return Cost(tuple(layer.out_shape), ops={f"data:{layer.op}": 1}, window=UNKNOWN,
                work={layer.op: "how much it computes depends on the values"})


@rule(spec.GridSample)
def grid_sample_rule(layer: spec.GridSample, shapes, who):
    """features (*n, C, H, W), grid (*n, Ho, Wo, 2) -> (*n, C, Ho, Wo); each output reads 4
    (bilinear), 1 (nearest) or 16 (bicubic) positions, a multiply and an add each ('interp_taps',
    as F.interpolate).  The positions are data: field unknown."""
    features, grid = shapes
    if len(features) < 3 or len(grid) != len(features) or grid[-1] != 2 or tuple(features[:-3]) != tuple(grid[:-3]):
        raise CostError(f"{who}: grid_sample needs features ...xCxHxW and a grid ...xHoxWox2 with the same "
                        f"leading sizes, got {dims_text(features)} and {dims_text(grid)}")
    out = (*features[:-2], *grid[-3:-1])
    outs = shown(*out)
    taps = shown(tuple(out), SAMPLE_TAPS[layer.mode])
    return Cost(out, ops={"interp_taps": taps[0]}, window=UNKNOWN,
                work={"activations": line(outs), "interp_taps": line(taps)})


@rule(spec.Unfold)
def unfold_rule(layer: spec.Unfold, shape, who):
    """(C, H, W) -> (C*kh*kw, L), L = oh*ow windows (conv's output sizes); a copy: no arithmetic.
    The map's positions become one axis: field unknown."""
    if len(shape) != 3:
        raise CostError(f"{who}: unfold reads CxHxW, got {dims_text(shape)}")
    c, h, w = shape
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = layer.kernel_size, layer.dilation, layer.padding, layer.stride
    oh = out_size(h, kh, sh, ph, ph, dh, who, "height")
    ow = out_size(w, kw, sw, pw, pw, dw, who, "width")
    return Cost((c * kh * kw, oh * ow), window=UNKNOWN, work={"unfold": f"{exact(c * kh * kw)} values per window"})


@rule(spec.Constant)
def constant_rule(layer: spec.Constant, shape, who):
    """A tensor made without the input or parameters: no parameters, no arithmetic."""
    return Cost(tuple(layer.shape))
