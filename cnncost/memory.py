"""Memory in bytes for a dtype, from the counts (formulas in docs/conventions.md).

- parameters: params * bytes
- inference activations: all layer outputs for the batch * bytes (what a graph that keeps every
  output holds), and the peak of one layer's input + output (what layer-by-layer execution needs)
- training: parameters + gradients (= parameters) + optimiser state (SGD: 0, SGD-momentum: 1x
  parameters, Adam: 2x parameters) + what backward keeps: the input and every layer output.
  Frameworks differ (in-place ReLU, recomputation), so this is an estimate of the usual case.
"""
from __future__ import annotations

from cnncost.errors import CostError
from cnncost.sizes import numel_of, smax

DTYPE_BYTES = {"fp64": 8, "fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "int8": 1}
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adam": 2}


def dtype_bytes(dtype: str) -> int:
    try:
        return DTYPE_BYTES[dtype]
    except KeyError:
        raise CostError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPE_BYTES)}") from None


def memory(rows, input_shape, batch, params, dtype: str) -> dict:
    b = dtype_bytes(dtype)
    inp = numel_of(input_shape) * batch
    outputs = sum((r.elements for r in rows), 0)
    peak = smax(*[numel_of(r.input_shape) * batch + r.elements for r in rows]) if rows else 0
    weights = params * b
    saved = (inp + outputs) * b
    result = {
        "dtype": dtype,
        "bytes_per_element": b,
        "parameters": weights,
        "input": inp * b,
        "activations_all": outputs * b,
        "inference_peak": peak * b,
    }
    for opt, copies in OPTIMIZER_STATE.items():
        result[f"training_{opt}"] = weights * (2 + copies) + saved
    return result
