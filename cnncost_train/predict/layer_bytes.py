"""Bytes a layer moves through memory, counted from the calculator's row (each tensor once).

    bytes = e x (input elements + output elements + parameters)    e: bytes per element of the dtype
An add reads two tensors of its output's shape; a concatenation reads exactly what it writes.
The training pass (forward + backward) moves about 3 x the forward bytes (`step_time`).
"""
from __future__ import annotations

import math

FORMULA = ("bytes = element size x (input elements + output elements + parameters), per layer; "
           "fwd+bwd: 3 x bytes")


def layer_bytes(in_elems: int, out_elems: int, params: int, elem: int) -> int:
    return elem * (in_elems + out_elems + params)


def row_elements(row, batch: int) -> tuple[int, int]:
    """(input, output) elements a row reads and writes for the batch."""
    out = batch * math.prod(row.output_shape)
    if row.kind in ("add", "mul"):
        return 2 * out, out
    if row.kind == "concat":
        return out, out
    s = row.input_shape
    n = sum(math.prod(t) for t in s) if s and isinstance(s[0], tuple) else math.prod(s)
    return batch * n, out


def row_bytes(row, batch: int, elem: int) -> int:
    return layer_bytes(*row_elements(row, batch), int(row.params or 0), elem)
