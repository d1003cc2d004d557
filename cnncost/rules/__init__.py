"""Per-layer cost rules: one small function per layer kind, registered by spec type, grouped by
family (conv, pool, norm, linear_algebra, attention, recurrent, elementwise, shape, detection).

A rule maps (layer, input shape per sample, display name) to a `Cost` for one sample: the output
shape, weights and biases apart, multiply-accumulates, the non-MAC work counted by category (the
convention in `cnncost.conventions` gives each category its FLOPs), how the layer maps the
receptive field (`Window`; `UNKNOWN` when it is not known), and the arithmetic it did as text
(`--show-work`).  Shapes are per sample (see `cnncost.spec`); sizes are ints or sympy expressions
(`cnncost.sizes`).  A rule of a kind that takes several inputs reads the tuple of their shapes.
"""
from __future__ import annotations

from cnncost import spec
from cnncost.errors import CostError
from cnncost.rules.core import (RULES, UNKNOWN, Cost, Window, broadcast, line, out_size, rule, shown,  # noqa: F401
                                whole)
from cnncost.rules import (attention, conv, detection, elementwise, indexing, linear_algebra, norm, pool,  # noqa: F401
                           recurrent, shape)


#: (layer, input shape) -> Cost: a reader computes each layer's cost for its shapes and the walk
#: computes it again; rules are pure functions of the two (the row name is only in errors)
_MEMO: dict = {}


def cost(layer, shape, who: str) -> Cost:
    try:
        key = (layer, shape)
        known = _MEMO.get(key)
    except TypeError:                   # an unhashable field: compute every time
        key = known = None
    if known is not None:
        return known
    try:
        fn = RULES[type(layer)]
    except KeyError:
        raise CostError(f"{who}: no cost rule for {type(layer).__name__}") from None
    if spec.takes_many(layer):
        lo, hi = spec.arity(layer)
        if len(shape) < lo or (hi is not None and len(shape) > hi):
            raise CostError(f"{who}: {type(layer).__name__} takes {lo}{'' if hi == lo else ' or more' if hi is None else f' to {hi}'} "
                            f"inputs, got {len(shape)}")
    result = fn(layer, shape, who)
    if key is not None:
        if len(_MEMO) >= 65536:
            _MEMO.clear()
        _MEMO[key] = result
    return result


_DIMS = {1: "1d", 2: "", 3: "3d"}


#: type -> kind, for the kinds that depend on the type alone (filled as they are met)
_KIND_OF_TYPE: dict = {}


def kind(layer) -> str:
    """The short kind name shown in tables and used for automatic layer names."""
    t = type(layer)
    known = _KIND_OF_TYPE.get(t)
    if known is not None:
        return known
    if isinstance(layer, spec.PoolNd):
        return f"{layer.mode}pool{_DIMS[layer.dims]}"
    if isinstance(layer, spec.AdaptivePoolNd):
        return f"adaptive_{layer.mode}pool{_DIMS[layer.dims]}"
    if isinstance(layer, spec.ConvNd):
        return f"conv{_DIMS[layer.dims]}"
    if isinstance(layer, spec.ConvTransposeNd):
        return f"convtranspose{layer.dims}d"
    if isinstance(layer, (spec.Activation, spec.Unary)):
        return layer.fn
    if isinstance(layer, (spec.Binary, spec.Reduce, spec.Ternary, spec.Gather, spec.ValueDependent)):
        return layer.op
    if isinstance(layer, spec.Recurrent):
        return layer.mode
    if isinstance(layer, spec.Softmax):
        return "log_softmax" if layer.log else "softmax"
    _KIND_OF_TYPE[t] = {spec.Linear: "fc", spec.BatchNorm: "bn", spec.LRN: "lrn", spec.Dropout: "dropout",
            spec.Flatten: "flatten", spec.Scale: "scale", spec.ShortcutPad: "shortcut", spec.Add: "add",
            spec.Mul: "mul", spec.Cat: "cat", spec.Param: "param", spec.Reshape: "reshape",
            spec.Permute: "permute", spec.Slice: "slice", spec.Mean: "mean", spec.LayerNorm: "layernorm",
            spec.InstanceNorm: "instancenorm", spec.GroupNorm: "groupnorm", spec.Upsample: "upsample",
            spec.MatMul: "matmul", spec.AddMatMul: "addmm", spec.Einsum: "einsum",
            spec.ScaledDotProductAttention: "sdpa", spec.MultiheadAttention: "mha",
            spec.WindowAttention: "window_attn", spec.PatchMerge: "patch_merge",
            spec.Embedding: "embedding", spec.Stack: "stack", spec.Pad: "pad", spec.Select: "select",
            spec.Expand: "expand", spec.Repeat: "repeat", spec.Roll: "roll", spec.Where: "where",
            spec.TopK: "topk", spec.PixelShuffle: "pixel_shuffle", spec.RoIAlign: "roi_align",
            spec.GridSample: "grid_sample", spec.Unfold: "unfold", spec.Constant: "const",
            spec.View: "reshape"}.get(t, t.__name__.lower())
    return _KIND_OF_TYPE[t]
