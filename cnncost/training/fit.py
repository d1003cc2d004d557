"""The largest batch whose predicted training-step peak fits a memory size.

The step's peak is the largest of phases that are each linear in the batch B:
peak(B) = max_i (c_i + s_i * B) (`cnncost.training.peak`), so the answer is
B = min over phases with s_i > 0 of floor((M - c_i) / s_i), and none fits if a constant phase
alone exceeds M.  Memory sizes: '80GiB', '80 GiB', '80GB' (GB = 10^9 bytes, GiB = 2^30), '512MiB',
'1.5TiB', or a plain number of bytes.
"""
from __future__ import annotations

import re
from fractions import Fraction

from cnncost.errors import CostError

UNITS = {"": 1, "b": 1, "kb": 10 ** 3, "mb": 10 ** 6, "gb": 10 ** 9, "tb": 10 ** 12,
         "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40, "k": 2 ** 10, "m": 2 ** 20,
         "g": 2 ** 30, "t": 2 ** 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_memory(text: str) -> int:
    """'80GiB' -> 85899345920 bytes; a size that does not parse is a CostError."""
    m = _SIZE.match(str(text))
    unit = m.group(2).lower() if m else None
    if not m or unit not in UNITS:
        raise CostError(f"--memory {text!r} is not a memory size; write e.g. 80GiB, 80 GiB, 80GB or 512MiB")
    n = int(Fraction(m.group(1)) * UNITS[unit])
    if n < 1:
        raise CostError(f"--memory {text!r} must be more than 0 bytes")
    return n


def largest_batch(peaks, memory: int) -> int:
    """The largest B >= 1 with every phase c + s*B <= memory; 0 when even B = 1 does not fit."""
    best = None
    for c, s, _ in peaks:
        if s == 0:
            if c > memory:
                return 0
            continue
        b = (memory - c) // s
        best = b if best is None else min(best, b)
    if best is None:
        raise CostError("the step's memory does not grow with the batch; every batch fits")
    return max(0, int(best))


def fit(report, memory: int, *, optimizer: str = "adam", dtype: str = "fp32", device: str = "cpu") -> dict:
    """{'batch', 'peak' at that batch, 'next_peak' at batch + 1, 'phase', 'memory'} for a report
    analysed at a numeric batch (the phases do not depend on it)."""
    from cnncost.training.peak import peak_at
    from cnncost.training.step import training
    result = training(report, optimizer=optimizer, dtype=dtype, device=device).training
    peaks = result.get("peak_candidates")
    if peaks is None:
        raise CostError(f"cannot fit {report.model}: no memory rule for {', '.join(result['unknown']) or 'unknown ops'}")
    b = largest_batch(peaks, memory)
    if b < 1:
        need, _ = peak_at(peaks, 1)
        raise CostError(f"{report.model} does not fit in {memory:,} bytes even at batch 1 "
                        f"(its {optimizer} step needs {need:,} bytes)")
    peak, phase = peak_at(peaks, b)
    return {"batch": b, "peak": peak, "phase": phase, "next_peak": peak_at(peaks, b + 1)[0], "memory": memory,
            "optimizer": optimizer, "dtype": dtype, "device": device}
