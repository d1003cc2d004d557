"""Range-test picks and cyclical schedules of the training-dynamics studies (no torch).

Pick rules (stated, applied to the final training loss L(x) over ascending x, non-finite = +inf):
  L0 = L(first x), or the largest finite loss when the first x diverged; Lmin = min L; drop = L0 - Lmin
  (no drop: both picks are the first x with a finite loss; no finite loss at all: `Diverged`).
  lr_min = first rate with L <= L0 - 0.1 drop (the loss has begun to fall);
  lr_max = last rate of the run of rates from argmin onward with L <= Lmin + 0.1 drop (still at the floor).
  b_min  = first batch with L <= L0 - 0.1 drop;  b_max = first batch with L <= Lmin + 0.1 drop (larger
  batches buy under 10% of the drop).
Schedules: Smith 2017 (WACV, arXiv:1506.01186) triangular exp_range,
  lr(i) = lr_min + (lr_max - lr_min) max(0, 1 - |i/s - 2c + 1|) gamma^i,  c = floor(1 + i/(2s));
cyclical batch size mirrors it in noise scale lr/B (Smith et al. 2018, arXiv:1711.00489):
  1/B(i) = 1/b_max + (1/b_min - 1/b_max) max(0, 1 - |i/s - 2c + 1|) gamma^i  (B grows as lr would decay).
"""
from __future__ import annotations

import math

from cnncost.errors import CostError


def _band(losses):
    """(L with non-finite as +inf, L0, Lmin, drop, index of the first finite loss)."""
    L = [v if v is not None and math.isfinite(v) else math.inf for v in losses]
    if not L:
        raise CostError("no losses to pick from")
    finite = [v for v in L if math.isfinite(v)]
    if not finite:
        from cnncost_train.engine.loop import Diverged
        raise Diverged(f"every run diverged (all {len(L)} final losses are NaN or infinite): nothing to pick")
    l0 = L[0] if math.isfinite(L[0]) else max(finite)
    lo = min(finite)
    return L, l0, lo, l0 - lo, next(i for i, v in enumerate(L) if math.isfinite(v))


def pick_lr(rates, losses, frac: float = 0.1) -> tuple[float, float]:
    L, l0, lo, drop, first = _band(losses)
    if not drop > 0:
        return rates[first], rates[first]
    i_min = next(i for i, v in enumerate(L) if v <= l0 - frac * drop)
    j = L.index(lo)
    while j + 1 < len(L) and L[j + 1] <= lo + frac * drop:
        j += 1
    return rates[i_min], rates[j]


def pick_batch(batches, losses, frac: float = 0.1) -> tuple[int, int]:
    L, l0, lo, drop, first = _band(losses)
    if not drop > 0:
        return batches[first], batches[first]
    b_min = next(b for b, v in zip(batches, L) if v <= l0 - frac * drop)
    b_max = next(b for b, v in zip(batches, L) if v <= lo + frac * drop)
    return b_min, b_max


def triangle(i: int, step_size: int) -> float:
    c = math.floor(1 + i / (2 * step_size))
    return max(0.0, 1 - abs(i / step_size - 2 * c + 1))


def clr(i, lr_min, lr_max, step_size, gamma):
    return lr_min + (lr_max - lr_min) * triangle(i, step_size) * gamma ** i


def cbs(i, b_min, b_max, step_size, gamma) -> int:
    inv = 1 / b_max + (1 / b_min - 1 / b_max) * triangle(i, step_size) * gamma ** i
    return max(1, round(1 / inv))


def log_rates(lo: float, hi: float, n: int) -> list[float]:
    import numpy as np
    return [float(v) for v in np.logspace(math.log10(lo), math.log10(hi), n)]
