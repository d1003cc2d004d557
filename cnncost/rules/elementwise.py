"""Elementwise operations: activations, other functions of one tensor, binary operations with
broadcasting, constant scaling, dropout, softmax.  The convention weighs each per element
(docs/conventions.md: our per-element counts; torch's counter and fvcore count none of them)."""
from __future__ import annotations

from cnncost import spec
from cnncost.rules.core import Cost, axis_index, broadcast, rule, spatial_whole
from cnncost.sizes import exact, numel_of as numel


@rule(spec.Activation)
def activation(layer: spec.Activation, shape, who):
    return Cost(shape, ops={f"act:{layer.fn}": numel(shape)})


@rule(spec.Unary)
def unary(layer: spec.Unary, shape, who):
    """One `fn` per element (counted under category 'fn:NAME')."""
    n = numel(shape)
    return Cost(shape, ops={f"fn:{layer.fn}": n}, work={layer.fn: f"{exact(n)} elements"})


@rule(spec.Dropout)
def dropout(layer, shape, who):
    """Identity at inference (inverted dropout scales during training)."""
    return Cost(shape)


@rule(spec.Scale)
def scale(layer, shape, who):
    return Cost(shape, ops={"scale": numel(shape)})


@rule(spec.Softmax)
def softmax(layer: spec.Softmax, shape, who):
    """exp, add into the sum, divide (log_softmax: exp, add, log of the sum, subtract) per element;
    along a spatial axis every output reads the whole axis."""
    axis = axis_index(layer.axis, len(shape), who)
    fn = "log_softmax" if layer.log else "softmax"
    return Cost(shape, ops={f"act:{fn}": numel(shape)}, window=spatial_whole(shape, {axis}))


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


@rule(spec.Binary)
def binary(layer: spec.Binary, shapes, who):
    """out = broadcast(a, b); one `op` per output element (category 'fn:OP'; add and mul as Add, Mul)."""
    out = broadcast(shapes, who)
    n = numel(out)
    category = layer.op if layer.op in ("add", "mul") else f"fn:{layer.op}"
    return Cost(out, ops={category: n}, work={layer.op: f"{exact(n)} elements"})


@rule(spec.Ternary)
def ternary_rule(layer: spec.Ternary, shapes, who):
    """a + value*b*c (addcmul) or a + value*b/c (addcdiv): 2 per output element ('fn:OP'), + 1
    ('scale') when value is not 1."""
    out = broadcast(shapes, who)
    n = numel(out)
    ops = {f"fn:{layer.op}": n, **({"scale": n} if layer.value != 1 else {})}
    return Cost(out, ops=ops, work={layer.op: f"{exact(n)} elements"})


@rule(spec.Where)
def where_rule(layer, shapes, who):
    """torch.where(condition, a, b): out = broadcast of the three; one select per output element."""
    out = broadcast(shapes, who)
    n = numel(out)
    return Cost(out, ops={"fn:where": n}, work={"where": f"{exact(n)} elements"})
