"""The tensors of a training step, read off the report's rows: which storage each row's output
lives in (a view shares its input's), who reads it, whether it needs a gradient, and its number
format under each training dtype.

Training dtypes: `fp32`; `bf16` and `fp16` (model and data in that format, everything 2 bytes);
`amp-bf16` (fp32 parameters and data, `torch.autocast(bf16)`: convolutions and matrix products
run in bf16 on bf16 copies of their input and weights; batch and layer norm keep their input's
format with fp32 statistics; local response norm runs in fp32 (its avg_pool3d is on autocast's
fp32 list); adds and concatenations promote to the wider format).
"""
from __future__ import annotations

from dataclasses import dataclass

from cnncost.errors import CostError
from cnncost.sizes import is_concrete, numel_of
from cnncost.training.saved import AUTOCAST_FP32, AUTOCAST_LOW, VIEWS

BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "int64": 8, "bool": 1}
#: training dtype -> (parameter format, activation format, autocast)
DTYPES = {"fp32": ("fp32", "fp32", False), "bf16": ("bf16", "bf16", False), "fp16": ("fp16", "fp16", False),
          "amp-bf16": ("fp32", "fp32", True)}
PROMOTING = frozenset({"add", "mul", "cat", "concat"})


def has_weights(row) -> bool:
    return row.weights is not None and not (is_concrete(row.weights) and row.weights == 0)


def check_dtype(dtype: str) -> tuple:
    try:
        return DTYPES[dtype]
    except KeyError:
        raise CostError(f"unknown training dtype {dtype!r}; known: {', '.join(DTYPES)}") from None


@dataclass
class Tensors:
    """Per row i (and -1, the network input): storage root, per-sample elements, format, readers."""
    root: dict
    per_sample: dict        # row -> output elements per sample (of its own shape)
    fmt: dict               # row -> 'fp32' | 'bf16' | 'fp16'
    readers: dict           # row -> rows reading it (in order)
    needs_grad: dict        # row -> its output needs a gradient
    param_fmt: str
    amp: bool


def tensors(report, dtype: str, frozen=frozenset()) -> Tensors:
    param_fmt, act_fmt, amp = check_dtype(dtype)
    rows = report.rows
    root = {-1: -1}
    per_sample = {-1: numel_of(report.input_shape)}
    fmt = {-1: act_fmt}
    readers: dict = {-1: []}
    grad = {-1: False}
    for i, r in enumerate(rows):
        readers[i] = []
        for j in r.inputs:
            readers.setdefault(j, []).append(i)
        first = r.inputs[0] if r.inputs else -1
        root[i] = root[first] if r.kind in VIEWS and r.inputs else i
        per_sample[i] = 0 if r.kind in ("param", "const") else numel_of(r.output_shape)   # a parameter is no activation
        ins = [fmt[j] for j in r.inputs] or [act_fmt]
        if amp and r.kind in AUTOCAST_LOW:
            fmt[i] = "bf16"
        elif amp and r.kind in AUTOCAST_FP32:
            fmt[i] = "fp32"
        elif r.kind in PROMOTING and "fp32" in ins:
            fmt[i] = "fp32"
        else:
            fmt[i] = ins[0]
        trains = has_weights(r) and r.name not in frozen
        grad[i] = trains or any(grad[j] for j in r.inputs)
    return Tensors(root, per_sample, fmt, readers, grad, param_fmt, amp)
