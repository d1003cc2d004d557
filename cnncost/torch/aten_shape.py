"""ATen operators that move values without arithmetic, as spec layers: views and copies (Reshape,
Permute, or nothing at all), slices and selections, concatenation and stacking, splitting into
pieces, padding.  Handlers return (layers, inputs), `SAME` (the output is the input's node) or
None (no rule)."""
from __future__ import annotations

import torch

from cnncost import spec
from cnncost.torch.aten_call import SAME, Call

aten = torch.ops.aten

#: ops that return their input's value (views, copies, dtype casts) or a reshaped view of it
LAYOUT = {
    aten.view, aten._unsafe_view, aten.reshape, aten.alias, aten.clone, aten.contiguous, aten.detach,
    aten._to_copy, aten.lift_fresh, aten.unsqueeze, aten.squeeze, aten.flatten, aten.expand,
    aten.permute, aten.transpose, aten.t, aten.unflatten, aten.as_strided, aten.roll,
}


def _layout(c: Call):
    x = c.args[0]
    if not c.tracked(x):
        return None
    if c.shape(c.out) == c.shape(x):
        return SAME
    if c.packet in (aten.permute, aten.transpose, aten.t):
        dims = _permutation(c)
        if dims is not None:
            return spec.Permute(dims), [x]
    if c.out.numel() == x.numel():
        return spec.Reshape(c.shape(c.out)), [x]
    if c.packet is aten.expand:
        return spec.Expand(c.shape(c.out)), [x]
    return None


def _permutation(c: Call):
    x, n = c.args[0], c.args[0].dim()
    if c.packet is aten.permute:
        full = [d % n for d in c.arg(1, "dims")]
    elif c.packet is aten.transpose:
        full = list(range(n))
        a, b = c.arg(1, "dim0") % n, c.arg(2, "dim1") % n
        full[a], full[b] = full[b], full[a]
    else:
        full = list(reversed(range(n)))
    stripped = n >= 2 and x.shape[0] == 1
    if stripped:
        if full[0] != 0 or not (c.out.dim() >= 2 and c.out.shape[0] == 1):
            return None
        return tuple(d - 1 for d in full[1:])
    if c.out.dim() >= 2 and c.out.shape[0] == 1:
        return None
    return tuple(full)


def _cat(c: Call):
    tensors = [t for t in c.arg(0, "tensors") if t.numel() > 0]
    if not tensors or not any(c.tracked(t) for t in tensors):
        return None
    axis = c.axis(tensors[0], c.arg(1, "dim", 0))
    if axis is None and all(t.dim() >= 2 and t.shape[0] == 1 for t in tensors):
        return spec.Stack(0), tensors          # samples joined along the batch axis: a stack of them
    if axis is None or any(c.axis(t, c.arg(1, "dim", 0)) != axis for t in tensors):
        return None
    if len(tensors) == 1:
        return SAME if c.tracked(tensors[0]) else None
    return spec.Cat(axis), tensors


def _slice(c: Call):
    x, dim = c.args[0], c.arg(1, "dim", 0)
    start, end, step = c.arg(2, "start"), c.arg(3, "end"), c.arg(4, "step", 1)
    if not c.tracked(x):
        return None
    axis = c.axis(x, dim)
    if axis is None:
        return SAME if c.out.shape == x.shape else None
    n = x.shape[dim]
    start, stop, step = slice(start, end, step).indices(n)
    if (start, stop, step) == (0, n, 1):
        return SAME
    return spec.Slice(axis, start, stop, step), [x]


def _stack(c: Call):
    tensors = list(c.arg(0, "tensors"))
    dim = c.arg(1, "dim", 0)
    if not any(c.tracked(t) for t in tensors):
        return None
    stripped = tensors[0].dim() >= 1 and c.out.dim() >= 2 and c.out.shape[0] == 1 and dim != 0
    if not stripped and not (c.out.dim() >= 2 and c.out.shape[0] == 1):
        axis = dim % c.out.dim()
    elif stripped:
        axis = dim % c.out.dim() - 1
    else:
        return None
    return spec.Stack(axis), tensors


def _pad(c: Call):
    x = c.args[0]
    if not c.tracked(x):
        return None
    if c.packet is aten.constant_pad_nd:
        return spec.Pad(tuple(c.arg(1, "pad")), "constant", float(c.arg(2, "value", 0))), [x]
    mode = "reflect" if "reflection" in c.packet.__name__ else "replicate"
    return spec.Pad(tuple(c.arg(1, "padding")), mode), [x]


def _select(c: Call):
    """x.select(dim, i): the slice [i, i+1) then the size-1 axis dropped."""
    x, dim, i = c.args[0], c.arg(1, "dim"), c.arg(2, "index")
    if not c.tracked(x):
        return None
    axis = c.axis(x, dim)
    if axis is None:
        if c.out.numel() != x.numel():
            return None
        return SAME if c.shape(c.out) == c.shape(x) else (spec.Reshape(c.shape(c.out)), [x])
    i = i % x.shape[dim]
    return [spec.Slice(axis, i, i + 1), spec.Reshape(c.shape(c.out))], [x]


def pieces(c: Call):
    """split / split_with_sizes / unbind: one (layers, inputs) per output, or None."""
    x = c.args[0]
    if not c.tracked(x):
        return None
    dim = c.arg(2 if c.packet is not aten.unbind else 1, "dim", 0)
    axis = c.axis(x, dim)
    if axis is None:      # the batch axis of one sample: one piece, the sample itself
        return [([spec.Reshape(c.shape(c.out))], [x])] if len(c.outs) == 1 else None
    result, start = [], 0
    for out in c.outs:
        size = 1 if c.packet is aten.unbind else out.shape[dim]
        layers = [spec.Slice(axis, start, start + size)]
        if c.packet is aten.unbind or (out.dim() >= 2 and out.shape[0] == 1 and x.shape[0] != 1):
            layers.append(spec.Reshape(c.shape(out)))
        result.append((layers, [x]))
        start += size
    return result


MULTI = {aten.split: pieces, aten.split_with_sizes: pieces, aten.unbind: pieces, aten.unsafe_split: pieces,
         aten.unsafe_split_with_sizes: pieces}
