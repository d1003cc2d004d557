"""ATen operators that select by value or position, as spec layers: gathers and scatters by index
or mask (Gather), top-k and sort (TopK), max/min along an axis (Reduce), nms and unique
(ValueDependent), torchvision's roi_align (RoIAlign), grid_sample (GridSample) and im2col
(Unfold).  Handlers return (layers, inputs) or None; `SIDE` in the result binds the op's other
outputs (indices) to the same node: they have the values' shape and are made by the same work."""
from __future__ import annotations

import torch

from cnncost import spec
from cnncost.torch.aten_call import Call

aten = torch.ops.aten

#: the op's other outputs (top-k's indices) share the first output's node
SIDE = "side"


def _tracked_tensors(c: Call, values) -> list:
    return [t for t in values if isinstance(t, torch.Tensor) and (c.tracked(t) or c.reader.params_in([t]))]


def _index(c: Call):
    """x[indices] (advanced indexing, a boolean mask): the elements picked, none computed."""
    x, indices = c.args[0], [t for t in c.arg(1, "indices") if t is not None]
    inputs = _tracked_tensors(c, [x, *indices])
    if not any(c.tracked(t) for t in inputs):
        return None
    return spec.Gather("index", c.shape(c.out)), inputs


def _index_put(c: Call):
    """x[indices] = values (in place or not): x with some elements replaced, none computed."""
    x, indices, values = c.args[0], [t for t in c.arg(1, "indices") if t is not None], c.arg(2, "values")
    inputs = _tracked_tensors(c, [x, values, *indices])
    if not any(c.tracked(t) for t in inputs) or c.arg(3, "accumulate", False):
        return None
    return spec.Gather("index_put", c.shape(c.out)), inputs


def _nonzero(c: Call):
    """The positions of x's non-zero elements: one test per input element."""
    x = c.args[0]
    if not c.tracked(x):
        return None
    return spec.Gather("nonzero", c.shape(c.out)), [x]


def _gather(op: str):
    def handler(c: Call):
        x = c.args[0]
        rest = [a for a in c.args[1:] if isinstance(a, torch.Tensor)]
        inputs = _tracked_tensors(c, [x, *rest])
        if not any(c.tracked(t) for t in inputs):
            return None
        return spec.Gather(op, c.shape(c.out)), inputs
    return handler


def _topk(c: Call):
    """topk(x, k, dim) and sort(x, dim): TopK along the per-sample axis; the indices share its node."""
    x = c.args[0]
    if not c.tracked(x):
        return None
    if c.packet is aten.topk:
        k, dim = c.arg(1, "k"), c.arg(2, "dim", -1)
    else:
        dim = c.kwargs.get("dim", c.args[1] if len(c.args) > 1 and c.func._overloadname != "stable" else -1)
        k = x.shape[dim] if x.dim() else 1
    axis = c.axis(x, dim)
    if axis is None or x.dim() == 0:
        return None
    return spec.TopK(k, axis), [x], SIDE


def _max_dim(c: Call):
    """max(x, dim) / min(x, dim): the values as amax / amin, the indices share their node; max(x)
    over every element; max(a, b) elementwise."""
    x = c.args[0]
    if not c.tracked(x) or not x.dim():
        return None
    op = "amax" if c.packet is aten.max else "amin"
    if len(c.args) > 1 and isinstance(c.args[1], torch.Tensor):
        return spec.Binary("maximum" if op == "amax" else "minimum"), [x, c.args[1]]
    if c.func._overloadname == "default":
        axes = tuple(a for a in (c.axis(x, d) for d in range(x.dim())) if a is not None)
        return spec.Reduce(op, axes), [x]
    axis = c.axis(x, c.arg(1, "dim"))
    if axis is None or len(c.outs) != 2:
        return None
    return spec.Reduce(op, (axis,), bool(c.arg(2, "keepdim", False))), [x], SIDE


def _value_dependent(op: str):
    """nms(boxes, scores, iou), unique: how much they compute depends on the values."""
    def handler(c: Call):
        inputs = _tracked_tensors(c, [a for a in c.args if isinstance(a, torch.Tensor)])
        if not any(c.tracked(t) for t in inputs):
            return None
        return spec.ValueDependent(op, c.shape(c.out)), inputs, SIDE
    return handler


def _roi_align(c: Call):
    """torchvision::roi_align(features, rois (K, 5), scale, ph, pw, sampling_ratio, aligned); an
    adaptive sampling ratio (<= 0) depends on each box's size: value-dependent."""
    x, rois = c.args[0], c.args[1]
    scale, ph, pw, ratio, aligned = c.args[2:7]
    if not c.tracked(x) or x.dim() != 4 or x.shape[0] != 1:
        return None
    inputs = [x, rois] if c.tracked(rois) else [x]
    if ratio <= 0 or len(inputs) == 1:
        return spec.ValueDependent("roi_align", c.shape(c.out)), inputs
    layer = spec.RoIAlign((ph, pw), float(scale), int(ratio), bool(aligned))
    return ([layer, spec.Reshape(c.shape(c.out))] if c.out.shape[0] == 1 else layer), inputs   # one box


GRID_MODES = {0: "bilinear", 1: "nearest", 2: "bicubic"}
GRID_PADDING = {0: "zeros", 1: "border", 2: "reflection"}


def _grid_sample(c: Call):
    x, grid = c.args[0], c.args[1]
    mode, padding, align = c.arg(2, "interpolation_mode"), c.arg(3, "padding_mode"), c.arg(4, "align_corners")
    if not (c.tracked(x) or c.tracked(grid)) or mode not in GRID_MODES or padding not in GRID_PADDING:
        return None
    return spec.GridSample(GRID_MODES[mode], GRID_PADDING[padding], bool(align)), [x, grid]


def _im2col(c: Call):
    x = c.args[0]
    if not c.tracked(x) or len(c.shape(x)) != 3:
        return None
    return spec.Unfold(*(tuple(c.arg(i, n)) for i, n in enumerate(("kernel_size", "dilation", "padding", "stride"),
                                                                   start=1))), [x]


HANDLERS = {
    aten.index: _index, aten.index_put: _index_put, aten.index_put_: _index_put, aten._index_put_impl_: _index_put,
    aten.nonzero: _nonzero, aten.argwhere: _nonzero, aten.masked_select: _gather("masked_select"),
    aten.gather: _gather("gather"), aten.index_select: _gather("index_select"),
    aten.topk: _topk, aten.sort: _topk, aten.max: _max_dim, aten.min: _max_dim,
    aten._unique2: _value_dependent("unique"), aten.unique_dim: _value_dependent("unique"),
    aten.unique_consecutive: _value_dependent("unique"),
    aten.grid_sampler_2d: _grid_sample, aten.im2col: _im2col,
}

#: torchvision's operators, by schema name (torch.ops.torchvision exists once torchvision is imported)
BY_NAME = {"torchvision::roi_align": _roi_align, "torchvision::nms": _value_dependent("nms")}
