"""A layer's and a model's time predicted from the calculator's counts and two device constants.

    t(layer) = max(F / P, B / W)     F: FLOPs of the pass, B: bytes it moves (profile's count)
    t(model) = sum over the layers   (one after another, nothing fused, no launch overhead)

P is the measured dense matrix-product rate of the dtype and W the copy rate of a buffer far larger
than the last-level cache (the DRAM roof): the two constants, measured once per device by
`roofline.matmul_rate` and `roofline.copy_bandwidth`.  This is the roofline time with the DRAM roof
(Williams, Waterman & Patterson 2009): an estimate, not a bound (a layer whose tensors sit in cache
can beat it; `roofline.bandwidth_at` gives the cache-aware roof for the bound).

A training pass (forward + backward): F = forward + backward FLOPs of the row (`pass_flops`), and
B = 3 x the forward bytes (the backward reads the saved input, the output gradient and the weights
and writes the input and weight gradients: about two forward-sized passes).

Spearman's rank correlation (Spearman 1904): Pearson's correlation of the ranks, ties given the
mean of the ranks they span; it says whether the predicted order of the layers is the measured one.
"""
from __future__ import annotations

import math

BACKWARD_BYTES_FACTOR = 3


def predict_seconds(flops: float, nbytes: float, peak_flops: float, bandwidth: float) -> float:
    """max(F / P, B / W)."""
    return max(flops / peak_flops, nbytes / bandwidth)


def pass_flops(forward: int, backward: int | None) -> tuple[int, str]:
    """(forward + backward FLOPs, source): the calculator's backward count when it has one, else 2 x forward
    (Kaplan et al. 2020, s2.1: the backward costs about twice the forward)."""
    if backward is None:
        return 3 * forward, "3 x forward"
    return forward + backward, "forward + backward"


def ranks(values) -> list[float]:
    """1-based ranks, ties given the mean of the ranks they span."""
    values = list(values)
    order = sorted(range(len(values)), key=lambda i: values[i])
    r = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(xs, ys) -> float | None:
    """Pearson correlation of the ranks; None for fewer than 3 pairs or a side without spread."""
    xs, ys = list(xs), list(ys)
    if len(xs) != len(ys) or len(xs) < 3:
        return None
    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = math.fsum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = math.fsum((a - mx) ** 2 for a in rx)
    syy = math.fsum((b - my) ** 2 for b in ry)
    return None if sxx == 0 or syy == 0 else sxy / math.sqrt(sxx * syy)


def _calculator():
    """cnncost.training's step counter (`training(report)` fills row.train), or None without it."""
    try:
        from cnncost.training.step import training
    except ImportError:
        return None
    return training


def backward_flops(report) -> list:
    """Per row of an analyze() report, the calculator's backward FLOPs (grad-input + grad-weight; none for
    the input of a first layer whose input needs no gradient), or None where it has no count."""
    training = _calculator()
    if training is None:
        return [None] * len(report.rows)
    try:
        rows = training(report, optimizer="sgd").rows
    except Exception:       # a calculator that cannot count this model: every row falls back to 3 x forward
        return [None] * len(report.rows)
    values = [(getattr(r, "train", None) or {}).get("backward_flops") for r in rows]
    return [None if v is None else int(v) for v in values]


def training_flops_source() -> str:
    return ("forward + backward (cnncost.training; 3 x forward where it has no count)" if _calculator()
            else "3 x forward (Kaplan et al. 2020)")
