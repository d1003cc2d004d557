"""Normalisation: batch (inference: one multiply-add per element), instance, group and layer norm
(statistics of the sample itself), local response normalisation."""
from __future__ import annotations

from cnncost import spec
from cnncost.errors import CostError
from cnncost.rules.core import Cost, line, rule, shown, spatial_whole
from cnncost.sizes import equal, is_concrete, numel_of as numel


def _affine_work(c):
    return {"weights": f"{c} (gamma)", "biases": f"{c} (beta)"}


@rule(spec.BatchNorm)
def batchnorm(layer: spec.BatchNorm, shape, who):
    """gamma (weight) and beta (bias) per channel; inference folds to one multiply-add per element."""
    c = shape[0]
    n = numel(shape)
    weights, biases = (c, c) if layer.affine else (0, 0)
    return Cost(shape, weights, biases, ops={"bn_affine" if layer.affine else "bn_plain": n},
                work=_affine_work(c) if layer.affine else {})


def _spatial(shape, who, kind):
    if len(shape) < 2:
        raise CostError(f"{who}: {kind} needs a channels-first input with at least one spatial axis, "
                        f"got a flat input of {shape[0]} features")
    return shape


@rule(spec.InstanceNorm)
def instancenorm(layer: spec.InstanceNorm, shape, who):
    """Each channel of a sample normalised by its own mean and variance over the spatial axes (in
    eval with track_running_stats, the running ones): as layer norm per element; the output at a
    pixel depends on the whole map."""
    c = _spatial(shape, who, "InstanceNorm")[0]
    n = numel(shape)
    weights, biases = (c, c) if layer.affine else (0, 0)
    return Cost(shape, weights, biases, ops={"in_affine" if layer.affine else "in_plain": n},
                window=spatial_whole(shape, set(range(1, len(shape)))),
                work=_affine_work(c) if layer.affine else {})


@rule(spec.GroupNorm)
def groupnorm(layer: spec.GroupNorm, shape, who):
    """Channels in num_groups groups, each normalised over its channels and all positions;
    gamma and beta per channel if affine (Wu & He 2018, eq. 1-3)."""
    c = _spatial(shape, who, "GroupNorm")[0] if len(shape) >= 2 else shape[0]
    if is_concrete(c) and c % layer.num_groups:
        raise CostError(f"{who}: {c} channels are not divisible into {layer.num_groups} groups")
    n = numel(shape)
    weights, biases = (c, c) if layer.affine else (0, 0)
    return Cost(shape, weights, biases, ops={"gn_affine" if layer.affine else "gn_plain": n},
                window=spatial_whole(shape, set(range(1, len(shape)))),
                work=_affine_work(c) if layer.affine else {})


@rule(spec.LayerNorm)
def layernorm(layer: spec.LayerNorm, shape, who):
    """Normalise over the last len(shape) dimensions; weight and bias of prod(shape) each if affine.
    Over the spatial axes of a map, each output depends on the whole map."""
    k = len(layer.shape)
    if len(shape) < k or not all(equal(a, b) for a, b in zip(shape[-k:], layer.shape)):
        raise CostError(f"{who}: LayerNorm over {'x'.join(map(str, layer.shape))} does not match the input's "
                        f"last sizes ({'x'.join(map(str, shape))})")
    m = numel(layer.shape)
    weights = m if layer.affine else 0
    biases = m if layer.affine and layer.bias else 0
    n = numel(shape)
    window = spatial_whole(shape, set(range(len(shape) - k, len(shape)))) if k >= 2 else None
    return Cost(tuple(shape), weights, biases, ops={"ln_affine" if layer.affine else "ln_plain": n},
                window=window, work={"weights": f"{m} (gamma)", "biases": f"{biases} (beta)"} if layer.affine else {})


@rule(spec.LRN)
def lrn(layer: spec.LRN, shape, who):
    """b = a / (k + alpha/n * sum of n squares)^beta: n squares, n-1 adds, then 4 ops -> 2n+3 per element."""
    per = 2 * layer.size + 3
    ops = shown(*shape, per)
    return Cost(shape, ops={"lrn": ops[0]}, work={"lrn": line(ops)})
