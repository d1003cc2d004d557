"""What autograd keeps for backward, per layer kind, as PyTorch really saves it.

Each rule lists a row's saved tensors as references: `IN` (input k, whose storage the producer
made), `OUT` (its own output), `new(elements, dtype)` (a tensor only this op holds), and under
autocast `cast(k)` (a bf16 copy of input k unless it is already bf16) and `wcast` (a bf16 copy of
the weights).  A storage referenced by several ops (a ReLU's output that the next convolution
also saves) or changed in place is counted once, at the first op that saves it.  Found by
measuring each op under `torch.autograd.graph.saved_tensors_hooks` (cnncost.torch.instruments)
and read against the backward formulas in PyTorch's tools/autograd/derivatives.yaml:

| kind | saves | why (backward formula) |
|---|---|---|
| conv, fc | input; weight (a parameter, not counted) | grad_w = conv(x, g); grad_x = conv_T(g, w) |
| bn | input; batch mean and inverse std (C each) | native_batch_norm_backward(g, x, ..., save_mean, save_invstd) |
| layernorm | input; mean and rstd (one per normalised vector) | native_layer_norm_backward |
| relu, sigmoid, tanh, softmax | output | threshold_backward(g, result); g*y*(1-y); ... |
| relu6, leaky_relu, elu, gelu, silu, hardswish, hardsigmoid | input | their backward reads self |
| max pool (and adaptive max) | input; int64 argmax indices (output size) | max_pool2d_with_indices_backward(g, self, ..., indices) |
| avg pool, adaptive avg pool (not to 1x1) | input | avg_pool2d_backward(g, self, ...) |
| adaptive avg pool to 1x1, mean | nothing | the backward is a broadcast of g / (H*W) (mean) |
| dropout | the scaled mask, input dtype (CPU: input * bernoulli mask) | grad = g * mask |
| lrn (F.local_response_norm) | input; the padded squares (C+n-1 channels); the denominator base and power | its composite ops: avg_pool3d, pow, div |
| mul | both inputs | d(ab) = b da + a db |
| add, cat, concat, flatten, reshape, permute, slice, scale, shortcut, identity | nothing | shapes only |

CUDA differs in one place: native dropout saves a bool mask (1 byte per element).
"""
from __future__ import annotations

from dataclasses import dataclass

from cnncost.sizes import floordiv, numel_of

IN, OUT, WCAST = "in", "out", "wcast"


@dataclass(frozen=True)
class New:
    """A tensor only this op holds: `elements` per sample (per model for 'stat') of `dtype`
    ('stat': fp32 under autocast, else the activations' format; 'per-sample-stat' likewise;
    'int64'; 'mask': the input's format on CPU, bool on CUDA; 'lrn': the op's format)."""
    elements: object
    dtype: str


@dataclass(frozen=True)
class Cast:
    """Under autocast: a bf16 copy of input `k` (no copy when it is already bf16)."""
    k: int = 0


def _in0(row):
    return [(IN, 0)]


def _conv(row):
    return [Cast(0), WCAST]


def _bn(row):
    c = row.input_shape[0]
    return [(IN, 0), New(2 * c, "stat")]


def _layernorm(row):
    norm = numel_of(row.layer.shape) if row.layer is not None else row.input_shape[-1]
    return [(IN, 0), New(2 * floordiv(numel_of(row.output_shape), norm), "per-sample-stat")]


def _out(row):
    return [OUT]


def _maxpool(row):
    return [(IN, 0), New(numel_of(row.output_shape), "int64")]


def _adaptive_avg(row):
    return [] if all(s == 1 for s in row.output_shape[1:]) else [(IN, 0)]


def _dropout(row):
    return [New(numel_of(row.output_shape), "mask")]


def _lrn(row):
    c, h, w = row.input_shape
    size = row.layer.size if row.layer is not None else 5
    return [(IN, 0), New((c + size - 1) * h * w, "lrn"), New(2 * c * h * w, "lrn")]


def _mul(row):
    """a * b saves both (each is the other's gradient factor); x * c with c a constant (one input,
    a `Unary('mul')` row) saves only c, whose storage is the model's, not the forward's."""
    return [(IN, 0), (IN, 1)] if len(row.inputs) == 2 else []


def _nothing(row):
    return []


SAVES = {
    "conv": _conv, "fc": _conv, "bn": _bn, "layernorm": _layernorm,
    "relu": _out, "sigmoid": _out, "tanh": _out, "softmax": _out,
    "relu6": _in0, "leaky_relu": _in0, "elu": _in0, "gelu": _in0, "silu": _in0,
    "hardswish": _in0, "hardsigmoid": _in0, "identity": _nothing,
    "maxpool": _maxpool, "adaptive_maxpool": _maxpool, "avgpool": _in0, "adaptive_avgpool": _adaptive_avg,
    "mean": _nothing, "dropout": _dropout, "lrn": _lrn, "mul": _mul,
    "add": _nothing, "cat": _nothing, "concat": _nothing, "flatten": _nothing, "reshape": _nothing,
    "permute": _nothing, "slice": _nothing, "scale": _nothing, "shortcut": _nothing, "param": _nothing,
    "const": _nothing,
}

#: kinds whose output is a view of (shares the storage of) their input
VIEWS = frozenset({"flatten", "reshape", "permute", "slice", "identity"})
#: kinds that autocast (CPU, bf16) runs in bf16, and those it runs in fp32
AUTOCAST_LOW = frozenset({"conv", "fc"})
AUTOCAST_FP32 = frozenset({"lrn"})


def saves(row):
    """The row's saved-tensor references, or None when no rule knows its kind."""
    fn = SAVES.get(row.kind)
    if fn is None or not row.known:
        return None
    return fn(row)


def _pair(elements_per_sample, nbytes, per_batch=True):
    return (0, elements_per_sample * nbytes) if per_batch else (elements_per_sample * nbytes, 0)


def storages(report, t, device: str = "cpu", frozen=frozenset()):
    """Saved storages of one forward: (per-row bytes as (constant, per-sample) pairs, None where no
    rule knows the kind; storage key -> {'size': pair, 'savers': [rows]}).  A storage is charged
    to the first row that saves it."""
    from cnncost.training.tensors import BYTES
    rows = report.rows
    keys: dict = {}
    per_row = []
    stat = "fp32" if t.amp else t.fmt[-1]
    for i, r in enumerate(rows):
        items = saves(r)
        if items is None:
            per_row.append(None)
            continue
        if not t.needs_grad[i]:
            per_row.append((0, 0))
            continue
        mine = [0, 0]
        if r.kind == "fc":  # addmm saves mat1 only for the weight's gradient, mat2 only for the input's
            items = [x for x in items if (x != WCAST or any(t.needs_grad[j] for j in r.inputs))
                     and (not isinstance(x, Cast) or r.name not in frozen)]
        for n, item in enumerate(items):
            if isinstance(item, Cast) or (isinstance(item, tuple) and item[0] == IN):
                k = r.inputs[item.k if isinstance(item, Cast) else item[1]]
                if isinstance(item, Cast) and t.amp and t.fmt[k] != "bf16":
                    key, size = ("cast", i, k), _pair(t.per_sample[k], 2)
                elif k >= 0 and rows[t.root[k]].kind in ("param", "const"):
                    continue                   # a parameter's own storage is not counted
                else:
                    base = t.root[k]
                    key, size = ("t", base), _pair(t.per_sample[base], BYTES[t.fmt[base]])
            elif item == OUT:
                base = t.root[i]
                key, size = ("t", base), _pair(t.per_sample[base], BYTES[t.fmt[base]])
            elif item == WCAST:
                if not t.amp:
                    continue
                key, size = ("w", i), (r.weights * 2, 0)
            else:
                fmt = {"stat": stat, "per-sample-stat": stat, "int64": "int64", "lrn": t.fmt[i],
                       "mask": "bool" if device == "cuda" else t.fmt[i]}[item.dtype]
                key, size = ("new", i, n), _pair(item.elements, BYTES[fmt], item.dtype != "stat")
            entry = keys.get(key)
            if entry is None:
                keys[key] = {"size": size, "savers": [i]}
                mine[0] += size[0]
                mine[1] += size[1]
            elif entry["savers"][-1] != i:
                entry["savers"].append(i)
        per_row.append(tuple(mine))
    return per_row, keys
